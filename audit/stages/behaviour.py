"""Stage ``behaviour`` (per batch): the model on each image with its object removed and with its
background removed, no explainer involved.

The edits are made on the image's pixels (uint8, at the model's input size) before the model's
preprocessing, so a fill means the same colour whatever the model expects; the region is the
sample's mask, else its boxes (:mod:`audit.datasets.regions`). Both edited copies go through the
model
in the same fixed-shape micro-batches as the rest of the audit. The idea is ImageNet-9's
Only-FG / Only-BG images (Xiao et al., arXiv 2006.09994).

With the ``background_swap`` stage in the pipeline (its ``swaps``, an optional input), each row
also carries the sample's Mixed-Same and Mixed-Rand decisions, and ``background_decision`` is
taken from the strongest behavioural evidence there is for the sample: the swap (no fill
involved) where it could be made, the fill test otherwise (``background_evidence`` says
which; both verdicts are kept, ``background_decision_swap`` and
``background_decision_fill``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from audit.cams import CamExplainer, Predictions
from audit.config import BehaviourSection
from audit.datasets import Batch
from audit.datasets.preprocessing import to_channels
from audit.datasets.regions import region_mask, resize_region
from audit.evidence import background_decision, remove_background, remove_object, swap_decision
from audit.stages.background_swap import SwapResult
from audit.stages.cost import RunShape
from audit.stages.load_model import ModelInfo, require_single_label

__all__ = ["SampleRow", "behaviour", "edited_images"]

NAN = math.nan


@dataclass(frozen=True)
class SampleRow:
    """One audited sample, and what the model decides without its object or background."""

    sample_id: str
    image: str
    label: str
    predicted: str
    correct: bool
    confidence: float
    keeps_without_object: float = NAN
    keeps_without_background: float = NAN
    prob_without_object: float = NAN
    prob_without_background: float = NAN
    background_decision: float = NAN
    predicted_without_object: str = ""
    predicted_without_background: str = ""
    background_decision_fill: float = NAN
    background_decision_swap: float = NAN
    background_evidence: str = ""  # "swap", "fill" or "" (no region)
    donor_same: str = ""
    donor_rand: str = ""
    donor_rand_label: str = ""
    predicted_mixed_same: str = ""
    predicted_mixed_rand: str = ""
    correct_mixed_same: float = NAN
    correct_mixed_rand: float = NAN
    background_class: str = ""  # the model's decision on the Mixed-Rand donor's background
    # Mixed-Rand decision == background_class (NaN where that is the sample's own class)
    follows_background: float = NAN


def edited_images(batch: Batch, *, fill: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(rows, without_object, without_background)``: the batch rows that have a region and
    their two edited uint8 RGB copies at the model's input size."""
    height, width = batch.display.shape[1:3]
    rows, no_object, no_background = [], [], []
    for i, sample in enumerate(batch.samples):
        region = region_mask(sample, batch.masks[i], batch.original_sizes[i])
        if not region.any():
            continue
        region = resize_region(region, (height, width))
        rows.append(i)
        no_object.append(remove_object(batch.display[i], region, fill=fill))
        no_background.append(remove_background(batch.display[i], region, fill=fill))
    empty = np.zeros((0, height, width, 3), np.uint8)
    return (np.array(rows, dtype=np.int64), np.stack(no_object) if rows else empty,
            np.stack(no_background) if rows else empty)


def _swap_columns(swap: SwapResult | None, correct: bool, label: int,
                  class_names: list[str]) -> dict:
    """The Mixed-Same / Mixed-Rand columns of one row (empty without a swap)."""
    if swap is None:
        return {}
    out: dict = {"donor_same": swap.donor_same, "donor_rand": swap.donor_rand}
    if swap.predicted_mixed_same >= 0:
        out["predicted_mixed_same"] = class_names[swap.predicted_mixed_same]
        out["correct_mixed_same"] = float(swap.predicted_mixed_same == label)
    if swap.predicted_mixed_rand >= 0:
        out["donor_rand_label"] = class_names[swap.donor_rand_class]
        out["predicted_mixed_rand"] = class_names[swap.predicted_mixed_rand]
        out["correct_mixed_rand"] = float(swap.predicted_mixed_rand == label)
        out["background_class"] = class_names[swap.background_class]
        if swap.background_class != label:  # else object and background say the same
            out["follows_background"] = float(
                swap.predicted_mixed_rand == swap.background_class)
            out["background_decision_swap"] = swap_decision(
                correct, swap.predicted_mixed_rand, swap.background_class)
    return out


def behaviour(behaviour: BehaviourSection, explainer: CamExplainer, batch: Batch,
              predictions: Predictions, class_names: list[str], model_info: ModelInfo,
              swaps: dict[str, SwapResult] | None = None) -> list[SampleRow]:
    """One :class:`SampleRow` per audited sample of the batch (a pure function of model and
    batch). Samples without a box or mask have no edited copies: their behaviour columns are
    empty. ``swaps`` (the ``background_swap`` stage's, None without it) adds the Mixed
    columns; ``background_decision`` is then the swap's verdict where there is one (a
    decision on a background the model reads as another class than the object's), the fill
    test's otherwise."""
    require_single_label(model_info, "behaviour")
    swaps = swaps or {}
    rows, no_object, no_background = edited_images(batch, fill=behaviour.fill)
    predicted = predictions.predicted
    edited: dict[int, tuple] = {}
    if len(rows):
        both = np.concatenate([no_object, no_background])
        images = model_info.preprocessor(to_channels(both, model_info.channels))
        probs = explainer.predict(np.asarray(images, np.float32)).probabilities
        without_object, without_background = probs[:len(rows)], probs[len(rows):]
        for j, row in enumerate(rows):
            edited[int(row)] = (without_object[j], without_background[j])
    out = []
    for i, sample in enumerate(batch.samples):
        base = dict(sample_id=sample.sample_id, image=sample.image,
                    label=class_names[sample.label], predicted=class_names[int(predicted[i])],
                    correct=bool(predicted[i] == sample.label),
                    confidence=float(predictions.probabilities[i, predicted[i]]))
        if i not in edited:
            out.append(SampleRow(**base))
            continue
        p_object, p_background = edited[i]
        keeps_object = float(np.argmax(p_object) == predicted[i])
        keeps_background = float(np.argmax(p_background) == predicted[i])
        by_fill = background_decision(base["correct"], keeps_object, keeps_background)
        swapped = _swap_columns(swaps.get(sample.sample_id), base["correct"], sample.label,
                                class_names)
        by_swap = swapped.get("background_decision_swap", NAN)
        use_swap = "follows_background" in swapped
        out.append(SampleRow(
            **base, keeps_without_object=keeps_object,
            keeps_without_background=keeps_background,
            prob_without_object=float(p_object[predicted[i]]),
            prob_without_background=float(p_background[predicted[i]]),
            background_decision=by_swap if use_swap else by_fill,
            predicted_without_object=class_names[int(np.argmax(p_object))],
            predicted_without_background=class_names[int(np.argmax(p_background))],
            background_decision_fill=by_fill,
            background_evidence="swap" if use_swap else "fill", **swapped))
    return out


def behaviour_cost(shape: RunShape) -> tuple[float, str]:
    """Two edited copies of every image (object removed, background removed)."""
    return 2.0 * shape.n, "2 edited copies per image"
