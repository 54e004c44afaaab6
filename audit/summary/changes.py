"""A flagged change of a key figure against the baseline run (what the ``drift`` stage keeps)."""

from __future__ import annotations

from typing import Literal

from audit.summary.schema import Interval, _Model


class Change(_Model):
    """A flagged change of one key figure against the baseline run (``changes`` in
    ``summary.json``): its test is significant *and* its size exceeds ``report.min_change``.

    ``figure`` is the key :mod:`audit.comparison` names it by (``"accuracy"``,
    ``"gradcam.background_fixation_per_sample"``), ``method`` its CAM method (None for a figure
    of the whole run), ``before`` / ``after`` the baseline's value and this run's, ``n_before``
    / ``n_after`` the samples behind them, ``difference`` the change ``after - before`` (for a
    paired bootstrap, the mean per-sample difference its interval is of) and ``ci`` the 95%
    interval of the difference (None for McNemar's exact test, which gives ``p_value``
    instead). ``significant`` is true for every listed change (the test's answer, kept so an
    entry reads on its own); ``assessment`` says which way it went.
    """

    figure: str
    label: str = ""
    method: str | None = None
    assessment: Literal["regression", "improvement"]
    unit: Literal["pct", "num"] = "pct"
    before: float | None = None
    after: float | None = None
    difference: float
    ci: Interval | None = None
    p_value: float | None = None
    test: str | None = None
    significant: bool = True
    n_before: int = 0
    n_after: int = 0
