"""Slices: the run's key figures per subgroup of samples (``slices`` in the configuration), and
a plot of which subgroup is worst."""

from __future__ import annotations

from audit.report import plots
from audit.report.format import fmt_ci, fmt_count, fmt_pct
from audit.report.images import data_uri
from audit.report.methods import is_counter_evidence, method_title
from audit.summary import Proportion, RunSummary, SliceFigures, Stat
from audit.summary.slices import slice_key

__all__ = ["MAX_PLOT_ROWS", "MAX_SLICE_ROWS", "MAX_UNSCORED_ROWS", "slices_view"]

#: Rows of the slices table; the rest are counted.
MAX_SLICE_ROWS = 200
#: Of those, rows of slices too small to score (a column with a value per image would list
#: every image); the rest are counted.
MAX_UNSCORED_ROWS = 20
#: Slices in the plot: the ones with the lowest accuracy.
MAX_PLOT_ROWS = 30


def _cell(stat: Stat | None, *, worse_than: float | None = None, higher_is_worse=False) -> dict:
    """A figure as a table cell: ``value``, ``ci``, ``count`` ("k of n" for a proportion),
    ``too_few``, and ``worse`` when its interval lies wholly on the worse side of the whole
    run's figure ``worse_than``."""
    if stat is None:
        return {"value": fmt_pct(None), "ci": "", "count": "", "too_few": False, "worse": False}
    ci = None if stat.too_few else stat.ci
    worse = False
    if ci is not None and worse_than is not None:
        worse = ci[0] > worse_than if higher_is_worse else ci[1] < worse_than
    count = (f"{fmt_count(stat.count)} of {fmt_count(stat.n)}"
             if isinstance(stat, Proportion) and stat.n else "")
    return {"value": fmt_pct(stat.mean), "ci": fmt_ci(ci, "pct"), "count": count,
            "too_few": stat.mean is not None and stat.too_few, "worse": worse}


def _row(key: str, figures: SliceFigures, summary: RunSummary, methods: list[str]) -> dict:
    cells = []
    for method in methods:
        slice_method = figures.methods.get(method)
        whole = summary.methods[method]
        cells.append({
            "fixation": _cell(slice_method.background_fixation if slice_method else None,
                              worse_than=whole.background_fixation.mean, higher_is_worse=True),
            "energy": _cell(slice_method.energy_in_box if slice_method else None,
                            worse_than=whole.energy_in_box.all.mean),
        })
    parts = [slice_key({column: value}) for column, value in figures.values.items()]
    return {"key": key, "parts": parts or [key], "n": fmt_count(figures.n),
            "scored": figures.scored,
            "accuracy": _cell(figures.accuracy, worse_than=summary.accuracy), "cells": cells}


def _plot(summary: RunSummary, methods: list[str]) -> bytes | None:
    """Scored slices, lowest accuracy first (ties: highest fixation rate first)."""
    method = methods[0] if methods else None
    rows = []
    for key, figures in summary.slices.items():
        if not figures.scored or figures.accuracy is None:
            continue
        accuracy = figures.accuracy
        fixation = figures.methods[method].background_fixation if (
            method and method in figures.methods) else Proportion()
        rows.append((key, accuracy.mean, None if accuracy.too_few else accuracy.ci,
                     fixation.mean, None if fixation.too_few else fixation.ci))
    rows.sort(key=lambda r: (r[1] if r[1] is not None else 2.0,
                             -(r[3] if r[3] is not None else -1.0)))
    whole = summary.methods[method].background_fixation.mean if method else None
    return plots.slices_png(rows[:MAX_PLOT_ROWS], accuracy=summary.accuracy, fixation=whole,
                            method=method_title(method) if method else None)


def slices_view(summary: RunSummary, methods: list[str]) -> dict:
    """The slices table and plot.

    Returns
    -------
    dict
        ``configured`` (the run has slices), ``min_slice_size``, ``n_slices`` and
        ``n_scored``; ``methods`` (name and title of each method that explains the decision:
        counter-evidence is left out); ``whole``, the whole run as a row; ``rows``, one per
        slice in the summary's order (at most :data:`MAX_SLICE_ROWS`, of which at most
        :data:`MAX_UNSCORED_ROWS` unscored ones), each with ``key`` and its ``parts`` (one
        ``column=value`` each), ``n``, ``scored``,
        ``group`` (the first slice of its columns), ``accuracy`` and per method a
        ``fixation`` and an ``energy`` cell (``value``, ``ci``, ``count``, ``too_few``, and
        ``worse``: the interval lies wholly below the whole run's figure, above it for
        fixation); ``more`` and ``more_unscored``, the slices left out; ``plot``, a ``data:``
        URI (None without a scored slice); ``plot_method``, the method it shows.
    """
    shown = [m for m in methods if not is_counter_evidence(m) and m in summary.methods]
    slices = summary.slices
    rows, unscored, more, previous = [], 0, 0, None
    for key, figures in slices.items():
        columns = tuple(figures.values)
        group, previous = columns != previous, columns
        if not figures.scored:
            unscored += 1
            if unscored > MAX_UNSCORED_ROWS:
                continue
        if len(rows) >= MAX_SLICE_ROWS:
            more += 1
            continue
        rows.append({**_row(key, figures, summary, shown), "group": group})
    whole = {
        "n": fmt_count(summary.n_samples),
        "accuracy": _cell(summary.correct),
        "cells": [{"fixation": _cell(summary.methods[m].background_fixation),
                   "energy": _cell(summary.methods[m].energy_in_box.all)} for m in shown],
    }
    return {
        "configured": bool(slices),
        "min_slice_size": fmt_count(summary.min_slice_size),
        "n_slices": fmt_count(len(slices)),
        "n_scored": fmt_count(sum(f.scored for f in slices.values())),
        "methods": [{"name": m, "title": method_title(m)} for m in shown],
        "whole": whole,
        "rows": rows,
        "more": more,
        "more_unscored": max(0, unscored - MAX_UNSCORED_ROWS),
        "plot": data_uri(_plot(summary, shown)) if slices else None,
        "plot_method": method_title(shown[0]) if shown else None,
    }
