"""Labels: a multi-label model's figures per label, in place of the confusion matrix."""

from __future__ import annotations

from audit.cams.methods import METHODS
from audit.report.format import fmt_ci, fmt_count, fmt_num, fmt_pct
from audit.report.methods import method_title
from audit.summary import Proportion, RunSummary

__all__ = ["MAX_LABEL_ROWS", "labels_view"]

#: Rows of the label table; the rest are counted.
MAX_LABEL_ROWS = 200


def _share(stat: Proportion) -> dict:
    return {"rate": fmt_pct(stat.mean),
            "ci": "" if stat.too_few else fmt_ci(stat.ci, "pct"),
            "count": f"{fmt_count(stat.count)} of {fmt_count(stat.n)}" if stat.n else "",
            "too_few": stat.mean is not None and stat.too_few}


def labels_view(summary: RunSummary, methods: list[str]) -> dict | None:
    """None for a single-label run. Otherwise, per label (up to :data:`MAX_LABEL_ROWS`): its
    threshold, images with it and predicted with it, precision and recall with their Wilson
    intervals, F1 with its bootstrap interval, average precision, and per method that explains
    the decision the fixation rate of its false positives and of its false negatives, and its
    behavioural test when it ran (``behaviour``); the macro figures and the exact-match
    share."""
    figures = summary.multilabel
    if figures is None:
        return None
    shown = [m for m in methods if METHODS[m].fixation]
    rows = []
    for name, label in list(figures.labels.items())[:MAX_LABEL_ROWS]:
        fixation = []
        for method in shown:
            found = label.fixation.get(method)
            fixation.append(None if found is None else {
                "false_positive": _share(found.false_positive),
                "false_negative": _share(found.false_negative)})
        rows.append({
            "name": name, "threshold": fmt_num(label.threshold, 2),
            "n_positive": fmt_count(label.n_positive), "n_predicted": fmt_count(label.n_predicted),
            "tp": fmt_count(label.tp), "fp": fmt_count(label.fp), "fn": fmt_count(label.fn),
            "precision": _share(label.precision), "recall": _share(label.recall),
            "f1": fmt_pct(label.f1), "f1_ci": fmt_ci(label.f1_ci, "pct"),
            "ap": fmt_pct(label.average_precision), "fixation": fixation,
            "behaviour": None if label.behaviour is None else {
                "reliance": fmt_num(label.behaviour.background_reliance, 2),
                "without_object": _share(label.behaviour.keeps_without_object),
                "without_background": _share(label.behaviour.keeps_without_background)},
        })
    macro = figures.macro
    return {
        "rows": rows,
        "more": max(0, len(figures.labels) - MAX_LABEL_ROWS),
        "methods": [{"name": m, "title": method_title(m)} for m in shown],
        "exact_match": _share(figures.exact_match),
        "behaviour": any(r["behaviour"] is not None for r in rows),
        "macro": {"n_labels": fmt_count(macro.n_labels), "precision": fmt_pct(macro.precision),
                  "recall": fmt_pct(macro.recall), "f1": fmt_pct(macro.f1),
                  "map": fmt_pct(macro.mean_average_precision)},
    }
