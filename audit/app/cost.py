"""What an audit will cost, before it runs: forward passes per image, stage by stage, and a
time estimate from one timed batch (``cam-audit validate``).

A forward pass of the model is the unit: predicting a batch costs one per image; the gradient
methods share one forward and one (partial) backward pass per map, counted as one; Score-CAM
costs one masked pass per weighted channel per map; the evidence stages cost what their
definitions say (:mod:`audit.stages.behaviour`, :mod:`audit.stages.faithfulness`,
:mod:`audit.stages.sanity`). Stages that run on a capped subset cost the same whatever the
dataset's size, so their share per image falls as the dataset grows.
"""

from __future__ import annotations

from dataclasses import dataclass

from audit.cams.methods import METHODS
from audit.config import AuditConfig

__all__ = ["COSTLY_SECONDS", "StageCost", "format_cost", "stage_costs"]

#: Above this estimated run time, ``cam-audit validate`` warns.
COSTLY_SECONDS = 3600.0


@dataclass(frozen=True)
class StageCost:
    """Forward passes a stage costs over the whole run, and how they come about."""

    stage: str
    passes: float
    how: str


def _explain_passes(config: AuditConfig, channels: int) -> tuple[float, str]:
    """Forward passes of one image's maps: the shared gradient pass, plus Score-CAM's."""
    kinds = {METHODS[m].kind for m in config.cams.methods}
    shared = 1.0 if kinds - {"perturbation"} else 0.0
    budget = config.cams.scorecam_channels
    k = channels if budget is None else min(channels, budget)
    masked = float(k) if "perturbation" in kinds else 0.0
    how = "one shared pass" if shared else ""
    if masked:
        how += (" + " if how else "") + f"Score-CAM {k} of {channels} channels"
    return shared + masked, how


def stage_costs(config: AuditConfig, stages: list[str], *, n_samples: int,
                layer_channels: int, error_rate: float) -> list[StageCost]:
    """Forward passes of every stage of ``stages`` over ``n_samples`` samples, of which a
    share ``error_rate`` is expected to be misclassified (their true class is explained too).
    """
    n = max(1, n_samples)
    per_map, how = _explain_passes(config, layer_channels)
    maps_per_image = 1.0 + (error_rate if "true" in config.cams.targets else 0.0)
    deciding = [m for m in config.cams.methods if METHODS[m].kind != "counter-evidence"]
    out = []
    if "predict" in stages:
        out.append(StageCost("predict", n, "1 per image"))
    if "explain" in stages:
        out.append(StageCost("explain", n * per_map * maps_per_image,
                             f"{how}, x {maps_per_image:.2f} maps per image"))
    if "behaviour" in stages:
        out.append(StageCost("behaviour", 2.0 * n, "2 edited copies per image"))
    if "label_behaviour" in stages:  # multi-label: per true positive label, about one an image
        out.append(StageCost("label_behaviour", 2.0 * n,
                             "2 edited copies per true positive label (about 1 per image)"))
    if "faithfulness" in stages:
        subset = min(config.faithfulness.max_samples, n)
        n_maps = len(deciding) + 2  # the random and centre baselines
        ladder = 2 * (config.faithfulness.steps - 1) + 1
        passes = subset * (n_maps * ladder + 2 + per_map)
        out.append(StageCost("faithfulness", passes,
                             f"{subset} samples x {n_maps} maps x {ladder} passes"))
    if "sanity" in stages:
        subset = min(config.sanity.samples, n)
        states = config.sanity.steps + 1  # the model as it is, then each randomisation step
        passes = subset * states * per_map
        out.append(StageCost("sanity", passes, f"{subset} samples x {states} states of the "
                                               "model (as trained, then each step)"))
    if "gallery" in stages:
        shown = min(config.report.gallery_size, n)
        out.append(StageCost("gallery", 2 * shown * per_map,
                             f"{shown} samples explained again"))
    return out


def format_cost(costs: list[StageCost], *, n_samples: int,
                seconds_per_pass: float | None) -> tuple[list[str], bool]:
    """Lines for ``cam-audit validate`` and whether the run looks costly."""
    total = sum(c.passes for c in costs)
    per_image = total / max(1, n_samples)
    lines = [f"cost: about {per_image:,.1f} forward passes per image "
             f"({total:,.0f} for {n_samples} samples)"]
    lines += [f"  {c.stage:12s} {c.passes:>12,.0f}  {c.how}" for c in costs]
    costly = False
    if seconds_per_pass is not None:
        seconds = total * seconds_per_pass
        costly = seconds > COSTLY_SECONDS
        lines.append(f"one forward pass: {1000 * seconds_per_pass:.1f} ms per image (timed on "
                     f"the first batch): about {_duration(seconds)} in all")
    return lines, costly


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
