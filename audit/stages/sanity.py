"""Stage ``sanity``: do the maps depend on what the model learnt?

Cascading model-parameter randomisation (Adebayo et al. 2018, arXiv 1810.03292): on a copy of
the model (the user's model object and file stay untouched), the weighted layers are
re-initialised from the output towards the input in ``sanity.steps`` cumulative groups (at most
one per weighted layer), and each method's maps of the same samples and classes are computed
again after every step. A map that stays the same while the model's knowledge is destroyed
explains the architecture or the image, not the decision. Similarity is measured per sample by
Spearman rank correlation and SSIM (``skimage.metrics.structural_similarity``) against the
original maps, and averaged.

A method passes when its mean Spearman correlation after full randomisation is below
``sanity.max_similarity``. A randomised model often gives an all-zero (degenerate) map: against
a non-constant original that is no rank agreement at all, counted as 0; a sample whose original
map is itself constant is left out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from audit.cams import CamExplainer
from audit.cams.methods import ordered_methods
from audit.config import CamsSection, SanitySection
from audit.datasets import DatasetManifest
from audit.evidence import (
    cascading_randomization,
    choose_subset,
    spearman,
    ssim,
    weighted_layers,
)
from audit.stages.cost import RunShape
from audit.stages.load_model import ModelInfo, require_single_label
from audit.stages.reload import classes_of, decisions, reload

__all__ = ["SanityResult", "map_similarity", "sanity"]


@dataclass(frozen=True)
class SanityResult:
    """Per method, the mean similarity to the original maps after each step (the first entry:
    no randomisation), and the layers randomised at each step."""

    n: int
    layers: list[int]
    spearman: dict[str, list[float | None]]
    ssim: dict[str, list[float | None]]


def map_similarity(original: np.ndarray, randomised: np.ndarray) -> tuple[float, float]:
    """Spearman and SSIM of two maps scaled to [0, 1]; see the module's note on constants."""
    rho = spearman(original, randomised)
    if math.isnan(rho):
        constant_original = np.ptp(original) == 0
        rho = math.nan if constant_original else 0.0
    return rho, ssim(original, randomised)


def _mean(values: list[float]) -> float | None:
    defined = [v for v in values if not math.isnan(v)]
    return float(np.mean(defined)) if defined else None


def sanity(sanity: SanitySection, cams: CamsSection, seed: int, records: pd.DataFrame,
           manifest: DatasetManifest, explainer: CamExplainer, model_info: ModelInfo
           ) -> SanityResult:
    """The similarity curves of every configured method on ``sanity.samples`` samples."""
    require_single_label(model_info, "sanity")
    decided = decisions(records)
    chosen = choose_subset(decided["sample_id"].tolist(), decided["correct"].tolist(),
                           max_samples=sanity.samples, seed=seed)
    methods = tuple(ordered_methods(cams.methods))
    batches = [b for b in reload(chosen, manifest=manifest, model_info=model_info,
                                 batch_size=len(chosen) or 1) if len(b)]
    if not batches:
        return SanityResult(0, [], {m: [] for m in methods}, {m: [] for m in methods})
    batch = batches[0]
    classes = classes_of(batch, decided)
    original = explainer.explain(batch.images, classes, methods)
    rho = {m: [1.0] for m in methods}
    structure = {m: [1.0] for m in methods}
    layers = [0]
    steps = min(sanity.steps, len(weighted_layers(explainer.model)))
    randomised = None
    for step in cascading_randomization(explainer.model, steps=steps, seed=seed,
                                        safe_mode=model_info.safe_mode):
        # Every step re-initialises more layers of the same copy in place: one explainer of
        # the copy, traced once, reads the new weights at each step (its graphs capture the
        # variables, not their values).
        if randomised is None or randomised.model is not step.model:
            randomised = explainer.with_model(step.model)
        maps = randomised.explain(batch.images, classes, methods)
        for method in methods:
            pairs = [map_similarity(original[method][i], maps[method][i])
                     for i in range(len(batch))]
            rho[method].append(_mean([p[0] for p in pairs]))
            structure[method].append(_mean([p[1] for p in pairs]))
        layers.append(len(step.layers))
    return SanityResult(len(batch), layers, rho, structure)


def sanity_cost(shape: RunShape) -> tuple[float, str]:
    """On the capped subset: the maps of the model as trained and after each randomisation
    step."""
    subset = min(shape.config.sanity.samples, shape.n)
    states = shape.config.sanity.steps + 1  # the model as it is, then each randomisation step
    return (subset * states * shape.per_map,
            f"{subset} samples x {states} states of the model (as trained, then each step)")
