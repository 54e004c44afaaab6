"""The key figures of a run and the rule that says when a change of one is a regression.

The same figures head the report's baseline comparison, the run history and
``cam-audit compare``, so a release manager sees the same numbers in all three.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from audit.cams.methods import METHODS, ordered_methods
from audit.report.format import fmt_delta, fmt_num, fmt_pct
from audit.report.methods import is_counter_evidence, method_title
from audit.summary import MethodFigures, Summary

__all__ = [
    "ABSOLUTE_MARGIN",
    "REGRESSION_RULE",
    "FigureChange",
    "KeyFigure",
    "change_rows",
    "compare_figures",
    "key_figures",
]

Interval = tuple[float, float]

#: Worsening that counts as a regression when a figure has no confidence interval.
ABSOLUTE_MARGIN = 0.02

_COUNTER_EVIDENCE = ", ".join(m.title for m in METHODS.values() if m.kind == "counter-evidence")

#: The rule, in words, as the report prints it.
REGRESSION_RULE = (
    "A figure is flagged as a regression when it moved in the worse direction by more than the "
    "combined 95% interval of the two runs, sqrt(h_a² + h_b²), where h is half the width of "
    "each run's bootstrap interval (the usual approximation of the interval of a difference of "
    "two independent estimates). When either run has no interval for the figure, the margin is "
    f"{ABSOLUTE_MARGIN:.2f} absolute ({100 * ABSOLUTE_MARGIN:.0f} percentage points). Changes "
    "larger than the same margin in the better direction are marked as improvements. Figures of "
    f"counter-evidence maps ({_COUNTER_EVIDENCE}) have no better direction; their changes are "
    "shown, never flagged."
)

# (key suffix, label, kind, better direction, (value, interval) of a method's figures)
_METHOD_FIGURES: tuple[tuple[str, str, str, str,
                             Callable[[MethodFigures], tuple[float | None, Interval | None]]],
                       ...] = (
    ("background_fixation_rate", "background fixation rate", "pct", "lower",
     lambda m: (m.background_fixation_rate, m.background_fixation.ci)),
    ("energy_in_box.correct", "energy in box, correct", "pct", "higher",
     lambda m: (m.energy_in_box.correct.mean, m.energy_in_box.correct.ci)),
    ("energy_in_box.misclassified", "energy in box, misclassified", "pct", "higher",
     lambda m: (m.energy_in_box.misclassified.mean, m.energy_in_box.misclassified.ci)),
    ("pointing_accuracy", "pointing accuracy", "pct", "higher",
     lambda m: (m.pointing_accuracy, m.pointing_hit.all.ci)),
    ("localization_accuracy", "localisation accuracy", "pct", "higher",
     lambda m: (m.localization_accuracy, m.loc_correct.all.ci)),
)


@dataclass(frozen=True)
class KeyFigure:
    key: str  # e.g. "accuracy", "gradcam.background_fixation_rate"
    label: str
    method: str | None
    value: float | None
    ci: Interval | None
    kind: str  # "pct" or "num"
    better: str | None  # "higher", "lower" or None


def key_figures(summary: Summary) -> list[KeyFigure]:
    """Accuracy, then per method (in registry order) the fixation rate, energy in box (correct,
    misclassified), pointing accuracy and localisation accuracy, with their intervals.

    Counter-evidence methods have no better direction (``better`` is None).
    """
    figures = [KeyFigure("accuracy", "accuracy", None, summary.accuracy, summary.accuracy_ci,
                         "pct", "higher")]
    for method in ordered_methods(summary.methods):
        data = summary.methods[method]
        for suffix, label, kind, better, source in _METHOD_FIGURES:
            value, ci = source(data)
            figures.append(KeyFigure(f"{method}.{suffix}", label, method, value, ci, kind,
                                     None if is_counter_evidence(method) else better))
    return figures


@dataclass(frozen=True)
class FigureChange:
    key: str
    label: str
    method: str | None
    kind: str
    better: str | None
    a: float | None  # baseline / production
    b: float | None  # this run / candidate
    a_ci: Interval | None
    b_ci: Interval | None
    delta: float | None  # b - a
    margin: float
    rule: str  # "interval" or "absolute"
    status: str  # "regression", "improvement", "changed", "unchanged", "n/a"


def _half(ci: Interval) -> float:
    return (ci[1] - ci[0]) / 2.0


def _status(delta: float | None, margin: float, better: str | None) -> str:
    if delta is None:
        return "n/a"
    if better is None:
        return "unchanged" if abs(delta) <= margin else "changed"
    worse = -delta if better == "higher" else delta
    if worse > margin + 1e-12:
        return "regression"
    if -worse > margin + 1e-12:
        return "improvement"
    return "unchanged"


def compare_figures(a_summary: Summary, b_summary: Summary) -> list[FigureChange]:
    """The key figures of run A (baseline) against run B (this run), with the change B - A.

    Figures present in only one run are listed with the other side undefined. See
    :data:`REGRESSION_RULE`.
    """
    a_figures = {f.key: f for f in key_figures(a_summary)}
    b_figures = {f.key: f for f in key_figures(b_summary)}
    keys = list(b_figures) + [k for k in a_figures if k not in b_figures]
    changes = []
    for key in keys:
        a, b = a_figures.get(key), b_figures.get(key)
        ref = b or a
        a_value, a_ci = (a.value, a.ci) if a else (None, None)
        b_value, b_ci = (b.value, b.ci) if b else (None, None)
        delta = b_value - a_value if a_value is not None and b_value is not None else None
        if a_ci is not None and b_ci is not None:
            margin, rule = math.hypot(_half(a_ci), _half(b_ci)), "interval"
        else:
            margin, rule = ABSOLUTE_MARGIN, "absolute"
        changes.append(FigureChange(key, ref.label, ref.method, ref.kind, ref.better, a_value,
                                    b_value, a_ci, b_ci, delta, margin, rule,
                                    _status(delta, margin, ref.better)))
    return changes


def change_rows(changes: list[FigureChange]) -> list[dict]:
    """Key-figure changes as table rows, formatted; ``first`` marks the first row of a method's
    group (the report's baseline table and ``cam-audit compare`` share them)."""
    rows, previous = [], object()
    for change in changes:
        number = fmt_pct if change.kind == "pct" else fmt_num
        rows.append({
            "method": method_title(change.method) if change.method else "",
            "first": change.method != previous,
            "label": change.label,
            "a": number(change.a),
            "b": number(change.b),
            "delta": fmt_delta(change.delta, change.kind),
            "margin": fmt_delta(change.margin, change.kind).lstrip("+"),
            "status": change.status,
        })
        previous = change.method
    return rows
