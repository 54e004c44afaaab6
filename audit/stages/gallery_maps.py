"""Stage ``gallery_maps`` (per batch): the raw maps of the samples the gallery may show.

The gallery shows a few misclassified samples (:func:`~audit.stages.gallery.select_gallery`),
so only errors can be chosen. Each batch's errors keep their raw maps (layer resolution,
float32, every configured method, both targets) in one shard per batch
(:class:`~audit.pipeline.shards.Shard`: ``gallery_maps/<batch>.npz`` in the run folder); the
gallery reads back the chosen samples' maps instead of explaining them again. These are the
very maps the records were scored on.
"""

from __future__ import annotations

import numpy as np

from audit.cams import Predictions
from audit.config import CamsSection
from audit.datasets import Batch
from audit.pipeline import Shard
from audit.stages.explain import TargetMaps

__all__ = ["gallery_maps"]


def gallery_maps(cams: CamsSection, batch: Batch, predictions: Predictions,
                 maps: list[TargetMaps]) -> Shard:
    """The batch's misclassified samples' raw maps: ``sample_id``, ``method``, ``target``
    (``predicted`` or ``true``) and ``map`` (float32 ``(n, h, w)``)."""
    labels = np.array([s.label for s in batch.samples], dtype=np.int64)
    wrong = predictions.predicted.astype(np.int64) != labels
    parts: dict[str, list] = {k: [] for k in ("sample_id", "method", "target", "map")}
    for target_maps in maps:
        rows = np.asarray(target_maps.rows)
        keep = wrong[rows]
        if not keep.any():
            continue
        for method in cams.methods:
            if method not in target_maps.maps:
                continue
            parts["map"].append(np.asarray(target_maps.maps[method])[keep].astype(np.float32))
            parts["sample_id"].append(np.array([batch.samples[r].sample_id
                                                for r in rows[keep]]))
            parts["method"].append(np.full(int(keep.sum()), method))
            parts["target"].append(np.full(int(keep.sum()), target_maps.target))
    if not parts["map"]:
        return Shard()
    return Shard({k: np.concatenate(v) for k, v in parts.items()})
