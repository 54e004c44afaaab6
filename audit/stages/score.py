"""Stage ``score`` (per batch): localisation and fixation scores, one record per sample x
method x target.

A sample's region is the union of its objects' segmentation masks when it has them, else of its
boxes (:mod:`audit.datasets.regions`); the ``region`` column says which.

A photo whose longer side exceeds ``metrics.max_scoring_side`` (640 px by default) is scored at
that size instead: boxes, masks and the pointing tolerance scaled with it (the figures stay
within 0.01 of the full-size ones, see ``docs/benchmarks.md``), so a 12-megapixel photo costs
what a VGA one does. Smaller images are scored at their own size, exactly.

Maps are upsampled from the layer's resolution straight to each image's *original* size and
scored there against the boxes in original pixel coordinates, so the pointing tolerance is in
the original image's pixels.

Multi-label models (:func:`score_label_set_batch`): one record per sample x target label x
method. ``label`` and ``predicted`` are the image's labels and the predicted labels joined by
``|`` (``label_index`` and ``predicted_index`` are ``-1``: a set has no index); ``target`` is
``predicted`` for a predicted label and ``true`` for a missed one, ``target_class`` the label;
``correct`` says whether the model's decision on that label is right (a true positive), so a
``predicted`` record with ``correct`` False is a false positive and every ``true`` record a
false negative; ``confidence`` is the label's sigmoid probability. A label of the image is
scored against its own region (its objects' masks, else boxes); a false positive, a label the
image does not have, against the union of all the image's objects: its
``background_fixation`` says whether the model saw the absent label in the background. False
negatives get the flag too (their true label's map, on its own objects). ``centre_hit`` is
played against the union of the image's objects.
"""

from __future__ import annotations

import math

import numpy as np

from audit.cams import Predictions
from audit.cams.methods import METHODS
from audit.cams.postprocess import upsample
from audit.config import MetricsSection
from audit.datasets import Batch, SkippedSample
from audit.datasets.label_sets import LABEL_SEPARATOR
from audit.datasets.regions import label_region_at, region_at, region_kind, scoring_size
from audit.metrics import (
    background_fixation,
    box_area_fraction,
    centre_hit,
    loc_correct,
    map_scores,
)
from audit.metrics.records import ScoreRecord
from audit.pipeline import Counts
from audit.stages.explain import TargetMaps

NAN = math.nan


def score_map(heat: np.ndarray | None, mask: np.ndarray, boxes, *, tolerance: float,
              loc_threshold: float, loc_min_iou: float) -> dict[str, float]:
    """Every localisation score of one upsampled map; NaN where undefined.

    ``mask`` is the sample's region (its segmentation, else its boxes): energy, enrichment and
    pointing are measured against it. The localisation IoU compares boxes, so it needs
    ``boxes`` (NaN without).
    """
    has_region = bool(mask.any())
    if heat is None or not has_region:
        fraction = box_area_fraction(mask) if has_region else NAN
        return {"energy_in_box": NAN, "box_area_fraction": fraction, "enrichment": NAN,
                "pointing_hit": NAN, "loc_iou": NAN, "loc_correct": NAN}
    scores = map_scores(heat, mask, boxes, tolerance=tolerance, loc_threshold=loc_threshold)
    scores["loc_correct"] = loc_correct(scores["loc_iou"], min_iou=loc_min_iou) if boxes else NAN
    return scores


def score_batch(batch: Batch, predictions: Predictions, cams: list[TargetMaps],
                class_names: list[str], metrics: MetricsSection) -> list[ScoreRecord]:
    """Records for one batch, one per sample x method x target (pure: depends only on its
    arguments). Within a sample, records are ordered by (method, target)."""
    probs = predictions.probabilities
    predicted = predictions.predicted
    records: list[ScoreRecord] = []
    # Index the maps by batch row so each sample's maps are upsampled together.
    per_row: dict[int, list[tuple[str, str, int, np.ndarray, bool]]] = {}
    for target_maps in cams:
        for j, row in enumerate(target_maps.rows):
            for method, maps in target_maps.maps.items():
                per_row.setdefault(int(row), []).append(
                    (method, target_maps.target, int(target_maps.class_idx[j]), maps[j],
                     bool(target_maps.maps.degenerate[method][j])))
    for row, sample in enumerate(batch.samples):
        original = batch.original_sizes[row]
        height, width = scoring_size(original, metrics.max_scoring_side)
        mask, boxes = region_at(sample, batch.masks[row], original, (height, width))
        region = region_kind(sample, batch.masks[row])
        tolerance = metrics.pointing_tolerance_px
        if (height, width) != tuple(original):
            tolerance *= height / original[0]
        base = {
            "sample_id": sample.sample_id, "image": sample.image,
            "label": class_names[sample.label], "label_index": int(sample.label),
            "predicted": class_names[int(predicted[row])],
            "predicted_index": int(predicted[row]),
            "correct": bool(predicted[row] == sample.label),
            "confidence": float(probs[row, predicted[row]]), "n_boxes": len(boxes),
            "centre_hit": centre_hit(mask, tolerance=tolerance) if region else NAN,
            "region": region,
        }
        entries = sorted(per_row.get(row, []), key=lambda e: (e[0], e[1]))
        healthy = [e for e in entries if not e[4]]
        heats = {}
        if healthy and region:
            # float64 once here: every score takes its map as float64 and would copy it.
            stack = upsample(np.stack([e[3] for e in healthy]), (height, width)).numpy()
            stack = stack.astype(np.float64)
            heats = {(e[0], e[1]): stack[i] for i, e in enumerate(healthy)}
        for method, target, class_index, _, degenerate in entries:
            scores = score_map(heats.get((method, target)), mask, boxes, tolerance=tolerance,
                               loc_threshold=metrics.loc_threshold,
                               loc_min_iou=metrics.loc_min_iou)
            fixation = NAN
            # Counter-evidence (negative evidence) is not an explanation of the decision: it
            # has no fixation flag.
            if target == "predicted" and METHODS[method].fixation:
                fixation = background_fixation(scores["enrichment"], correct=base["correct"],
                                               below=metrics.fixation_enrichment_below)
            records.append(ScoreRecord(**base, method=method, target=target,
                                       target_class=class_names[class_index],
                                       target_index=class_index, degenerate=degenerate,
                                       background_fixation=fixation, **scores))
    return records


def score_label_set_batch(batch: Batch, predictions: Predictions, cams: list[TargetMaps],
                          class_names: list[str], metrics: MetricsSection) -> list[ScoreRecord]:
    """Records of a multi-label model's batch, one per sample x target label x method (see the
    module's notes); within a sample ordered by (method, target, label index)."""
    records: list[ScoreRecord] = []
    per_row: dict[int, list[tuple[str, str, int, np.ndarray, bool]]] = {}
    for target_maps in cams:
        for j, row in enumerate(target_maps.rows):
            for method, maps in target_maps.maps.items():
                per_row.setdefault(int(row), []).append(
                    (method, target_maps.target, int(target_maps.class_idx[j]), maps[j],
                     bool(target_maps.maps.degenerate[method][j])))
    for row, sample in enumerate(batch.samples):
        original = batch.original_sizes[row]
        height, width = scoring_size(original, metrics.max_scoring_side)
        size = (height, width)
        tolerance = metrics.pointing_tolerance_px
        if size != tuple(original):
            tolerance *= height / original[0]
        whole, whole_boxes = region_at(sample, batch.masks[row], original, size)
        whole_kind = region_kind(sample, batch.masks[row])
        own = {objects.label: objects for objects in sample.label_set}
        positive = np.flatnonzero(predictions.positive[row])
        base = {
            "sample_id": sample.sample_id, "image": sample.image,
            "label": sample.label_name, "label_index": -1,
            "predicted": LABEL_SEPARATOR.join(class_names[c] for c in positive),
            "predicted_index": -1,
            "centre_hit": centre_hit(whole, tolerance=tolerance) if whole_kind else NAN,
        }
        entries = sorted(per_row.get(row, []), key=lambda e: (e[0], e[1], e[2]))
        regions = {}
        for c in {e[2] for e in entries}:
            regions[c] = (label_region_at(own[c], original, size) if c in own
                          else (whole, whole_boxes, whole_kind))
        healthy = [e for e in entries if not e[4] and regions[e[2]][2]]
        heats = {}
        if healthy:
            stack = upsample(np.stack([e[3] for e in healthy]), size).numpy().astype(np.float64)
            heats = {(e[0], e[1], e[2]): stack[i] for i, e in enumerate(healthy)}
        for method, target, c, _, degenerate in entries:
            mask, boxes, kind = regions[c]
            scores = score_map(heats.get((method, target, c)), mask, boxes, tolerance=tolerance,
                               loc_threshold=metrics.loc_threshold,
                               loc_min_iou=metrics.loc_min_iou)
            correct = c in own and bool(predictions.positive[row, c])
            fixation = NAN
            if METHODS[method].fixation:
                fixation = background_fixation(scores["enrichment"], correct=correct,
                                               below=metrics.fixation_enrichment_below)
            records.append(ScoreRecord(
                **base, correct=correct, confidence=float(predictions.probabilities[row, c]),
                n_boxes=len(boxes), region=kind, method=method, target=target,
                target_class=class_names[c], target_index=c, degenerate=degenerate,
                background_fixation=fixation, **scores))
    return records


def score(metrics: MetricsSection, batch: Batch, predictions: Predictions,
          maps: list[TargetMaps], class_names: list[str]
          ) -> tuple[list[ScoreRecord], list[SkippedSample], Counts]:
    """Score every map of the batch against the sample's boxes.

    Returns
    -------
    records : list of ScoreRecord
    skipped : list of SkippedSample
        The batch's samples that could not be audited (and, on batch 0, the manifest's).
    batch_counts : Counts
        ``n_boxes_clipped``: boxes of the batch clipped to their image.
    """
    scorer = score_label_set_batch if predictions.multilabel else score_batch
    records = scorer(batch, predictions, maps, class_names, metrics)
    return records, list(batch.skipped), Counts(n_boxes_clipped=batch.n_boxes_clipped)
