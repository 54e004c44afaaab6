"""The report's plots, as PNG bytes.

Every plot draws on its own :class:`matplotlib.figure.Figure` with the Agg canvas, never through
``pyplot``: no global figure registry, no backend switch, nothing that leaks from one plot into
the next or into the caller's session. Style settings are applied through
``matplotlib.rc_context`` only while a plot is drawn. Each function returns ``None`` when there
is nothing to plot, so the report shows a note instead.
"""

from __future__ import annotations

import io
import warnings
from contextlib import contextmanager

import numpy as np
import pandas as pd

from audit.report.images import compact_png

__all__ = [
    "CORRECT_COLOUR",
    "MISCLASSIFIED_COLOUR",
    "confusion_matrix_png",
    "energy_distribution_png",
    "fixation_rates_png",
    "pointing_png",
    "sanity_curves_png",
    "slices_png",
]

DPI = 110
# Okabe-Ito: distinguishable with every common colour-vision deficiency, and in grey print.
CORRECT_COLOUR = "#0072B2"
MISCLASSIFIED_COLOUR = "#D55E00"
BASELINE_COLOUR = "#6b7280"
INK = "#1f2937"

_RC = {
    "font.family": "DejaVu Sans",
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.labelsize": 9,
    "axes.edgecolor": "#9ca3af",
    "axes.labelcolor": INK,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "xtick.color": INK,
    "ytick.color": INK,
    "text.color": INK,
    "svg.fonttype": "none",
    "text.usetex": False,
}


def _label(text, limit: int = 28) -> str:
    """User text made safe for matplotlib: no mathtext (``$``), bounded length."""
    text = str(text).replace("\n", " ")
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return text.replace("$", r"\$")


@contextmanager
def _figure(width: float, height: float):
    from matplotlib import rc_context
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    with rc_context(_RC):
        figure = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
        FigureCanvasAgg(figure)
        try:
            yield figure
        finally:
            figure.clear()


@contextmanager
def _numpy_global_seed(seed: int):
    """Seed numpy's global generator for the block, then put its state back: seaborn's
    ``stripplot`` jitter draws from it, and the same run must give the same picture."""
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(state)


def _png(figure, *, palette: bool = True) -> bytes:
    """The figure as PNG; with ``palette``, reduced to 256 colours (a third of the bytes;
    leave it off for continuous colour scales, which would show bands)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, facecolor="white",
                   metadata={"Software": None}, pil_kwargs={"optimize": True})
    return compact_png(buffer.getvalue()) if palette else buffer.getvalue()


def confusion_matrix_png(labels: list[str], matrix) -> bytes | None:
    """A heatmap of the confusion matrix: true class in rows, predicted in columns.

    Cells are coloured by the share of the row (the true class's recall on the diagonal) and
    annotated with counts, up to 25 classes; beyond that, counts would not be legible.
    """
    import seaborn as sns

    try:
        counts = np.asarray(matrix, dtype=float)
    except (TypeError, ValueError):
        return None
    n = len(labels)
    if n == 0 or counts.shape != (n, n):
        return None
    totals = counts.sum(axis=1, keepdims=True)
    shares = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)
    names = [_label(c, 20) for c in labels]
    side = float(np.clip(1.4 + 0.5 * n, 2.4, 9.0))
    annotate = n <= 25
    with _figure(side + 1.3, side) as figure:
        ax = figure.add_subplot()
        sns.heatmap(
            shares, ax=ax, cmap="Blues", vmin=0.0, vmax=1.0, square=n <= 25,
            annot=counts.astype(int) if annotate else False, fmt="d",
            annot_kws={"fontsize": 8 if n <= 12 else 6},
            linewidths=0.5 if n <= 40 else 0, linecolor="white",
            xticklabels=names if n <= 60 else False, yticklabels=names if n <= 60 else False,
            cbar_kws={"label": "share of the true class", "shrink": 0.8},
        )
        ax.set_xlabel("predicted class")
        ax.set_ylabel("true class")
        rotate = n > 4 or max(len(name) for name in names) * n > 24
        ax.tick_params(axis="x", labelrotation=35 if rotate else 0)
        ax.tick_params(axis="y", labelrotation=0)
        for tick in ax.get_xticklabels():
            tick.set_horizontalalignment("right" if rotate else "center")
            tick.set_rotation_mode("anchor")
        return _png(figure, palette=False)


def energy_distribution_png(records: pd.DataFrame, *, methods: list[str] | None = None,
                            titles: dict[str, str] | None = None, max_points: int = 300,
                            seed: int = 0) -> bytes | None:
    """``energy_in_box`` of the predicted-class maps, correct beside misclassified, per method.

    Box plots with the individual samples drawn over them (at most ``max_points`` per group,
    a seeded subsample, so a large run does not bloat the report), jittered from ``seed``: the
    same records give the same picture. ``methods`` gives the
    order of the rows (others follow, sorted) and ``titles`` their display names.
    """
    import seaborn as sns

    needed = {"method", "target", "energy_in_box", "correct"}
    if not needed <= set(records):
        return None
    rows = records[records["target"].astype(str) == "predicted"]
    titles = titles or {}
    values = pd.DataFrame({
        "method": rows["method"].astype(str).map(lambda m: _label(titles.get(m, m))),
        "energy_in_box": rows["energy_in_box"].astype(float),
        "outcome": np.where(rows["correct"].astype(bool), "correct", "misclassified"),
    }).dropna(subset=["energy_in_box"])
    if values.empty:
        return None
    present = set(values["method"])
    wanted = [_label(titles.get(m, m)) for m in (methods or [])]
    methods = [m for m in wanted if m in present] + sorted(present - set(wanted))
    order = ["correct", "misclassified"]
    palette = {"correct": CORRECT_COLOUR, "misclassified": MISCLASSIFIED_COLOUR}
    rng = np.random.default_rng(seed)
    keep = []
    for _, index in values.groupby(["method", "outcome"], sort=True).groups.items():
        index = np.asarray(index)
        keep.append(index if len(index) <= max_points else
                    np.sort(rng.choice(index, size=max_points, replace=False)))
    shown = values.loc[np.concatenate(keep)]
    height = 1.0 + 0.75 * len(methods)
    with _figure(7.2, max(2.4, height)) as figure:
        ax = figure.add_subplot()
        with warnings.catch_warnings():
            # seaborn 0.13 passes matplotlib's deprecated ``vert``; harmless, not ours.
            warnings.simplefilter("ignore", DeprecationWarning)
            warnings.filterwarnings("ignore", message=".*vert.*")
            sns.boxplot(data=values, x="energy_in_box", y="method", hue="outcome", order=methods,
                        hue_order=order, palette=palette, ax=ax, orient="h", fliersize=0,
                        width=0.7, linewidth=1.0, boxprops={"alpha": 0.35}, legend=False)
        with _numpy_global_seed(seed):
            sns.stripplot(data=shown, x="energy_in_box", y="method", hue="outcome",
                          order=methods, hue_order=order, palette=palette, ax=ax, orient="h",
                          dodge=True, size=2.6, alpha=0.6, jitter=0.22, legend=True)
        ax.set_xlim(-0.02, 1.02)
        ax.set_xlabel("energy in box (share of the map's energy inside the boxes)")
        ax.set_ylabel("")
        ax.grid(axis="x", color="#e5e7eb", linewidth=0.8)
        ax.set_axisbelow(True)
        legend = ax.get_legend()
        if legend is not None:
            legend.set_title(None)
            legend.set_frame_on(False)
            sns.move_legend(ax, "lower center", bbox_to_anchor=(0.5, 1.0), ncol=2,
                            frameon=False, title=None)
        return _png(figure)


def _rate_bars(ax, names, values, cis, colour):
    y = np.arange(len(names))
    heights = [v if v is not None else 0.0 for v in values]
    ax.barh(y, heights, color=colour, alpha=0.85, height=0.55)
    for i, (value, ci) in enumerate(zip(values, cis, strict=True)):
        if value is None:
            ax.text(0.01, i, "n/a", va="center", fontsize=8, color=BASELINE_COLOUR)
            continue
        if ci is not None:
            ax.errorbar(value, i, xerr=[[value - ci[0]], [ci[1] - value]], fmt="none",
                        ecolor=INK, elinewidth=1.0, capsize=3)
        ax.text(min(1.0, (ci[1] if ci else value)) + 0.015, i, f"{100 * value:.0f}%",
                va="center", fontsize=8)
    ax.set_yticks(y, names)
    ax.invert_yaxis()
    ax.set_xlim(0, 1.12)
    ax.xaxis.set_major_formatter(lambda v, _: f"{100 * v:.0f}%")
    ax.grid(axis="x", color="#e5e7eb", linewidth=0.8)
    ax.set_axisbelow(True)


def fixation_rates_png(rates: list[tuple[str, float | None, tuple | None]]) -> bytes | None:
    """Background-fixation rate per method with its 95% interval: ``(method, rate, ci)``."""
    if not rates or all(r[1] is None for r in rates):
        return None
    with _figure(5.0, 0.9 + 0.42 * len(rates)) as figure:
        ax = figure.add_subplot()
        _rate_bars(ax, [_label(r[0]) for r in rates], [r[1] for r in rates],
                   [r[2] for r in rates], MISCLASSIFIED_COLOUR)
        ax.set_xlabel("share of misclassified samples fixated on the background")
        return _png(figure)


def pointing_png(rows: list[tuple[str, float | None, tuple | None]],
                 centre: float | None, centre_ci: tuple | None) -> bytes | None:
    """Pointing accuracy per method, against the centre-point baseline (a dashed line)."""
    if not rows or all(r[1] is None for r in rows):
        return None
    with _figure(5.0, 1.1 + 0.42 * len(rows)) as figure:
        ax = figure.add_subplot()
        _rate_bars(ax, [_label(r[0]) for r in rows], [r[1] for r in rows],
                   [r[2] for r in rows], CORRECT_COLOUR)
        if centre is not None:
            if centre_ci is not None:
                ax.axvspan(centre_ci[0], centre_ci[1], color=BASELINE_COLOUR, alpha=0.12, lw=0)
            ax.axvline(centre, color=BASELINE_COLOUR, linestyle="--", linewidth=1.2,
                       label=f"centre point baseline {100 * centre:.0f}%")
            ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), frameon=False, fontsize=8)
        ax.set_xlabel("pointing accuracy (map maximum on the object)")
        return _png(figure)


def sanity_curves_png(curves: dict[str, tuple[list[int], list[float | None]]], *,
                      threshold: float) -> bytes | None:
    """Mean Spearman correlation of each method's maps with its original maps, against the
    number of layers randomised from the top (seaborn line plot); ``threshold`` is the pass
    line (``sanity.max_similarity``)."""
    import seaborn as sns

    rows = [(title, layers, value) for title, (steps, values) in curves.items()
            for layers, value in zip(steps, values, strict=True) if value is not None]
    if not rows:
        return None
    frame = pd.DataFrame(rows, columns=["method", "layers", "spearman"])
    frame["method"] = frame["method"].map(_label)
    with _figure(5.4, 2.9) as figure:
        ax = figure.add_subplot()
        sns.lineplot(data=frame, x="layers", y="spearman", hue="method", marker="o", ax=ax,
                     palette="colorblind")
        ax.axhline(threshold, color=BASELINE_COLOUR, linestyle="--", linewidth=1.2,
                   label=f"pass line {threshold:.2f}")
        ax.set_ylim(min(-0.2, float(frame["spearman"].min()) - 0.05), 1.05)
        ax.set_xlabel("weighted layers re-initialised, from the output down")
        ax.set_ylabel("Spearman with the original map")
        ax.legend(loc="upper right", frameon=False, fontsize=8)
        ax.grid(axis="y", color="#e5e7eb", linewidth=0.8)
        return _png(figure)


def _interval_dots(ax, values, cis, colour, overall, overall_label):
    """One dot per row with its 95% interval (a hollow dot: too few samples for one), and
    the whole run's figure as a dashed line."""
    for i, (value, ci) in enumerate(zip(values, cis, strict=True)):
        if value is None:
            ax.text(0.01, i, "n/a", va="center", fontsize=8, color=BASELINE_COLOUR)
            continue
        if ci is not None:
            ax.errorbar(value, i, xerr=[[value - ci[0]], [ci[1] - value]], fmt="o",
                        color=colour, ecolor=colour, elinewidth=1.4, capsize=3, markersize=5)
        else:
            ax.plot(value, i, "o", markerfacecolor="white", markeredgecolor=colour,
                    markersize=5)
    if overall is not None:
        ax.axvline(overall, color=BASELINE_COLOUR, linestyle="--", linewidth=1.2,
                   label=overall_label)
        ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), frameon=False, fontsize=8)
    ax.set_xlim(-0.02, 1.02)
    ax.xaxis.set_major_formatter(lambda v, _: f"{100 * v:.0f}%")
    ax.grid(axis="x", color="#e5e7eb", linewidth=0.8)
    ax.set_axisbelow(True)


def slices_png(rows: list[tuple[str, float | None, tuple | None, float | None, tuple | None]],
               *, accuracy: float | None, fixation: float | None,
               method: str | None) -> bytes | None:
    """Which subgroup is worst: per slice ``(name, accuracy, ci, fixation rate, ci)``, the
    accuracy and ``method``'s background-fixation rate among errors, each with its 95%
    interval, in the order given (worst first: the top row), and the whole run's figures as
    dashed lines. Without ``method``, accuracy only."""
    if not rows or all(r[1] is None for r in rows):
        return None
    names = [_label(r[0], 36) for r in rows]
    panels = 2 if method else 1
    with _figure(3.9 * panels + 1.6, 1.0 + 0.3 * len(rows)) as figure:
        axes = figure.subplots(1, panels, sharey=True, squeeze=False)[0]
        _interval_dots(axes[0], [r[1] for r in rows], [r[2] for r in rows], CORRECT_COLOUR,
                       accuracy, "whole run" if accuracy is None else
                       f"whole run {100 * accuracy:.1f}%")
        axes[0].set_xlabel("accuracy")
        axes[0].set_yticks(np.arange(len(rows)), names)
        axes[0].invert_yaxis()
        if method:
            _interval_dots(axes[1], [r[3] for r in rows], [r[4] for r in rows],
                           MISCLASSIFIED_COLOUR, fixation, "whole run" if fixation is None
                           else f"whole run {100 * fixation:.1f}%")
            axes[1].set_xlabel(f"{_label(method)} background fixation among errors")
        return _png(figure)


def embedding_png(embedding, labels, *, flagged=()) -> bytes | None:
    """The 2-D spectral embedding of one class's maps, each point coloured by its cluster
    (flagged clusters marked in the legend)."""
    embedding = np.asarray(embedding, float)
    labels = np.asarray(labels)
    if embedding.ndim != 2 or embedding.shape[1] < 2 or not len(embedding):
        return None
    with _figure(3.6, 2.8) as figure:
        ax = figure.add_subplot()
        for cluster in sorted(set(labels.tolist())):
            inside = labels == cluster
            name = f"strategy {cluster}" + (" (flagged)" if cluster in flagged else "")
            ax.scatter(embedding[inside, 0], embedding[inside, 1], s=8, alpha=0.7, label=name)
        ax.set_xlabel("spectral coordinate 1")
        ax.set_ylabel("spectral coordinate 2")
        ax.legend(fontsize=7, loc="best", frameon=False)
        return _png(figure)
