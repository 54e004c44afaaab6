"""The key figures two runs are compared on: what each one is and where it comes from.

One catalogue serves the report's baseline table, ``cam-audit compare``, ``comparison.json``
and the run history: a figure's name, whether it is a proportion or a mean, its better
direction, the samples it is conditional on (and the unconditional companion that carries its
assessment when those samples change), how to read it from a summary and, for pairing, how to
read each sample's outcome from ``records.csv``.

To add a figure, add a :class:`FigureSpec` to :data:`METHOD_FIGURES` or :data:`RUN_FIGURES`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from audit.cams.methods import METHODS, ordered_methods
from audit.metrics.outcomes import fixation_outcomes
from audit.summary import MethodFigures, Proportion, Stat, Summary

__all__ = [
    "METHOD_FIGURES",
    "RUN_FIGURES",
    "FigureSpec",
    "FigureValue",
    "figure_title",
    "key_figures",
    "sample_outcomes",
]

Kind = Literal["proportion", "mean"]
Condition = Literal["correct", "misclassified"]


@dataclass(frozen=True)
class FigureSpec:
    """One key figure.

    Attributes
    ----------
    name : str
        Its key: ``"accuracy"``, or for a method figure the suffix after ``<method>.``.
    label : str
        What people read.
    kind : {"proportion", "mean"}
        A share of samples (tested as counts) or a mean of a continuous score.
    unit : {"pct", "num"}
        How its value is shown.
    better : {"higher", "lower"}
        The better direction (none for counter-evidence methods, whatever this says).
    condition : {"correct", "misclassified"} or None
        The samples it is taken over, when not all: it changes meaning when their number
        changes.
    companion : str or None
        The unconditional figure (a ``name`` of the same method) that carries the assessment
        when the conditioning samples change significantly.
    read : callable
        The figure's :class:`~audit.summary.Stat` (or
        :class:`~audit.summary.Proportion`) from the summary (run figures) or the method's
        figures (method figures).
    available : callable or None
        Whether a run has the figure at all (the behavioural figures need the ``behaviour``
        stage); None: every run has it.
    outcome : callable or None
        For pairing: the per-sample values (1/0/NaN or scores, NaN where undefined) from the
        rows of ``records.csv`` of one run: every row of the run for a run figure (one per
        sample is used), the predicted-class rows of the method for a method figure. None for
        a conditional figure: it is never paired.
    """

    name: str
    label: str
    kind: Kind
    unit: Literal["pct", "num"]
    better: Literal["higher", "lower"]
    condition: Condition | None
    companion: str | None
    read: Callable
    outcome: Callable[[pd.DataFrame], np.ndarray] | None
    available: Callable[[Summary], bool] | None = None


def _accuracy(summary: Summary) -> Proportion:
    if summary.correct.n or summary.accuracy is None:
        return summary.correct
    # Written before accuracy recorded its count: n is every audited sample.
    n = summary.n_samples
    return Proportion(n=n, count=int(round(summary.accuracy * n)), mean=summary.accuracy,
                      ci=summary.accuracy_ci)


def _column(name: str) -> Callable[[pd.DataFrame], np.ndarray]:
    def read(rows: pd.DataFrame) -> np.ndarray:
        return rows[name].to_numpy(dtype=np.float64, na_value=np.nan)
    return read


def _has_behaviour(summary: Summary) -> bool:
    return summary.behaviour is not None


def _behaviour(name: str, *, share: bool) -> Callable[[Summary], Stat]:
    """A behavioural figure as a Stat (a Proportion for a share); empty without the stage."""
    def read(summary: Summary) -> Stat:
        if summary.behaviour is None:
            return Proportion() if share else Stat()
        e = getattr(summary.behaviour, name)
        ci = (e.ci_low, e.ci_high) if e.ci_low is not None else None
        fields = dict(n=e.n, mean=e.value, ci=ci, method=e.method, too_few=e.too_few)
        if share:
            return Proportion(**fields, count=e.count if e.count is not None
                              else int(round((e.value or 0.0) * e.n)))
        return Stat(**fields)
    return read


#: Figures of the run as a whole. The behavioural ones (explainer-free) come from
#: ``samples.csv``, which comparisons do not pair: they are compared by their intervals.
RUN_FIGURES: tuple[FigureSpec, ...] = (
    FigureSpec("accuracy", "accuracy", "proportion", "pct", "higher", None, None, _accuracy,
               _column("correct")),
    FigureSpec("background_reliance", "background reliance (behaviour)", "mean", "num",
               "lower", None, None, _behaviour("background_reliance", share=False), None,
               _has_behaviour),
    FigureSpec("background_decision_rate", "background-decided errors among errors "
               "(behaviour)", "proportion", "pct", "lower", "misclassified",
               "background_decision_per_sample",
               _behaviour("background_decision_rate", share=True), None, _has_behaviour),
    FigureSpec("background_decision_per_sample", "background-decided errors per sample "
               "(behaviour)", "proportion", "pct", "lower", None, None,
               _behaviour("background_decision_per_sample", share=True), None, _has_behaviour),
)

#: Figures of each CAM method, over the maps of the predicted class, in display order.
METHOD_FIGURES: tuple[FigureSpec, ...] = (
    FigureSpec("background_fixation_rate", "background fixation rate among errors",
               "proportion", "pct", "lower", "misclassified", "background_fixation_per_sample",
               lambda m: m.background_fixation, None),
    FigureSpec("background_fixation_per_sample", "background-fixated errors per sample",
               "proportion", "pct", "lower", None, None,
               lambda m: m.background_fixation_per_sample, fixation_outcomes),
    FigureSpec("energy_in_box.all", "energy in box, all samples", "mean", "pct", "higher", None,
               None, lambda m: m.energy_in_box.all, _column("energy_in_box")),
    FigureSpec("energy_in_box.correct", "energy in box, correct", "mean", "pct", "higher",
               "correct", "energy_in_box.all", lambda m: m.energy_in_box.correct, None),
    FigureSpec("energy_in_box.misclassified", "energy in box, misclassified", "mean", "pct",
               "higher", "misclassified", "energy_in_box.all",
               lambda m: m.energy_in_box.misclassified, None),
    FigureSpec("pointing_accuracy", "pointing accuracy", "proportion", "pct", "higher", None,
               None, lambda m: m.pointing_hit.all, _column("pointing_hit")),
    FigureSpec("localization_accuracy", "localisation accuracy", "proportion", "pct", "higher",
               None, None, lambda m: m.loc_correct.all, _column("loc_correct")),
)

_BY_NAME = {spec.name: spec for spec in (*RUN_FIGURES, *METHOD_FIGURES)}


@dataclass(frozen=True)
class FigureValue:
    """One key figure of one run."""

    key: str  # "accuracy", "gradcam.background_fixation_per_sample", ...
    spec: FigureSpec
    method: str | None
    stat: Stat  # a Proportion for proportions
    better: Literal["higher", "lower"] | None  # None for counter-evidence

    @property
    def companion_key(self) -> str | None:
        """The key of the unconditional companion (same method)."""
        if self.spec.companion is None:
            return None
        return f"{self.method}.{self.spec.companion}" if self.method else self.spec.companion


def _counter_evidence(method: str) -> bool:
    known = METHODS.get(method)
    return known is not None and known.kind == "counter-evidence"


def figure_title(key: str) -> str:
    """``"gradcam.pointing_accuracy"`` -> ``"Grad-CAM pointing accuracy"``.

    >>> figure_title("accuracy"), figure_title("gradcam++.energy_in_box.all")
    ('accuracy', 'Grad-CAM++ energy in box, all samples')
    """
    method, _, name = key.partition(".") if key not in _BY_NAME else ("", "", key)
    spec = _BY_NAME.get(name)
    label = spec.label if spec else name
    if not method:
        return label
    known = METHODS.get(method)
    return f"{known.title if known else method} {label}"


def key_figures(summary: Summary) -> list[FigureValue]:
    """The key figures of a run: :data:`RUN_FIGURES`, then per method (in registry order)
    :data:`METHOD_FIGURES`. Counter-evidence methods have no better direction."""
    figures = [FigureValue(spec.name, spec, None, spec.read(summary), spec.better)
               for spec in RUN_FIGURES if spec.available is None or spec.available(summary)]
    for method in ordered_methods(summary.methods):
        data: MethodFigures = summary.methods[method]
        better_none = _counter_evidence(method)
        figures += [FigureValue(f"{method}.{spec.name}", spec, method, spec.read(data),
                                None if better_none else spec.better)
                    for spec in METHOD_FIGURES]
    return figures


def sample_outcomes(records: pd.DataFrame, figure: FigureValue) -> pd.Series | None:
    """Each sample's value of ``figure`` in one run, indexed by ``sample_id`` (NaN where
    undefined); None when the figure is not paired (conditional) or the run has no maps of
    its method."""
    if figure.spec.outcome is None:
        return None
    if figure.method is None:
        rows = records.drop_duplicates("sample_id")
    else:
        rows = records[(records["method"].astype(str) == figure.method)
                       & (records["target"].astype(str) == "predicted")]
        if rows.empty:
            return None
        rows = rows.drop_duplicates("sample_id")
    return pd.Series(figure.spec.outcome(rows), index=rows["sample_id"].astype(str).to_numpy())
