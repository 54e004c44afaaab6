"""Stage ``explain`` (per batch): the model's predictions and the raw CAMs of the predicted
class, and of the true class for misclassified samples, from one forward pass per image.

The explained layer's activations, the logits and the probabilities come out of the same model
call (:meth:`CamExplainer.explain_targets`); the predicted class is chosen from them and every
target's gradient, and Score-CAM's masked passes, follow from that pass. A pipeline with this
stage therefore has no ``predict`` stage (both make ``predictions``); ``predict`` remains for
pipelines without maps.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from audit.cams import PREDICTED, CamExplainer, CamMaps, Predictions
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


def target_columns(labels: np.ndarray, targets: Sequence[str]) -> np.ndarray:
    """The engine's targets ``(N, T)``, one column per target kind: ``predicted`` is
    :data:`~audit.cams.PREDICTED`, ``true`` the sample's label."""
    columns = [np.full(len(labels), PREDICTED, np.int64) if t == "predicted" else labels
               for t in targets]
    return np.stack(columns, axis=1).astype(np.int64)


def explain_batch(explainer: CamExplainer, images: np.ndarray, labels: np.ndarray, *,
                  methods: Sequence[str], targets: Sequence[str]
                  ) -> tuple[Predictions, list[TargetMaps]]:
    """Predictions, and maps for ``targets``: ``predicted`` for every sample, ``true`` for
    misclassified ones, all from one forward pass per micro-batch.

    A target with no sample (``true`` in a batch without errors) is left out. The true class's
    map of a correctly classified sample is the predicted class's: it is computed in the same
    pass (a short backward pass) and dropped.
    """
    labels = np.asarray(labels, dtype=np.int64)
    out = explainer.explain_targets(images, target_columns(labels, targets), tuple(methods),
                                    upsample=False, normalize=False)
    predicted = out.predictions.predicted.astype(np.int64)
    kept = []
    for slot, target in enumerate(targets):
        rows = (np.arange(len(predicted)) if target == "predicted"
                else np.flatnonzero(predicted != labels))
        if len(rows) == 0:
            continue
        kept.append(TargetMaps(target, rows, out.classes[rows, slot], out.target(slot, rows)))
    return out.predictions, kept


def explain(cams: CamsSection, explainer: CamExplainer, batch: Batch
            ) -> tuple[Predictions, list[TargetMaps]]:
    """Predictions and the raw maps of every configured method and target for one batch."""
    labels = np.array([s.label for s in batch.samples], dtype=np.int64)
    return explain_batch(explainer, batch.images, labels, methods=cams.methods,
                         targets=cams.targets)


def explain_cost(shape: RunShape) -> tuple[float, str]:
    """One forward pass per image (the predictions and every target's gradients come from it),
    plus Score-CAM's masked passes, which serve every target."""
    per_map, how = shape.map_passes
    rest = how.removeprefix("one shared pass").removeprefix(" + ")
    how = "one pass (predictions and every target)" + (f" + {rest}" if rest else "")
    maps = shape.maps_per_image
    return (shape.n * (1.0 + per_map - shape.shared_pass),
            f"{how}, for {maps:.2f} maps per image")
