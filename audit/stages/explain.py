"""Stage ``explain`` (per batch): raw CAMs of the predicted class, and of the true class for
misclassified samples.

A multi-label model has several target classes per sample (:func:`label_set_targets`): target
``predicted`` explains every class it predicts (its true and its false positives), target
``true`` every label of the image it missed (its false negatives)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from audit.cams import CamExplainer, CamMaps, Predictions
from audit.config import CamsSection
from audit.datasets import Batch
from audit.datasets.label_sets import label_matrix


@dataclass(frozen=True)
class TargetMaps:
    """Raw maps (layer resolution) of one target kind for the samples ``rows`` of a batch."""

    target: str
    rows: np.ndarray  # indices into the batch
    class_idx: np.ndarray
    maps: CamMaps


#: Which classes each target explains: ``(target, rows, classes)``, ``rows`` indexing the batch
#: (a row may repeat: one entry per target class of the sample).
TargetPlan = list[tuple[str, np.ndarray, np.ndarray]]


def single_label_targets(predicted: np.ndarray, labels: np.ndarray,
                         targets: Sequence[str]) -> TargetPlan:
    """``predicted``: every sample's predicted class; ``true``: misclassified samples' label."""
    plan = []
    for target in targets:
        if target == "predicted":
            rows = np.arange(len(predicted))
            plan.append((target, rows, np.asarray(predicted)))
        else:
            rows = np.flatnonzero(predicted != labels)
            plan.append((target, rows, np.asarray(labels)[rows]))
    return plan


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


def explain_targets(explainer: CamExplainer, images: np.ndarray, plan: TargetPlan, *,
                    methods: Sequence[str]) -> list[TargetMaps]:
    """Maps of every target of ``plan``; a target with no sample is left out."""
    out = []
    for target, rows, classes in plan:
        if len(rows) == 0:
            continue
        maps = explainer.explain(images[rows], classes.astype(np.int64), tuple(methods),
                                 upsample=False, normalize=False)
        out.append(TargetMaps(target, rows, classes, maps))
    return out


def explain_batch(explainer: CamExplainer, images: np.ndarray, predicted: np.ndarray,
                  labels: np.ndarray, *, methods: Sequence[str], targets: Sequence[str]
                  ) -> list[TargetMaps]:
    """Maps for ``targets``: ``predicted`` for every sample, ``true`` for misclassified ones.

    A target with no sample (``true`` in a batch without errors) is left out.
    """
    return explain_targets(explainer, images, single_label_targets(predicted, labels, targets),
                           methods=methods)


def explain(cams: CamsSection, explainer: CamExplainer, batch: Batch,
            predictions: Predictions) -> list[TargetMaps]:
    """Raw maps of every configured method and target for one batch."""
    if predictions.multilabel:
        truth = label_matrix(batch.samples, predictions.positive.shape[1])
        return explain_targets(explainer, batch.images,
                               label_set_targets(predictions.positive, truth, cams.targets),
                               methods=cams.methods)
    labels = np.array([s.label for s in batch.samples], dtype=np.int64)
    return explain_batch(explainer, batch.images, predictions.predicted.astype(np.int64), labels,
                         methods=cams.methods, targets=cams.targets)
