"""What the ``drift`` stage makes: this run against its baseline run, and the rule that flags a
change (:mod:`audit.analysis.drift` measures it; the gate, the report and ``summary.json`` read
it). A change is flagged when its test is significant, it has a better direction (a regression
or an improvement) and its size exceeds ``report.min_change`` in the figure's units.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from audit.comparison.compare import Comparison, FigureComparison
from audit.config import ReportSection
from audit.summary import Change, RunSummary

__all__ = ["DEFAULT_MIN_CHANGE", "Drift", "flagged_changes", "is_flagged"]

#: ``report.min_change``'s default, as the configuration model has it.
DEFAULT_MIN_CHANGE: float = ReportSection.model_fields["min_change"].default

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

    def flags(self, row: FigureComparison) -> bool:
        """Whether the change of one compared figure is flagged with this drift's
        ``min_change`` (:func:`is_flagged`)."""
        return is_flagged(row, min_change=self.min_change)

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
        raise ValueError(f"min_change must be 0 or more; got min_change={min_change!r}")
    changes = [Change(
        figure=row.figure, label=row.label, method=row.method, assessment=row.assessment,
        unit=row.unit, before=row.a, after=row.b, difference=row.difference, ci=row.interval,
        p_value=row.p_value, test=row.test, significant=True, n_before=row.n_a, n_after=row.n_b,
    ) for row in comparison.figures if is_flagged(row, min_change=min_change)]
    changes.sort(key=lambda c: (c.assessment != "regression", -abs(c.difference)))
    return changes
