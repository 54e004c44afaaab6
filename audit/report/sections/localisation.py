"""Localisation per method: how much of each map of the predicted class lies on the object,
correct beside misclassified samples, and the pointing game against the centre baseline."""

from __future__ import annotations

import pandas as pd

from audit.report import plots
from audit.report.format import fmt_ci, fmt_count, fmt_num, fmt_pct
from audit.report.images import data_uri
from audit.report.methods import is_counter_evidence, method_title
from audit.summary import MethodFigures, RunSummary, Stat

__all__ = ["SCORE_ROWS", "localisation_view", "stat_cell"]

#: (score, label, kind): the rows of each method's localisation table. The first two are also
#: shown for the maps of the true class of misclassified samples.
SCORE_ROWS = (
    ("energy_in_box", "Energy in box", "pct"),
    ("enrichment", "Enrichment (1 = chance)", "num"),
    ("pointing_hit", "Pointing game hit", "pct"),
    ("loc_iou", "Localisation IoU", "num"),
    ("loc_correct", "Localisation correct (IoU ≥ 0.5)", "pct"),
)

_SPLITS = ("all", "correct", "misclassified")


def stat_cell(stat: Stat, kind: str) -> dict:
    """A :class:`Stat` as a table cell: ``mean`` (a percentage for ``kind == "pct"``), ``ci``
    (``""`` without one), ``n``, ``n_nan``, whether the mean is ``defined``, and whether it is
    ``too_few`` to judge (defined, over fewer than ``metrics.min_n`` values: shown without an
    interval, marked "too few samples to judge").

    >>> stat_cell(Stat(n=30, mean=0.5, ci=(0.25, 0.75), n_nan=1), "pct")["ci"]
    '25.0% – 75.0%'
    >>> stat_cell(Stat(), "num")["mean"]
    'n/a'
    >>> stat_cell(Stat(n=3, mean=0.5, too_few=True), "pct")["too_few"]
    True
    """
    defined = stat.mean is not None
    return {
        "mean": fmt_pct(stat.mean) if kind == "pct" else fmt_num(stat.mean, 3),
        "ci": "" if stat.too_few else fmt_ci(stat.ci, kind),
        "n": fmt_count(stat.n),
        "n_nan": fmt_count(stat.n_nan),
        "defined": defined,
        "too_few": defined and stat.too_few,
    }


def _block(method: str, figures: MethodFigures) -> dict:
    rows = [{"label": label,
             "cells": [stat_cell(getattr(figures.score(score), split), kind) for split in _SPLITS]}
            for score, label, kind in SCORE_ROWS]
    true_rows = [{"label": label,
                  "predicted": stat_cell(figures.score(score).misclassified, kind),
                  "true": stat_cell(getattr(figures.true_class, score), kind)}
                 for score, label, kind in SCORE_ROWS[:2]]
    return {
        "method": method,
        "title": method_title(method),
        "counter_evidence": is_counter_evidence(method),
        "rows": rows,
        "true_rows": true_rows,
        "pointing": fmt_pct(figures.pointing_accuracy),
        "localization": fmt_pct(figures.localization_accuracy),
        "n_maps": fmt_count(figures.n_maps),
        "n_degenerate": fmt_count(figures.n_degenerate),
        "all_degenerate": figures.n_maps > 0 and figures.n_degenerate == figures.n_maps,
    }


def localisation_view(summary: RunSummary, records: pd.DataFrame, methods: list[str]) -> dict:
    """One block per method in ``methods``, whether ``any_box`` score is defined, the
    ``centre`` baseline cell, and the energy-distribution and pointing plots as ``data:`` URIs
    (None when there is nothing to plot; counter-evidence is left out of the pointing plot)."""
    blocks = [_block(m, summary.methods[m]) for m in methods]
    centre = summary.centre_baseline
    pointing = [(method_title(m), summary.methods[m].pointing_accuracy,
                 summary.methods[m].pointing_hit.all.ci)
                for m in methods if not is_counter_evidence(m)]
    return {
        "blocks": blocks,
        "any_box": any(cell["defined"] for block in blocks for row in block["rows"]
                       for cell in row["cells"]),
        "centre": stat_cell(centre, "pct"),
        "energy_plot": data_uri(plots.energy_distribution_png(
            records, methods=methods, titles={m: method_title(m) for m in methods})),
        "pointing_plot": data_uri(plots.pointing_png(pointing, centre.mean, centre.ci)),
    }
