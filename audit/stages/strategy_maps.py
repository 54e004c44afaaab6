"""Stage ``strategy_maps`` (per batch): each map made small for strategy discovery, kept on disk.

The ``strategies`` stage clusters every class's maps after the stream; holding them in memory
would not scale (100,000 maps of 32 x 32 in float32 are 400 MB). So each batch's maps are
resized to ``strategies.map_size``, normalised to sum 1, and written as one float16 shard per
batch (:class:`~audit.pipeline.shards.Shard`: ``strategy_maps/<batch>.npz`` in the run folder,
resumable like the tables). Only the methods strategies may use are kept: ``strategies.method``,
or, when it is left to the run's trust checks, every method that explains the decision.
Degenerate (all-zero) maps have no strategy and are left out.
"""

from __future__ import annotations

import numpy as np

from audit.cams import Predictions
from audit.cams.methods import METHODS
from audit.config import CamsSection, StrategiesSection
from audit.datasets import Batch
from audit.evidence.spray import small_maps
from audit.pipeline import Shard
from audit.stages.explain import TargetMaps

__all__ = ["candidate_methods", "strategy_maps"]


def candidate_methods(strategies: StrategiesSection, cams: CamsSection) -> list[str]:
    """The methods whose maps are kept: the configured one, else every deciding method."""
    if strategies.method is not None:
        return [strategies.method] if strategies.method in cams.methods else []
    return [m for m in cams.methods if METHODS[m].fixation]


def strategy_maps(strategies: StrategiesSection, cams: CamsSection, batch: Batch,
                  predictions: Predictions, maps: list[TargetMaps]) -> Shard:
    """The batch's small maps with what identifies them: ``sample_id``, ``method``,
    ``target`` (``predicted`` or ``true``), ``class_index`` (the class explained),
    ``label``, ``predicted`` and ``map`` (float16 ``(n, map_size, map_size)``)."""
    methods = candidate_methods(strategies, cams)
    labels = np.array([s.label for s in batch.samples], dtype=np.int32)
    predicted = predictions.predicted.astype(np.int32)
    parts: dict[str, list] = {k: [] for k in ("sample_id", "method", "target", "class_index",
                                              "label", "predicted", "map")}
    for target_maps in maps:
        for method in methods:
            if method not in target_maps.maps:
                continue
            keep = ~np.asarray(target_maps.maps.degenerate[method], bool)
            rows = np.asarray(target_maps.rows)[keep]
            if not len(rows):
                continue
            parts["map"].append(small_maps(np.asarray(target_maps.maps[method])[keep],
                                           size=strategies.map_size).astype(np.float16))
            parts["sample_id"].append(np.array([batch.samples[r].sample_id for r in rows]))
            parts["method"].append(np.full(len(rows), method))
            parts["target"].append(np.full(len(rows), target_maps.target))
            parts["class_index"].append(np.asarray(target_maps.class_idx, np.int32)[keep])
            parts["label"].append(labels[rows])
            parts["predicted"].append(predicted[rows])
    if not parts["map"]:
        return Shard()
    return Shard({k: np.concatenate(v) for k, v in parts.items()})
