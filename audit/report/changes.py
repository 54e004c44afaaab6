"""Flagged changes against the baseline run (:mod:`audit.analysis.drift`), as the report and the run
history show them: one formatted line per change, and one sentence for all of them."""

from __future__ import annotations

from collections.abc import Sequence

from audit.comparison import figure_title
from audit.report.format import fmt_delta, fmt_test, fmt_value
from audit.summary import Change

__all__ = ["change_view", "changes_sentence", "min_change_text"]


def min_change_text(min_change: float) -> str:
    """``report.min_change`` as people read it: ``"2.0 pp (0.02 of background reliance)"``.

    >>> min_change_text(0.02)
    '2.0 percentage points (0.02 of background reliance)'
    """
    return (f"{100 * min_change:.1f} percentage points ({min_change:g} of background "
            "reliance)")


def change_view(change: Change) -> dict:
    """One flagged change, formatted: ``title`` (``"Grad-CAM pointing accuracy"``),
    ``status`` (``regression`` or ``improvement``), ``before``, ``after``, ``delta`` (signed,
    percentage points for shares), ``evidence`` (p-value or interval of the change) and
    ``text``, all of it in one line.

    >>> from audit.summary import Change
    >>> view = change_view(Change(figure="accuracy", assessment="regression", before=0.95,
    ...                           after=0.8, difference=-0.15, ci=(-0.2, -0.1)))
    >>> view["text"]
    'accuracy 95.0% → 80.0% (-15.0 pp; 95% CI -20.0 pp to -10.0 pp)'
    """
    before, after = fmt_value(change.before, change.unit), fmt_value(change.after, change.unit)
    delta = fmt_delta(change.difference, change.unit)
    evidence = fmt_test(change.p_value, change.ci, change.unit)
    title = figure_title(change.figure)
    detail = f"{delta}; {evidence}" if evidence else delta
    return {"title": title, "status": change.assessment, "before": before, "after": after,
            "delta": delta, "evidence": evidence,
            "text": f"{title} {before} → {after} ({detail})"}


def changes_sentence(changes: Sequence[Change], *, baseline: str | None,
                     compared: bool = True) -> str:
    """What changed against the baseline run, in one sentence for a person in a hurry.

    >>> changes_sentence([], baseline="run-1")
    'No flagged change against the baseline run run-1.'
    >>> changes_sentence([], baseline=None, compared=False)
    'No baseline run to compare with.'
    """
    if not compared:
        return "No baseline run to compare with."
    worse = sum(c.assessment == "regression" for c in changes)
    better = len(changes) - worse
    if not changes:
        return f"No flagged change against the baseline run {baseline}."
    parts = []
    if worse:
        parts.append(f"{worse} regression{'s' if worse != 1 else ''}")
    if better:
        parts.append(f"{better} improvement{'s' if better != 1 else ''}")
    return f"{' and '.join(parts).capitalize()} against the baseline run {baseline}."
