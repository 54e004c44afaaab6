"""The outcome of the release gates (what the ``gate`` stage produces)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from audit.errors import ExitCode
from audit.summary.schema import _Model

#: What a gate found: the figure met its threshold (``pass``) or not (``fail``), the figure
#: rests on fewer than ``metrics.min_n`` samples (``not_enough_samples``: passes or fails as
#: ``gates.on_too_few`` says), or it is undefined on the dataset (``undefined``: passes).
GateOutcome = Literal["pass", "fail", "not_enough_samples", "undefined", "no_baseline"]

#: What a run's gates add up to: every gate passed, one failed, or no gate was configured
#: (``no_verdict``: nothing was judged, so the run neither passes nor fails; exit code 0).
VerdictStatus = Literal["passed", "failed", "no_verdict"]


class Gate(_Model):
    """One release gate's outcome. ``outcome`` and ``n`` (the samples behind the figure) are
    None in files written before they were recorded."""

    value: float | None = None
    threshold: float | None = None
    passed: bool = False
    reason: str = ""
    outcome: GateOutcome | None = None
    n: int | None = None
    #: Per-slice gates under ``report.fdr``: the one-sided p-value that the figure truly lies
    #: beyond the threshold, and its Benjamini-Hochberg adjusted value across the slices'
    #: gates (None elsewhere).
    p_value: float | None = None
    p_adjusted: float | None = None


class Verdict(_Model):
    """The gates of a run and what they add up to (the output of the ``gate`` stage).

    ``exit_code`` is the command line's: 0 every gate passed (or none was configured), 1 a
    gate on a figure failed, 2 a gate on the input failed (more samples skipped than allowed:
    the figures describe only part of the dataset). ``passed`` is None and ``status``
    ``no_verdict`` when no gate was configured: nothing was judged.
    """

    gates: dict[str, Gate] = {}
    passed: bool | None = True
    status: VerdictStatus = "passed"
    exit_code: ExitCode = Field(default=ExitCode.PASSED, exclude=True)
