"""The headline figures of a run as one flat list: what the model card and MLflow report.

One producer of the list, so the two exports name and pick figures the same way: the accuracy
(overall and per class), each method's at-a-glance figures, the centre baseline, and every
figure of the behavioural test (background reliance, BG-Gap where the run has it, ...).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from audit.cams.methods import ordered_methods
from audit.summary import RunSummary, Stat

__all__ = ["Figure", "headline_figures", "metric_key"]

_UNSAFE = re.compile(r"[^0-9A-Za-z_\-. /]")


@dataclass(frozen=True)
class Figure:
    """One figure: ``key`` (``gradcam.pointing_accuracy``), ``value``, its 95% interval (or
    None), the ``slice`` it covers (``overall``, ``class=cat``) and its ``n``."""

    key: str
    value: float
    ci: tuple[float, float] | None = None
    slice: str = "overall"
    n: int | None = None


def metric_key(*parts: str) -> str:
    """A figure's key from its parts, with the characters MLflow refuses replaced by ``_``.

    >>> metric_key("accuracy", "class", "<b>cat</b>")
    'accuracy.class._b_cat_/b_'
    """
    return ".".join(_UNSAFE.sub("_", str(p)) for p in parts)


def _stat(key: str, value, stat: Stat | None, slice_: str = "overall") -> list[Figure]:
    if value is None:
        return []
    ci = tuple(stat.ci) if stat is not None and stat.ci else None
    return [Figure(key, float(value), ci, slice_, stat.n if stat is not None else None)]


def headline_figures(summary: RunSummary) -> list[Figure]:
    """Every headline figure of ``summary`` that is defined, in a fixed order."""
    out = _stat("accuracy", summary.accuracy, summary.correct)
    for name, figures in summary.per_class.items():
        out += _stat(metric_key("accuracy", "class", name), figures.accuracy, figures.correct,
                     f"class={name}")
    out += _stat("centre_baseline", summary.centre_baseline.mean, summary.centre_baseline)
    for method in ordered_methods(summary.methods):
        f = summary.methods[method]
        out += _stat(metric_key(method, "background_fixation_rate"),
                     f.background_fixation_rate, f.background_fixation)
        out += _stat(metric_key(method, "background_fixation_per_sample"),
                     f.background_fixation_per_sample.mean, f.background_fixation_per_sample)
        out += _stat(metric_key(method, "energy_in_box", "correct"),
                     f.energy_in_box.correct.mean, f.energy_in_box.correct)
        out += _stat(metric_key(method, "energy_in_box", "misclassified"),
                     f.energy_in_box.misclassified.mean, f.energy_in_box.misclassified)
        out += _stat(metric_key(method, "pointing_accuracy"), f.pointing_accuracy,
                     f.pointing_hit.all)
        out += _stat(metric_key(method, "localization_accuracy"), f.localization_accuracy,
                     f.loc_correct.all)
    behaviour = summary.behaviour
    if behaviour is not None:
        # Every estimate of the behavioural test, so that a figure added there (BG-Gap of the
        # background swap) is exported without a change here.
        for name, value in behaviour:
            if hasattr(value, "ci_low") and getattr(value, "value", None) is not None:
                ci = (value.ci_low, value.ci_high) if value.ci_low is not None \
                    and value.ci_high is not None else None
                out.append(Figure(metric_key("behaviour", name), float(value.value), ci,
                                  "overall", value.n))
    return out
