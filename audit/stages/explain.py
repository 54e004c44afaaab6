"""Stage ``explain`` (per batch): the model's predictions and the raw CAMs of the predicted
class, and of the true class for misclassified samples, from one forward pass per image.

The explained layer's activations, the logits and the probabilities come out of the same model
call (:meth:`CamExplainer.explain_targets`); the predicted class is chosen from them and every
target's gradient, and Score-CAM's masked passes, follow from that pass. A pipeline with this
stage therefore has no ``predict`` stage (both make ``predictions``); ``predict`` remains for
pipelines without maps.

A multi-label model has several target classes per sample (:func:`label_set_targets`): target
``predicted`` explains every class it predicts (its true and its false positives), target
``true`` every label of the image it missed (its false negatives). Its targets depend on its
decisions, so it takes two passes (:func:`explain_label_sets`): one for the probabilities,
thresholded into label sets, then one for the maps of every target class.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from audit.cams import NO_TARGET, PREDICTED, CamExplainer, CamMaps, Explanation, Predictions
from audit.config import CamsSection
from audit.datasets import Batch
from audit.datasets.label_sets import label_matrix
from audit.stages.cost import RunShape
from audit.stages.load_model import ModelInfo
from audit.stages.predict import label_decisions


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


#: Which classes each target explains: ``(target, rows, classes)``, ``rows`` indexing the batch
#: (a row may repeat: one entry per target class of the sample).
TargetPlan = list[tuple[str, np.ndarray, np.ndarray]]


def label_set_targets(positive: np.ndarray, truth: np.ndarray,
                      targets: Sequence[str]) -> TargetPlan:
    """A multi-label model's targets from ``bool (N, C)`` decisions and labels: ``predicted``
    every predicted class (true and false positives), ``true`` every missed label (false
    negatives); sample by sample, classes in index order.

    Examples
    --------
    >>> plan = label_set_targets(np.array([[1, 1], [0, 0]], bool),
    ...                          np.array([[1, 0], [0, 1]], bool), ["predicted", "true"])
    >>> [(t, rows.tolist(), classes.tolist()) for t, rows, classes in plan]
    [('predicted', [0, 0], [0, 1]), ('true', [1], [1])]
    """
    chosen = {"predicted": positive, "true": truth & ~positive}
    return [(target, *(axis.astype(np.int64) for axis in np.nonzero(chosen[target])))
            for target in targets]


def explain_label_sets(explainer: CamExplainer, images: np.ndarray, positive: np.ndarray,
                       truth: np.ndarray, *, methods: Sequence[str], targets: Sequence[str]
                       ) -> list[TargetMaps]:
    """A multi-label model's maps: every target class of :func:`label_set_targets`, from one
    :meth:`CamExplainer.explain_targets` call (each sample's target classes in slots, a shorter
    list padded with :data:`~audit.cams.NO_TARGET`, whose maps are dropped).

    A target with no sample is left out; so is every target of a batch with none.
    """
    plan = label_set_targets(positive, truth, targets)
    per_row: list[list[int]] = [[] for _ in range(len(images))]
    slots = []
    for _, rows, classes in plan:
        slot = np.empty(len(rows), np.int64)
        for k, (row, cls) in enumerate(zip(rows.tolist(), classes.tolist(), strict=True)):
            slot[k] = len(per_row[row])
            per_row[row].append(int(cls))
        slots.append(slot)
    width = max((len(row) for row in per_row), default=0)
    if width == 0:
        return []
    columns = np.full((len(images), width), NO_TARGET, np.int64)
    for i, row in enumerate(per_row):
        columns[i, :len(row)] = row
    out = explainer.explain_targets(images, columns, tuple(methods), upsample=False,
                                    normalize=False)
    return [TargetMaps(target, rows, classes, _slots(out, rows, slot))
            for (target, rows, classes), slot in zip(plan, slots, strict=True) if len(rows)]


def _slots(out: Explanation, rows: np.ndarray, slots: np.ndarray) -> CamMaps:
    """The maps of slot ``slots[k]`` of image ``rows[k]``, as ``method -> (len(rows), h, w)``."""
    maps = CamMaps(layer_name=out.maps.layer_name, channels=dict(out.maps.channels))
    for method, stack in out.maps.items():
        maps[method] = stack[rows, slots]
        maps.degenerate[method] = out.maps.degenerate[method][rows, slots]
    return maps


def explain(cams: CamsSection, explainer: CamExplainer, batch: Batch, model_info: ModelInfo
            ) -> tuple[Predictions, list[TargetMaps]]:
    """Predictions and the raw maps of every configured method and target for one batch; for a
    multi-label model, its decisions and the maps of its label sets
    (:func:`explain_label_sets`)."""
    if model_info.multilabel:
        predictions = label_decisions(explainer.predict(batch.images), model_info)
        truth = label_matrix(batch.samples, predictions.positive.shape[1])
        return predictions, explain_label_sets(explainer, batch.images, predictions.positive,
                                               truth, methods=cams.methods,
                                               targets=cams.targets)
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
