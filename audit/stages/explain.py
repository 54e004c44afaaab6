"""Stage ``explain`` (per batch): raw CAMs of the predicted class, and of the true class for
misclassified samples."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from audit.cams import CamExplainer, CamMaps, Predictions
from audit.config import CamsSection
from audit.datasets import Batch
from audit.stages.cost import RunShape


@dataclass(frozen=True)
class TargetMaps:
    """Raw maps (layer resolution) of one target kind for the samples ``rows`` of a batch."""

    target: str
    rows: np.ndarray  # indices into the batch
    class_idx: np.ndarray
    maps: CamMaps


def explain_batch(explainer: CamExplainer, images: np.ndarray, predicted: np.ndarray,
                  labels: np.ndarray, *, methods: Sequence[str], targets: Sequence[str]
                  ) -> list[TargetMaps]:
    """Maps for ``targets``: ``predicted`` for every sample, ``true`` for misclassified ones.

    A target with no sample (``true`` in a batch without errors) is left out.
    """
    out = []
    for target in targets:
        if target == "predicted":
            rows = np.arange(len(predicted))
            classes = predicted
        else:
            rows = np.flatnonzero(predicted != labels)
            classes = labels[rows]
        if len(rows) == 0:
            continue
        maps = explainer.explain(images[rows], classes.astype(np.int64), tuple(methods),
                                 upsample=False, normalize=False)
        out.append(TargetMaps(target, rows, classes, maps))
    return out


def explain(cams: CamsSection, explainer: CamExplainer, batch: Batch,
            predictions: Predictions) -> list[TargetMaps]:
    """Raw maps of every configured method and target for one batch."""
    labels = np.array([s.label for s in batch.samples], dtype=np.int64)
    return explain_batch(explainer, batch.images, predictions.predicted.astype(np.int64), labels,
                         methods=cams.methods, targets=cams.targets)


def explain_cost(shape: RunShape) -> tuple[float, str]:
    """The passes of every map (:attr:`RunShape.map_passes`), for the predicted class and the
    true class of the expected errors."""
    per_map, how = shape.map_passes
    maps = shape.maps_per_image
    return shape.n * per_map * maps, f"{how}, x {maps:.2f} maps per image"
