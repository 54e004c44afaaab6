"""Drift between scheduled runs: this run's key figures against its baseline run's, tested, and
the changes worth a person's attention flagged.

A run's baseline is, in order: the run folder given with ``cam-audit run --baseline``, the
configuration's ``report.baseline``, or the most recent earlier completed run in the output
folder's history on the same dataset (:func:`audit.report.history.find_baseline`). Every key
figure is compared by :func:`audit.comparison.compare_summaries`, the one comparison of two
runs (McNemar's exact test or a paired bootstrap when both runs audited the same samples,
Newcombe's interval or combined intervals otherwise), and a change is **flagged** when

1. its test is significant (p < 0.05, or the 95% interval of the difference excludes 0),
2. its size ``|difference|`` exceeds ``report.min_change`` (default 0.02), and
3. the figure has a better direction, so the change is a regression or an improvement (the
   counter-evidence map's figures have none: a change of them is shown, never flagged).

``min_change`` is in the figure's own units. Every key figure compared today is a share of
samples (accuracy, fixation, pointing and localisation), a mean of a share (energy in box, the
share of a map's energy inside the boxes) or a difference of two shares (background reliance,
from -1 to 1), so one threshold means the same everywhere: 0.02 is two percentage points, or
0.02 of reliance. A figure added later on another scale (a count, a score in other units) must
state its own threshold instead of borrowing this one.

The same data and the same model give the same records (results are bit-identical), so every
difference is 0 and nothing is flagged; the threshold keeps a significant but negligible
change of a large run (1 point of 10,000 samples) from waking anyone up.

The ``drift`` stage runs before the ``gate`` stage, so ``gates.max_regression`` can fail a run
on its largest flagged regression; the report shows the changes and ``summary.json`` lists
them (``changes``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from audit.comparison import Comparison, FigureComparison, compare_summaries
from audit.config import ReportSection
from audit.errors import AuditError, ConfigError
from audit.history.run_info import RunInfo
from audit.summary import Change, Provenance, RunSummary, Summary, read_summary

__all__ = ["DEFAULT_MIN_CHANGE", "Drift", "baseline_of", "explicit_baseline", "flagged_changes",
           "is_flagged", "measure_drift"]

#: ``report.min_change``'s default.
DEFAULT_MIN_CHANGE = 0.02

_FLAGGED = ("regression", "improvement")


@dataclass(frozen=True)
class Drift:
    """This run against its baseline run: what the ``drift`` stage makes.

    Attributes
    ----------
    baseline_dir : Path or None
        The baseline run's folder; None when the run has no baseline (the first run on its
        dataset, or a run put elsewhere with ``--out`` and no ``--baseline``).
    baseline : RunSummary or None
        The baseline's summary; None without a baseline or when it could not be read
        (``note`` says why).
    comparison : Comparison or None
        Every key figure of the two runs, tested (:func:`audit.comparison.compare_summaries`,
        A the baseline, B this run).
    changes : tuple of Change
        The flagged changes (:func:`flagged_changes`), largest first.
    min_change : float
        The ``report.min_change`` they were flagged with.
    note : str
        Why there is no comparison despite a baseline (an unreadable ``summary.json``).
    """

    baseline_dir: Path | None = None
    baseline: RunSummary | None = None
    comparison: Comparison | None = None
    changes: tuple[Change, ...] = ()
    min_change: float = DEFAULT_MIN_CHANGE
    note: str = ""

    @property
    def baseline_run_id(self) -> str | None:
        """The baseline's run id (its folder's name when its summary names none)."""
        if self.baseline is not None:
            return (self.baseline.run_id or self.baseline.provenance.run_id
                    or (self.baseline_dir.name if self.baseline_dir else None))
        return None

    @property
    def regressions(self) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if c.assessment == "regression")

    @property
    def improvements(self) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if c.assessment == "improvement")


def is_flagged(row: FigureComparison, *, min_change: float) -> bool:
    """Whether one compared figure's change is flagged: significant, a regression or an
    improvement, and larger than ``min_change`` in the figure's units.

    >>> from audit.comparison import FigureComparison
    >>> row = FigureComparison(figure="accuracy", label="accuracy", method=None,
    ...                        kind="proportion", unit="pct", better="higher", a=0.9, b=0.85,
    ...                        difference=-0.05, significant=True, assessment="regression")
    >>> is_flagged(row, min_change=0.02), is_flagged(row, min_change=0.05)
    (True, False)
    """
    return (row.assessment in _FLAGGED and bool(row.significant)
            and row.difference is not None and abs(row.difference) > min_change)


def flagged_changes(comparison: Comparison, *, min_change: float = DEFAULT_MIN_CHANGE
                    ) -> list[Change]:
    """The changes of ``comparison`` worth flagging (see the module's docstring): the
    regressions, then the improvements, each largest first.

    Parameters
    ----------
    comparison : Comparison
        A baseline (A) compared with this run (B).
    min_change : float, optional
        The size a significant change must exceed, in the figure's units.

    Returns
    -------
    list of Change
        ``before`` is A's value, ``after`` B's.
    """
    if min_change < 0:
        raise ValueError(f"min_change must be 0 or more; received min_change={min_change!r}")
    changes = [Change(
        figure=row.figure, label=row.label, method=row.method, assessment=row.assessment,
        unit=row.unit, before=row.a, after=row.b, difference=row.difference, ci=row.interval,
        p_value=row.p_value, test=row.test, significant=True, n_before=row.n_a, n_after=row.n_b,
    ) for row in comparison.figures if is_flagged(row, min_change=min_change)]
    changes.sort(key=lambda c: (c.assessment != "regression", -abs(c.difference)))
    return changes


def measure_drift(summary: Summary, records: pd.DataFrame | None, *,
                  baseline_dir: str | Path | None,
                  min_change: float = DEFAULT_MIN_CHANGE, explicit: bool = False) -> Drift:
    """Compare this run (``summary`` and its ``records``) with the run in ``baseline_dir``.

    The baseline's ``records.csv``, when readable, pairs the tests sample by sample. An
    unreadable baseline ``summary.json`` found in the history leaves the run without a
    comparison, and ``note`` says why: a scheduled run must not be lost because an old run
    folder was damaged. A baseline named ``explicit`` ly (``--baseline``, ``report.baseline``)
    that cannot be read is bad input: a mistyped path must not pass ``max_regression``.

    Raises
    ------
    ConfigError
        ``explicit`` and the baseline's summary cannot be read.
    """
    from audit.report.compare import load_records

    if baseline_dir is None:
        return Drift(min_change=min_change)
    baseline_dir = Path(baseline_dir)
    try:
        baseline = read_summary(baseline_dir / "summary.json")
    except AuditError as error:
        if explicit:
            raise ConfigError(
                f"the baseline run folder named by --baseline or report.baseline must be a "
                f"finished run; got '{baseline_dir}': {error}") from None
        return Drift(baseline_dir=baseline_dir, min_change=min_change,
                     note=f"The baseline run could not be read, so nothing was compared: "
                          f"{error}")
    comparison = compare_summaries(baseline, summary, records_a=load_records(baseline_dir),
                                   records_b=records)
    return Drift(baseline_dir=baseline_dir, baseline=baseline, comparison=comparison,
                 changes=tuple(flagged_changes(comparison, min_change=min_change)),
                 min_change=min_change)


def explicit_baseline(run: RunInfo, report: ReportSection) -> Path | None:
    """The baseline a person named (``--baseline``, then ``report.baseline``), or None."""
    for explicit in (run.baseline, report.baseline):
        if explicit is not None:
            return Path(explicit)
    return None


def baseline_of(run: RunInfo, report: ReportSection) -> Path | None:
    """The baseline run folder of a run that is still going (its summary is not written yet).

    ``run.baseline`` (``cam-audit run --baseline``) wins, then ``report.baseline``; otherwise
    the most recent earlier completed run in the run's history (``run.history_dir``) on the
    same dataset (the manifest SHA-256 recorded at the run's start), finished before this run
    started. None when there is none, and for a run put elsewhere with ``--out`` that names
    no baseline.
    """
    from audit.report.history import find_baseline

    for explicit in (run.baseline, report.baseline):
        if explicit is not None:
            return Path(explicit)
    if run.history_dir is None:
        return None
    lookup = RunSummary(run_id=run.run_id, provenance=Provenance(**{
        **dict(run.provenance), "run_id": run.run_id, "started_at": run.started_at,
        "finished_at": None}))
    return find_baseline(run.history_dir, summary=lookup, exclude_run_dir=run.run_dir)
