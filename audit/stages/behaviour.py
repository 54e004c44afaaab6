"""Stage ``behaviour`` (per batch): the model on each image with its object removed and with its
background removed, no explainer involved.

The edits are made on the image's pixels (uint8, at the model's input size) before the model's
preprocessing, so a fill means the same colour whatever the model expects; the region is the
sample's mask, else its boxes (:mod:`audit.datasets.regions`). Both edited copies go through the
model
in the same fixed-shape micro-batches as the rest of the audit. The idea is ImageNet-9's
Only-FG / Only-BG images (Xiao et al., arXiv 2006.09994).
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
from audit.evidence import background_decision, remove_background, remove_object
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


def behaviour(behaviour: BehaviourSection, explainer: CamExplainer, batch: Batch,
              predictions: Predictions, class_names: list[str], model_info: ModelInfo
              ) -> list[SampleRow]:
    """One :class:`SampleRow` per audited sample of the batch (a pure function of model and
    batch). Samples without a box or mask have no edited copies: their behaviour columns are
    empty."""
    require_single_label(model_info, "behaviour")
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
        out.append(SampleRow(
            **base, keeps_without_object=keeps_object,
            keeps_without_background=keeps_background,
            prob_without_object=float(p_object[predicted[i]]),
            prob_without_background=float(p_background[predicted[i]]),
            background_decision=background_decision(base["correct"], keeps_object,
                                                    keeps_background),
            predicted_without_object=class_names[int(np.argmax(p_object))],
            predicted_without_background=class_names[int(np.argmax(p_background))]))
    return out
