"""Accuracy: overall, per true class (with each method's fixation rate), the confusion matrix."""

from __future__ import annotations

from audit.report import plots
from audit.report.format import fmt_ci, fmt_count, fmt_pct
from audit.report.images import data_uri
from audit.summary import ClassFigures, RunSummary

__all__ = ["MAX_CLASS_ROWS", "accuracy_view"]

#: Rows of the per-class table; the rest are counted.
MAX_CLASS_ROWS = 200
#: Beyond this many classes the confusion matrix takes the full width, under the table.
MAX_SIDE_BY_SIDE_CLASSES = 8
#: Up to this many classes the confusion matrix has counts in its cells.
MAX_ANNOTATED_CLASSES = 25


def accuracy_view(summary: RunSummary, methods: list[str]) -> dict:
    """The overall accuracy with its interval (``too_few`` when there are too few samples to
    judge it); per class (up to :data:`MAX_CLASS_ROWS`) its samples, accuracy with its interval
    (``ci``, ``too_few``), misclassified samples and the fixation ``rates`` of ``methods``
    (each ``rate``, ``count`` "k of n" and ``too_few``); the confusion matrix as a ``data:``
    URI (None when the summary has none)."""
    per_class = summary.per_class
    rows = [{
        "name": name,
        "n": fmt_count(figures.n),
        "accuracy": fmt_pct(figures.accuracy),
        "ci": "" if figures.correct.too_few else fmt_ci(figures.correct.ci, "pct"),
        "too_few": figures.accuracy is not None and figures.correct.too_few,
        "n_misclassified": fmt_count(figures.n_misclassified),
        "rates": [_rate(figures, m) for m in methods],
    } for name, figures in list(per_class.items())[:MAX_CLASS_ROWS]]
    matrix = summary.confusion_matrix
    return {
        "overall": fmt_pct(summary.accuracy),
        "ci": "" if summary.correct.too_few else fmt_ci(summary.accuracy_ci, "pct"),
        "too_few": summary.accuracy is not None and summary.correct.too_few,
        "method": "Wilson" if summary.correct.method == "wilson" else "bootstrap",
        "n": fmt_count(summary.n_samples),
        "per_class": rows,
        "per_class_more": max(0, len(per_class) - MAX_CLASS_ROWS),
        "confusion": data_uri(plots.confusion_matrix_png(matrix.labels, matrix.matrix)),
        "stacked": len(per_class) > MAX_SIDE_BY_SIDE_CLASSES,
        "annotated": len(per_class) <= MAX_ANNOTATED_CLASSES,
    }


def _rate(figures: ClassFigures, method: str) -> dict:
    rate = figures.background_fixation_rate.get(method)
    stat = figures.background_fixation.get(method)
    return {
        "rate": fmt_pct(rate),
        "count": f"{fmt_count(stat.count)} of {fmt_count(stat.n)}" if stat and stat.n else "",
        "too_few": rate is not None and stat is not None and stat.too_few,
    }
