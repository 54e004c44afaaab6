"""The key figures of a run and the rule that says when a change of one is a regression.

The same figures head the report's baseline comparison, the run history and
``cam-audit compare``, so a release manager sees the same numbers in all three.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from audit.report.templating import is_number

__all__ = [
    "ABSOLUTE_MARGIN",
    "REGRESSION_RULE",
    "FigureChange",
    "KeyFigure",
    "compare_figures",
    "key_figures",
    "ordered_methods",
]

#: Worsening that counts as a regression when a figure has no confidence interval.
ABSOLUTE_MARGIN = 0.02

#: The rule, in words, as the report prints it.
REGRESSION_RULE = (
    "A figure is flagged as a regression when it moved in the worse direction by more than the "
    "combined 95% interval of the two runs, sqrt(h_a² + h_b²), where h is half the width of "
    "each run's bootstrap interval (the usual approximation of the interval of a difference of "
    "two independent estimates). When either run has no interval for the figure, the margin is "
    f"{ABSOLUTE_MARGIN:.2f} absolute ({100 * ABSOLUTE_MARGIN:.0f} percentage points). Changes "
    "larger than the same margin in the better direction are marked as improvements. Figures of "
    "the negative-evidence method have no better direction; their changes are shown, never "
    "flagged."
)

# (key suffix, label, kind, better direction)
_METHOD_FIGURES = (
    ("background_fixation_rate", "background fixation rate", "pct", "lower"),
    ("energy_in_box.correct", "energy in box, correct", "pct", "higher"),
    ("energy_in_box.misclassified", "energy in box, misclassified", "pct", "higher"),
    ("pointing_accuracy", "pointing accuracy", "pct", "higher"),
    ("localization_accuracy", "localisation accuracy", "pct", "higher"),
)

#: Methods whose maps show evidence *against* a class: no direction is better.
UNDIRECTED_METHODS = frozenset({"negative"})

#: Display order of the known methods; others follow, sorted.
METHOD_ORDER = ("gradcam", "gradcam++", "scorecam", "negative")


def ordered_methods(names) -> list[str]:
    """Method names in :data:`METHOD_ORDER`, unknown ones after them, sorted."""
    names = [str(n) for n in names]
    return [m for m in METHOD_ORDER if m in names] + sorted(
        n for n in dict.fromkeys(names) if n not in METHOD_ORDER)


@dataclass(frozen=True)
class KeyFigure:
    key: str  # e.g. "accuracy", "gradcam.background_fixation_rate"
    label: str
    method: str | None
    value: float | None
    ci: tuple[float, float] | None
    kind: str  # "pct" or "num"
    better: str | None  # "higher", "lower" or None


def _get(mapping, *path):
    for part in path:
        if not isinstance(mapping, dict):
            return None
        mapping = mapping.get(part)
    return mapping


def _number(value) -> float | None:
    return float(value) if is_number(value) else None


def _interval(ci) -> tuple[float, float] | None:
    if isinstance(ci, list | tuple) and len(ci) == 2 and all(is_number(v) for v in ci):
        return float(ci[0]), float(ci[1])
    return None


def key_figures(summary: dict) -> list[KeyFigure]:
    """Accuracy, then per method the fixation rate, energy in box (correct, misclassified),
    pointing accuracy and localisation accuracy, with their intervals where the summary has them.
    """
    summary = summary if isinstance(summary, dict) else {}
    figures = [
        KeyFigure("accuracy", "accuracy", None, _number(summary.get("accuracy")),
                  _interval(summary.get("accuracy_ci")), "pct", "higher")
    ]
    methods = summary.get("methods") if isinstance(summary.get("methods"), dict) else {}
    for method in ordered_methods(methods):
        data = methods[method]
        sources = {
            "background_fixation_rate": (
                data.get("background_fixation_rate") if isinstance(data, dict) else None,
                _get(data, "background_fixation", "ci"),
            ),
            "energy_in_box.correct": (
                _get(data, "energy_in_box", "correct", "mean"),
                _get(data, "energy_in_box", "correct", "ci"),
            ),
            "energy_in_box.misclassified": (
                _get(data, "energy_in_box", "misclassified", "mean"),
                _get(data, "energy_in_box", "misclassified", "ci"),
            ),
            "pointing_accuracy": (
                _get(data, "pointing_accuracy"), _get(data, "pointing_hit", "all", "ci")
            ),
            "localization_accuracy": (
                _get(data, "localization_accuracy"), _get(data, "loc_correct", "all", "ci")
            ),
        }
        for suffix, label, kind, better in _METHOD_FIGURES:
            value, ci = sources[suffix]
            figures.append(
                KeyFigure(
                    f"{method}.{suffix}",
                    label,
                    str(method),
                    _number(value),
                    _interval(ci),
                    kind,
                    None if method in UNDIRECTED_METHODS else better,
                )
            )
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
    a_ci: tuple[float, float] | None
    b_ci: tuple[float, float] | None
    delta: float | None  # b - a
    margin: float | None
    rule: str  # "interval" or "absolute"
    status: str  # "regression", "improvement", "unchanged", "n/a"


def _half(ci) -> float:
    return (ci[1] - ci[0]) / 2.0


def compare_figures(a_summary: dict, b_summary: dict) -> list[FigureChange]:
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
        a_value = a.value if a else None
        b_value = b.value if b else None
        a_ci = a.ci if a else None
        b_ci = b.ci if b else None
        delta = b_value - a_value if a_value is not None and b_value is not None else None
        if a_ci is not None and b_ci is not None:
            margin, rule = math.hypot(_half(a_ci), _half(b_ci)), "interval"
        else:
            margin, rule = ABSOLUTE_MARGIN, "absolute"
        if delta is None:
            status = "n/a"
        elif ref.better is None:
            status = "unchanged" if abs(delta) <= margin else "changed"
        else:
            worse = -delta if ref.better == "higher" else delta
            if worse > margin + 1e-12:
                status = "regression"
            elif -worse > margin + 1e-12:
                status = "improvement"
            else:
                status = "unchanged"
        changes.append(
            FigureChange(key, ref.label, ref.method, ref.kind, ref.better, a_value, b_value,
                         a_ci, b_ci, delta, margin, rule, status)
        )
    return changes
