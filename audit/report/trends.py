"""How a model moves from run to run: the trend plots of the run history, as PNG bytes.

One figure stacks a panel per key figure over the runs, oldest on the left: accuracy, each
method's background-fixation rate among errors, its background-fixated errors per sample (the
companion to compare across runs) and, once a run has the behavioural test, the explainer-free
background reliance. Every point carries its 95% interval (Wilson for shares, the bootstrap
for reliance; none below ``metrics.min_n``; a shaded band beyond 60 runs), a gate's threshold
is a dashed line at the value each run was held to, a failed run is a red band across every
panel, and a new model on the same dataset (another SHA-256 of the model file) breaks the
series with a labelled dotted line. Runs on different datasets are separate series (their own
marker).

Drawn like the report's plots (:mod:`audit.report.plots`): an own ``Figure`` on the Agg
canvas, no ``pyplot``, seaborn's colour-blind palette, a palette PNG.
"""

from __future__ import annotations

import datetime as _dt
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from audit.cams.methods import ordered_methods
from audit.report.methods import method_title
from audit.report.plots import BASELINE_COLOUR, INK, _figure, _label, _png

__all__ = ["TrendRun", "trends_png"]

Interval = tuple[float, float]
Value = tuple[float | None, Interval | None]

FAILED_COLOUR = "#D55E00"
_MARKERS = ("o", "s", "^", "D", "v", "P")
_MAX_TICKS = 10
_MAX_BARS = 60  # beyond this many runs, intervals are drawn as a band


@dataclass(frozen=True)
class TrendRun:
    """One run as the trend plots need it (a row of the history, oldest first).

    ``fixation`` and ``per_sample`` map a method to (value, interval); ``thresholds`` a gate's
    name without its method (``max_background_fixation_rate``) to the threshold the run was
    held to.
    """

    run_id: str
    finished_at: str | None = None
    model: str | None = None
    dataset: str | None = None
    passed: bool | None = None
    accuracy: Value = (None, None)
    fixation: dict[str, Value] = field(default_factory=dict)
    per_sample: dict[str, Value] = field(default_factory=dict)
    reliance: Value = (None, None)
    thresholds: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class _Panel:
    title: str
    share: bool  # a share of samples, shown in percent; else a plain number
    series: Callable[[TrendRun], dict[str, Value]]  # label -> value of one run
    gate: str | None = None


_PANELS = (
    _Panel("accuracy", True, lambda r: {"accuracy": r.accuracy}, "min_accuracy"),
    _Panel("background fixation\namong errors", True,
           lambda r: {method_title(m): v for m, v in r.fixation.items()},
           "max_background_fixation_rate"),
    _Panel("fixated errors\nper sample", True,
           lambda r: {method_title(m): v for m, v in r.per_sample.items()}),
    _Panel("background reliance\n(no explainer)", False,
           lambda r: {"background reliance": r.reliance}, "max_background_reliance"),
)


def _defined(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


def _moment(text: str | None) -> _dt.datetime | None:
    if not text:
        return None
    try:
        return _dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def _tick_labels(runs: Sequence[TrendRun]) -> list[str]:
    moments = [_moment(r.finished_at) for r in runs]
    days = [m.date() for m in moments if m is not None]
    one_a_day = len(set(days)) == len(days)
    labels = []
    for index, moment in enumerate(moments):
        if moment is None:
            labels.append(f"run {index + 1}")
        elif one_a_day:
            labels.append(moment.strftime("%b %d"))
        else:
            labels.append(moment.strftime("%m-%d %H:%M"))
    return labels


def _segments(runs: Sequence[TrendRun]) -> list[list[int]]:
    """Indices of the runs a line joins: the runs of one dataset, broken where the model
    changes."""
    lines: dict[str | None, list[list[int]]] = {}
    last_model: dict[str | None, str | None] = {}
    for index, run in enumerate(runs):
        parts = lines.setdefault(run.dataset, [])
        if not parts or last_model.get(run.dataset) != run.model:
            parts.append([])
        parts[-1].append(index)
        last_model[run.dataset] = run.model
    return [part for parts in lines.values() for part in parts]


def _model_changes(runs: Sequence[TrendRun]) -> list[tuple[int, str | None]]:
    """(index, new model) where a dataset's run has another model than its previous run."""
    changes, last = [], {}
    for index, run in enumerate(runs):
        if run.dataset in last and last[run.dataset] != run.model:
            changes.append((index, run.model))
        last[run.dataset] = run.model
    return changes


def _gate_lines(ax, runs: Sequence[TrendRun], gate: str) -> bool:
    """Dashed lines at each run's threshold of ``gate`` (a step where it changed)."""
    drawn = False
    start = None
    for index in range(len(runs) + 1):
        value = runs[index].thresholds.get(gate) if index < len(runs) else None
        previous = runs[start].thresholds.get(gate) if start is not None else None
        if start is not None and value != previous:
            ax.hlines(previous, start - 0.5, index - 0.5, colors=BASELINE_COLOUR,
                      linestyles="--", linewidth=1.2, zorder=1)
            drawn = True
            start = None
        if start is None and value is not None:
            start = index
    return drawn


def _limits(values: list[float], share: bool) -> tuple[float, float]:
    low, high = min(values), max(values)
    span = max(high - low, 0.1 if share else 0.2)
    middle = (low + high) / 2
    low, high = middle - 0.6 * span, middle + 0.6 * span
    if share:
        low, high = max(low, -0.02), min(high, 1.02)
    else:
        low, high = max(low, -1.05), min(high, 1.05)
    return low, high


def trends_png(runs: Sequence[TrendRun], *, methods: Sequence[str] | None = None
               ) -> bytes | None:
    """The history's trends: one panel per key figure that any run has, over ``runs`` (oldest
    first). ``methods`` orders the methods (registry order by default). None without runs or
    without a figure to draw."""
    import seaborn as sns
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    runs = list(runs)
    if not runs:
        return None
    names = ordered_methods(methods or {m for r in runs for m in (*r.fixation, *r.per_sample)})
    titles = [method_title(m) for m in names]
    colours = dict(zip(["accuracy", "background reliance", *titles],
                       sns.color_palette("colorblind", 2 + len(titles)).as_hex(), strict=True))
    colours["accuracy"], colours["background reliance"] = INK, INK
    panels = [(panel, [panel.series(r) for r in runs]) for panel in _PANELS]
    panels = [(p, values) for p, values in panels
              if any(_defined(v[0]) for series in values for v in series.values())]
    if not panels:
        return None
    datasets = list(dict.fromkeys(r.dataset for r in runs))
    marker = {d: _MARKERS[i % len(_MARKERS)] for i, d in enumerate(datasets)}
    n = len(runs)
    size = 5.0 if n <= 40 else 3.0 if n <= _MAX_BARS else 1.5
    edge = 0.6 if n <= _MAX_BARS else 0.0  # white edges would merge into a white line
    with _figure(9.6, 0.9 + 1.75 * len(panels)) as figure:
        axes = figure.subplots(len(panels), 1, sharex=True, squeeze=False)[:, 0]
        gate_drawn = False
        for ax, (panel, values) in zip(axes, panels, strict=True):
            labels = list(dict.fromkeys(label for series in values for label in series))
            drawn: list[float] = []
            for k, label in enumerate(labels):
                offset = (k - (len(labels) - 1) / 2) * min(0.12, 0.5 / max(len(labels), 1))
                colour = colours.get(label, INK)
                for part in _segments(runs):
                    points = [(i + offset, values[i].get(label, (None, None))) for i in part]
                    points = [(x, v, ci) for x, (v, ci) in points if _defined(v)]
                    if not points:
                        continue
                    xs, ys = [p[0] for p in points], [p[1] for p in points]
                    ax.plot(xs, ys, color=colour, linewidth=1.1, alpha=0.8, zorder=2)
                    drawn += ys
                    bars = [(x, y, ci) for x, y, ci in points
                            if ci is not None and _defined(ci[0]) and _defined(ci[1])]
                    if bars and n <= _MAX_BARS:  # one call per line
                        ax.errorbar([b[0] for b in bars], [b[1] for b in bars],
                                    yerr=[[max(0.0, y - ci[0]) for _, y, ci in bars],
                                          [max(0.0, ci[1] - y) for _, y, ci in bars]],
                                    fmt="none", ecolor=colour, elinewidth=1.0, capsize=2.5,
                                    alpha=0.9, zorder=2)
                    elif bars:  # a long history: the intervals as a band, bars would merge
                        ax.fill_between([b[0] for b in bars], [ci[0] for _, _, ci in bars],
                                        [ci[1] for _, _, ci in bars], color=colour,
                                        alpha=0.18, linewidth=0, zorder=1)
                    drawn += [v for _, _, ci in bars for v in ci]
                for dataset in datasets:
                    points = [(i + offset, values[i].get(label, (None, None))[0])
                              for i, r in enumerate(runs) if r.dataset == dataset]
                    points = [(x, y) for x, y in points if _defined(y)]
                    if points:
                        ax.plot([p[0] for p in points], [p[1] for p in points],
                                linestyle="none", marker=marker[dataset], markersize=size,
                                color=colour, markeredgecolor="white", markeredgewidth=edge,
                                zorder=3)
            if panel.gate and _gate_lines(ax, runs, panel.gate):
                gate_drawn = True
                drawn += [r.thresholds[panel.gate] for r in runs if panel.gate in r.thresholds]
            if drawn:
                ax.set_ylim(*_limits(drawn, panel.share))
            if panel.share:  # no tick beyond 0% and 100%, where the axis has a margin
                ax.yaxis.set_major_formatter(
                    lambda v, _: f"{100 * v:.0f}%" if -1e-9 <= v <= 1 + 1e-9 else "")
            ax.set_ylabel(panel.title, fontsize=8)
            ax.grid(axis="y", color="#e5e7eb", linewidth=0.8)
            ax.set_axisbelow(True)
            for index, run in enumerate(runs):
                if run.passed is False:
                    ax.axvspan(index - 0.5, index + 0.5, color=FAILED_COLOUR, alpha=0.12, lw=0,
                               zorder=0)
            for index, _ in _model_changes(runs):
                ax.axvline(index - 0.5, color=INK, linestyle=":", linewidth=1.3, zorder=1)
        for index, model in _model_changes(runs):
            axes[0].annotate(f"new model {_label((model or 'unknown')[:10])}",
                             xy=(index - 0.5, 1.0), xycoords=("data", "axes fraction"),
                             xytext=(0, 3), textcoords="offset points", ha="center",
                             va="bottom", fontsize=7.5, color=INK, annotation_clip=False,
                             bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": INK,
                                   "lw": 0.6})
        axes[-1].set_xlim(-0.6, n - 0.4)
        labels = _tick_labels(runs)
        step = max(1, math.ceil(n / _MAX_TICKS))
        ticks = list(range(n - 1, -1, -step))[::-1]  # the newest run always labelled
        axes[-1].set_xticks(ticks, [labels[i] for i in ticks])
        axes[-1].tick_params(axis="x", labelrotation=30 if n > 4 else 0, labelsize=8)
        handles = [Line2D([], [], color=colours[t], marker="o", linestyle="-", markersize=5,
                          label=_label(t)) for t in titles
                   if any(t in values[i] for _, values in panels for i in range(n))]
        if len(datasets) > 1:
            handles += [Line2D([], [], color=BASELINE_COLOUR, marker=marker[d], linestyle="none",
                               label=f"data {_label((d or 'unknown')[:10])}") for d in datasets]
        if gate_drawn:
            handles.append(Line2D([], [], color=BASELINE_COLOUR, linestyle="--",
                                  label="gate threshold"))
        if any(r.passed is False for r in runs):
            handles.append(Patch(color=FAILED_COLOUR, alpha=0.25, label="failed run"))
        if handles:
            figure.legend(handles=handles, loc="outside upper center",
                          ncol=min(len(handles), 6), frameon=False, fontsize=8)
        return _png(figure)
