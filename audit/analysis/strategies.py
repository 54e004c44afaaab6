"""Strategy discovery over a run: SpRAy (:mod:`audit.evidence.spray`) on every class's small
maps, in two views, with each cluster's figures and flags.

Views: ``predicted`` clusters the maps of the samples predicted as a class (the map of that
class: what the model looked at when it said so); ``labelled`` clusters the class's maps of the
samples labelled as it (the predicted-class map of the correct ones, the true-class map of the
misclassified ones when ``cams.targets`` has ``true``).

Memory: the maps stay in the stream's shards; one pass reads their identifiers, a second copies
the chosen method's maps into one float16 memory-mapped file on disk, and each class is then
read from it alone (at most ``max_maps_per_class`` maps are clustered; the rest of a larger
class join the cluster with the nearest mean map, read in chunks).

Flags (a hypothesis for a person to look at, never a proof):

- **off-object**: a cluster other than its class's largest whose mean map puts at least
  ``min_exclusive_mass`` of its mass on a small region (at most ``max_area`` of the image)
  that the class's other clusters do not look at (their mean map has less than a quarter of
  its weight there); where its samples have regions, also with enrichment below 1 (less
  energy in the box than chance).
- **accuracy differs**: Fisher's exact test of the cluster's accuracy against the rest of its
  class, Benjamini-Hochberg over every tested cluster of the run, ``q <= alpha``.
"""

from __future__ import annotations

import os
import tempfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.stats import fisher_exact

from audit.cams.methods import METHODS, ordered_methods
from audit.config import StrategiesSection
from audit.evidence.spray import exclusive_region, spray
from audit.metrics.fdr import benjamini_hochberg
from audit.pipeline import ShardSet
from audit.summary import ClassStrategies, StrategiesFigures, StrategyCluster, Summary

__all__ = ["ClassDetail", "StrategyRun", "choose_method", "discover_strategies"]

VIEWS = ("predicted", "labelled")
N_EXEMPLARS = 4
_CHUNK = 1024


@dataclass
class ClassDetail:
    """What a report needs beyond the figures: mean maps, and the 2-D embedding of the
    clustered maps with their clusters."""

    mean_maps: list[np.ndarray] = field(default_factory=list)
    exemplar_maps: list[list[np.ndarray]] = field(default_factory=list)
    embedding: np.ndarray | None = None
    embedding_labels: np.ndarray | None = None


@dataclass
class StrategyRun:
    """The figures (``summary.json``), the per-sample assignment and the report's details."""

    figures: StrategiesFigures
    rows: pd.DataFrame
    details: dict[tuple[str, str], ClassDetail]


def choose_method(summary: Summary, available: Sequence[str],
                  configured: str | None) -> str | None:
    """``configured`` when given; else the first trusted deciding method (registry order),
    else Grad-CAM, else the first deciding method the maps were kept for."""
    if configured is not None:
        return configured if configured in available else None
    deciding = [m for m in ordered_methods(available) if METHODS[m].fixation]
    trusted = [m for m in deciding if m in summary.methods and summary.methods[m].trusted]
    if trusted:
        return trusted[0]
    if "gradcam" in deciding:
        return "gradcam"
    return deciding[0] if deciding else None


def _index(shards: ShardSet, method: str) -> tuple[pd.DataFrame, int]:
    """One row per kept map of ``method``: where it is (``shard``, ``row``) and what it is."""
    frames = []
    size = 0
    for i, data in enumerate(_metadata(shards)):
        keep = data["method"] == method
        frames.append(pd.DataFrame({
            "shard": i, "row": np.flatnonzero(keep),
            "sample_id": data["sample_id"][keep], "target": data["target"][keep],
            "class_index": data["class_index"][keep], "label": data["label"][keep],
            "predicted": data["predicted"][keep]}))
        size = data["size"]
    if not frames:
        return pd.DataFrame(columns=["shard", "row", "sample_id", "target", "class_index",
                                     "label", "predicted"]), size
    return pd.concat(frames, ignore_index=True), size


def _metadata(shards: ShardSet):
    for path in shards.paths():
        with np.load(path, allow_pickle=False) as data:
            yield {k: data[k] for k in ("sample_id", "method", "target", "class_index",
                                        "label", "predicted")} | {
                "size": int(data["map"].shape[-1])}


def _fill(shards: ShardSet, index: pd.DataFrame, out: np.ndarray) -> None:
    """Copy the indexed maps into ``out`` (a memory map), shard by shard."""
    position = 0
    paths = shards.paths()
    for shard, rows in index.groupby("shard", sort=True)["row"]:
        with np.load(paths[shard], allow_pickle=False) as data:
            maps = data["map"][rows.to_numpy()]
        out[position:position + len(maps)] = maps.reshape(len(maps), -1)
        position += len(maps)


def _sub_seed(seed: int, *parts: str) -> int:
    return (seed * 1_000_003 + zlib.crc32("/".join(parts).encode())) % (2**31 - 1)


def _mean(values: np.ndarray) -> float | None:
    values = values[np.isfinite(values)]
    return round(float(values.mean()), 12) if len(values) else None


def discover_strategies(shards: ShardSet, *, method: str, summary: Summary,
                        records: pd.DataFrame, class_names: Sequence[str],
                        params: StrategiesSection, seed: int, scratch: str | os.PathLike
                        ) -> StrategyRun | None:
    """SpRAy on every class's maps of ``method`` in both views (see the module's notes).

    ``records`` give each sample's correctness and, where it has a region, its energy in box,
    enrichment and background fixation. ``scratch`` is a folder for the temporary memory map.
    Returns None when no class has ``params.min_class_size`` maps.
    """
    index, size = _index(shards, method)
    if index.empty:
        return None
    index["store_row"] = np.arange(len(index))  # where _fill puts each map
    # One canonical order, whatever the batch size: by sample (in the records' order), the
    # predicted-class map before the true-class one. The graph's ties, the embedding and
    # k-means all depend on the order of the maps, and the results must not.
    order = {sid: i for i, sid in enumerate(pd.unique(records["sample_id"]))}
    index["sample_order"] = index["sample_id"].map(order).fillna(len(order)).astype(np.int64)
    index = index.sort_values(["sample_order", "target", "store_row"], kind="mergesort",
                              ignore_index=True)
    index["view_predicted"] = (index["target"] == "predicted") & (
        index["class_index"] == index["predicted"])
    index["view_labelled"] = (index["class_index"] == index["label"]) & (
        (index["target"] == "true") | (index["predicted"] == index["label"]))
    counts = {view: index.loc[index[f"view_{view}"], "class_index"].value_counts()
              for view in VIEWS}
    if not any((c >= params.min_class_size).any() for c in counts.values()):
        return None
    scores = _region_scores(records, method)
    fd, path = tempfile.mkstemp(prefix="strategies-", suffix=".f16.tmp", dir=scratch)
    os.close(fd)
    try:
        store = np.memmap(path, dtype=np.float16, mode="w+", shape=(len(index), size * size))
        _fill(shards, index.sort_values("store_row"), store)
        store.flush()
        classes, details, rows = [], {}, []
        for view in VIEWS:
            for class_index in range(len(class_names)):
                members = index.index[index[f"view_{view}"]
                                      & (index["class_index"] == class_index)].to_numpy()
                entry, detail, assigned = _one_class(
                    store, index, members, view=view, class_name=class_names[class_index],
                    scores=scores, params=params, seed=seed)
                classes.append(entry)
                if detail is not None:
                    details[(view, class_names[class_index])] = detail
                    rows.append(assigned)
        del store
    finally:
        os.unlink(path)
    classes = _test_accuracy(classes, alpha=params.alpha)
    classes = _rank(classes)
    offobject = [c.share for k in classes for c in k.clusters if c.offobject]
    figures = StrategiesFigures(
        method=method, map_size=size, n_maps=int(len(index)), classes=classes,
        max_offobject_share=max(offobject) if offobject else None,
        n_offobject=len(offobject),
        n_accuracy_differs=sum(c.accuracy_differs for k in classes for c in k.clusters))
    table = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(
        columns=["sample_id", "view", "class", "strategy"])
    return StrategyRun(figures=figures, rows=table, details=details)


def _region_scores(records: pd.DataFrame, method: str) -> pd.DataFrame:
    """Per (sample_id, target): correct, energy_in_box, enrichment, background_fixation."""
    mine = records[records["method"] == method]
    columns = ["sample_id", "target", "correct", "energy_in_box", "enrichment",
               "background_fixation"]
    return mine[columns].drop_duplicates(["sample_id", "target"]).set_index(
        ["sample_id", "target"])


def _one_class(store, index: pd.DataFrame, members: np.ndarray, *, view: str,
               class_name: str, scores: pd.DataFrame, params: StrategiesSection, seed: int):
    n = len(members)
    if n < params.min_class_size:
        return ClassStrategies(class_name=class_name, view=view, n=n), None, None
    meta = index.loc[members]
    rows_of = meta["store_row"].to_numpy()  # the members' rows in the memory map
    rng = np.random.default_rng(_sub_seed(seed, "strategies", view, class_name))
    chosen = np.sort(rng.choice(n, params.max_maps_per_class, replace=False)) \
        if n > params.max_maps_per_class else np.arange(n)
    maps = np.asarray(store[rows_of[chosen]], dtype=np.float32)
    result = spray(maps, max_clusters=params.max_clusters, n_neighbors=params.n_neighbors,
                   seed=_sub_seed(seed, "spray", view, class_name))
    k = result.n_clusters
    sums = np.zeros((k, maps.shape[1]), np.float64)
    np.add.at(sums, result.labels, maps)
    labels = np.full(n, -1, np.int64)
    labels[chosen] = result.labels
    rest = np.setdiff1d(np.arange(n), chosen)
    if len(rest):  # the maps left out of the subsample join the nearest cluster mean
        centres = sums / np.bincount(result.labels, minlength=k)[:, None]
        for start in range(0, len(rest), _CHUNK):
            part = rest[start:start + _CHUNK]
            block = np.asarray(store[rows_of[part]], dtype=np.float32)
            distance = ((block[:, None, :] - centres[None]) ** 2).sum(-1)
            labels[part] = distance.argmin(1)
            np.add.at(sums, labels[part], block)
    sizes = np.bincount(labels, minlength=k)
    means = sums / np.maximum(sizes, 1)[:, None]
    keys = list(zip(meta["sample_id"], meta["target"], strict=True))
    found = scores.reindex(keys)
    correct = found["correct"].astype(float).to_numpy()
    if not np.isfinite(correct).all():  # a map without its record: correctness from the index
        correct = np.where(np.isfinite(correct),
                           correct, (meta["label"] == meta["predicted"]).to_numpy(float))
    enrichment = found["enrichment"].to_numpy(float)
    clusters, mean_maps, exemplar_maps = [], [], []
    side = int(round(np.sqrt(maps.shape[1])))
    for c in range(k):
        inside = labels == c
        mean_map = means[c]
        others = sums.sum(0) - sums[c]
        others = others / others.sum() if others.sum() > 0 else np.full_like(others,
                                                                            1 / others.size)
        exclusive, area = exclusive_region(mean_map, others) if k > 1 else (0.0, 0.0)
        enrich = _mean(enrichment[inside])
        offobject = bool(c > 0 and exclusive >= params.min_exclusive_mass
                         and area <= params.max_area and (enrich is None or enrich < 1.0))
        ids = np.flatnonzero(inside)
        exemplars = _closest(store, rows_of[ids], mean_map)
        n_correct = int(np.nansum(correct[inside]))
        clusters.append(StrategyCluster(
            cluster=c, n=int(inside.sum()), share=round(float(inside.mean()), 12),
            n_correct=n_correct, accuracy=round(n_correct / int(inside.sum()), 12),
            n_with_region=int(np.isfinite(enrichment[inside]).sum()),
            energy_in_box=_mean(found["energy_in_box"].to_numpy(float)[inside]),
            enrichment=enrich,
            fixation_rate=_mean(found["background_fixation"].to_numpy(float)[inside]),
            exclusive_mass=exclusive, exclusive_area=area, offobject=offobject,
            exemplars=[str(meta["sample_id"].iloc[i]) for i in ids[exemplars]]))
        mean_maps.append(mean_map.reshape(side, side).astype(np.float32))
        exemplar_maps.append([np.asarray(store[r], np.float32).reshape(side, side)
                              for r in rows_of[ids[exemplars]]])
    entry = ClassStrategies(
        class_name=class_name, view=view, n=n, clustered=True, n_clustered=len(chosen),
        n_clusters=k, eigengap=result.eigengap,
        eigenvalues=[round(float(v), 12) for v in result.eigenvalues], clusters=clusters)
    detail = ClassDetail(mean_maps=mean_maps, exemplar_maps=exemplar_maps,
                         embedding=result.embedding,
                         embedding_labels=result.labels)
    assigned = pd.DataFrame({"sample_id": meta["sample_id"].to_numpy(), "view": view,
                             "class": class_name, "strategy": labels})
    return entry, detail, assigned


def _closest(store, rows: np.ndarray, mean_map: np.ndarray) -> np.ndarray:
    """Positions (into ``rows``) of the ``N_EXEMPLARS`` maps nearest the mean map."""
    best_d, best_i = np.empty(0), np.empty(0, np.int64)
    for start in range(0, len(rows), _CHUNK):
        block = np.asarray(store[rows[start:start + _CHUNK]], dtype=np.float32)
        d = ((block - mean_map[None]) ** 2).sum(1)
        best_d = np.concatenate([best_d, d])
        best_i = np.concatenate([best_i, np.arange(start, start + len(block))])
        keep = np.lexsort((best_i, best_d))[:N_EXEMPLARS]
        best_d, best_i = best_d[keep], best_i[keep]
    return best_i


def _test_accuracy(classes: list[ClassStrategies], *, alpha: float) -> list[ClassStrategies]:
    """Fisher's exact test of each cluster's accuracy against the rest of its class, then
    Benjamini-Hochberg over every tested cluster."""
    tested: list[tuple[int, int, float]] = []
    for i, entry in enumerate(classes):
        if (entry.n_clusters or 0) < 2:
            continue
        total_n = sum(c.n for c in entry.clusters)
        total_correct = sum(c.n_correct for c in entry.clusters)
        for j, c in enumerate(entry.clusters):
            table = [[c.n_correct, c.n - c.n_correct],
                     [total_correct - c.n_correct, total_n - c.n - (total_correct - c.n_correct)]]
            tested.append((i, j, float(fisher_exact(table)[1])))
    if not tested:
        return classes
    _, q = benjamini_hochberg([p for _, _, p in tested])  # the adjusted p-values (q-values)
    clusters = {i: list(classes[i].clusters) for i, _, _ in tested}
    for (i, j, p), q_value in zip(tested, q, strict=True):
        clusters[i][j] = clusters[i][j].model_copy(update={
            "accuracy_p": round(p, 12), "accuracy_q": round(float(q_value), 12),
            "accuracy_differs": bool(q_value <= alpha)})
    return [entry.model_copy(update={"clusters": clusters[i]}) if i in clusters else entry
            for i, entry in enumerate(classes)]


def _rank(classes: list[ClassStrategies]) -> list[ClassStrategies]:
    """Rank each view's clustered classes by eigengap, 1 the largest (ties by class order)."""
    ranks: dict[int, int] = {}
    for view in VIEWS:
        clustered = [i for i, c in enumerate(classes) if c.view == view and c.clustered]
        for r, i in enumerate(sorted(clustered, key=lambda i: (-classes[i].eigengap, i)), 1):
            ranks[i] = r
    return [c.model_copy(update={"rank": ranks.get(i)}) for i, c in enumerate(classes)]
