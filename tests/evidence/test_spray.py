"""SpRAy on synthetic small maps: the eigengap, the clustering, the off-object and accuracy
flags, the Benjamini-Hochberg helper."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from audit.analysis.strategies import choose_method, discover_strategies
from audit.config import StrategiesSection
from audit.evidence.spray import choose_n_clusters, exclusive_region, small_maps, spray
from audit.metrics.fdr import benjamini_hochberg
from audit.pipeline import Shard, ShardSet
from audit.pipeline.shards import write_shard
from audit.summary import Summary

SIZE = 16


def _blob(rng, cy, cx, *, sigma=2.0, noise=0.05):
    yy, xx = np.mgrid[:SIZE, :SIZE]
    blob = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * sigma ** 2))
    return blob + rng.uniform(0, noise, blob.shape)


def _centre(rng):
    return _blob(rng, SIZE / 2 + rng.uniform(-1, 1), SIZE / 2 + rng.uniform(-1, 1), sigma=3)


def _corner(rng):
    return _blob(rng, 1.5, 1.5, sigma=1.2)


def test_the_eigengap_picks_the_number_of_separate_groups():
    rng = np.random.default_rng(0)
    spots = [(3, 3), (3, 12), (12, 7)]
    maps = small_maps(np.stack([_blob(rng, *spots[i % 3]) for i in range(60)]), size=SIZE)
    result = spray(maps, max_clusters=5, n_neighbors=6, seed=0)
    assert result.n_clusters == 3
    assert result.eigengap > 0.1
    for group in range(3):  # each group of maps is one cluster, whole
        assert len(set(result.labels[group::3].tolist())) == 1
    assert len(set(result.labels[:3].tolist())) == 3
    assert result.embedding.shape == (60, 2)
    again = spray(maps, max_clusters=5, n_neighbors=6, seed=0)
    np.testing.assert_array_equal(again.labels, result.labels)


def test_a_homogeneous_class_has_a_small_eigengap():
    # A kNN graph of one jittered blob has a gradual spectrum: k-means still splits it, but
    # its eigengap is small, so it ranks below a class with separate strategies.
    rng = np.random.default_rng(1)
    maps = small_maps(np.stack([_centre(rng) for _ in range(40)]), size=SIZE)
    homogeneous = spray(maps, max_clusters=4, n_neighbors=8, seed=0)
    assert choose_n_clusters(homogeneous.eigenvalues, max_clusters=4) == (
        homogeneous.n_clusters, homogeneous.eigengap)
    split = small_maps(np.stack([_centre(rng) if i % 2 else _corner(rng) for i in range(40)]),
                       size=SIZE)
    separate = spray(split, max_clusters=4, n_neighbors=8, seed=0)
    assert separate.n_clusters == 2
    assert homogeneous.eigengap < separate.eigengap / 2


def test_eigengap_edge_cases():
    assert choose_n_clusters(np.array([0.0]), max_clusters=3) == (1, 0.0)
    assert choose_n_clusters(np.array([0.0, 0.0, 0.9]), max_clusters=1) == (1, 0.0)
    with pytest.raises(ValueError, match="at least 3 maps"):
        spray(np.ones((2, 4, 4)) / 16)


def test_the_exclusive_region_of_a_corner_strategy_is_small_and_heavy():
    rng = np.random.default_rng(2)
    corner = small_maps(_corner(rng)[None], size=SIZE)[0]
    centre = small_maps(_centre(rng)[None], size=SIZE)[0]
    mass, area = exclusive_region(corner, centre)
    assert mass > 0.5 and area < 0.2, (mass, area)
    mass, area = exclusive_region(centre, centre)
    assert mass == 0.0 and area == 0.0


def test_benjamini_hochberg_matches_the_step_up_rule():
    p = np.array([0.001, 0.008, 0.039, 0.041, 0.042, 0.06, 0.074, 0.205, 0.212, 0.216])
    _, q = benjamini_hochberg(p)
    assert (q <= 0.05).sum() == 2  # the step-up rule rejects the first two at 0.05
    assert np.all(np.diff(q) >= 0) and q.max() <= 1.0
    assert np.isnan(benjamini_hochberg([np.nan])[1]).all()


def _shards(tmp_path, classes):
    """Write one shard per class: ``classes`` maps label -> (maps, correct flags)."""
    n_items = 0
    records = []
    for label, (maps, correct) in enumerate(classes):
        ids = np.array([f"c{label}_{i}" for i in range(len(maps))])
        predicted = np.where(correct, label, 1 - label).astype(np.int32)
        write_shard(tmp_path, "strategy_maps", n_items, Shard({
            "sample_id": ids, "method": np.full(len(ids), "gradcam"),
            "target": np.full(len(ids), "predicted"),
            "class_index": predicted, "label": np.full(len(ids), label, np.int32),
            "predicted": predicted,
            "map": small_maps(maps, size=SIZE).astype(np.float16)}))
        n_items += 1
        records.append(pd.DataFrame({
            "sample_id": ids, "method": "gradcam", "target": "predicted", "correct": correct,
            "energy_in_box": np.nan, "enrichment": np.nan, "background_fixation": np.nan}))
    return ShardSet(tmp_path, "strategy_maps", n_items), pd.concat(records, ignore_index=True)


def _discover(tmp_path, classes, **params):
    shards, records = _shards(tmp_path, classes)
    params = StrategiesSection(min_class_size=10, n_neighbors=6, max_clusters=4, **params)
    return discover_strategies(shards, method="gradcam", summary=Summary(), records=records,
                               class_names=["tagged", "plain"], params=params, seed=0,
                               scratch=tmp_path)


def test_a_corner_cluster_is_flagged_off_object_and_a_plain_class_is_not(tmp_path):
    rng = np.random.default_rng(3)
    tagged = np.stack([_corner(rng) if i % 4 == 0 else _centre(rng) for i in range(80)])
    plain = np.stack([_centre(rng) for _ in range(60)])
    found = _discover(tmp_path, [(tagged, np.ones(80, bool)), (plain, np.ones(60, bool))])
    by = {(c.view, c.class_name): c for c in found.figures.classes}
    tag = by[("predicted", "tagged")]
    flagged = [c for c in tag.clusters if c.offobject]
    assert len(flagged) == 1 and flagged[0].n == 20 and flagged[0].share == 0.25
    members = found.rows[(found.rows["view"] == "predicted") & (found.rows["class"] == "tagged")
                         & (found.rows["strategy"] == flagged[0].cluster)]["sample_id"]
    assert sorted(members) == sorted(f"c0_{i}" for i in range(0, 80, 4))
    assert set(flagged[0].exemplars) <= set(members) and len(flagged[0].exemplars) == 4
    assert not any(c.offobject for c in by[("predicted", "plain")].clusters)
    assert found.figures.max_offobject_share == 0.25
    assert {c.rank for c in found.figures.classes if c.view == "predicted"} == {1, 2}


def test_a_cluster_whose_accuracy_differs_is_flagged_after_fdr(tmp_path):
    # 30 samples of 'tagged' are misclassified as 'plain' by a corner strategy; the 10
    # samples predicted 'plain' correctly look at the centre.
    rng = np.random.default_rng(4)
    maps = np.stack([_corner(rng) if i < 30 else _centre(rng) for i in range(90)])
    correct = np.arange(90) >= 30
    found = _discover(tmp_path, [(maps, correct), (np.stack([_centre(rng) for _ in range(10)]),
                                                   np.ones(10, bool))])
    plain = next(c for c in found.figures.classes
                 if c.view == "predicted" and c.class_name == "plain")
    assert plain.n == 40 and plain.clustered
    wrong = [c for c in plain.clusters if c.accuracy == 0.0]
    assert wrong and all(c.accuracy_differs and c.accuracy_q <= 0.05 for c in wrong)
    assert sum(c.n for c in wrong) == 30
    assert found.figures.n_accuracy_differs >= 1
    labelled = next(c for c in found.figures.classes
                    if c.view == "labelled" and c.class_name == "tagged")
    assert labelled.n == 60  # its misclassified samples had no true-class map here


def test_a_subsampled_class_assigns_every_map(tmp_path):
    rng = np.random.default_rng(5)
    maps = np.stack([_corner(rng) if i % 5 == 0 else _centre(rng) for i in range(250)])
    found = _discover(tmp_path, [(maps, np.ones(250, bool)),
                                 (np.stack([_centre(rng) for _ in range(3)]), np.ones(3, bool))],
                      max_maps_per_class=100)
    entry = next(c for c in found.figures.classes if c.view == "predicted" and c.clustered)
    assert entry.n == 250 and entry.n_clustered == 100
    assert sum(c.n for c in entry.clusters) == 250
    rows = found.rows[found.rows["view"] == "predicted"]
    assert len(rows) == 250 and (rows["strategy"] >= 0).all()
    corner = rows[rows["sample_id"].isin([f"c0_{i}" for i in range(0, 250, 5)])]
    assert corner["strategy"].nunique() == 1


def test_no_class_large_enough_gives_no_strategies(tmp_path):
    rng = np.random.default_rng(6)
    small = np.stack([_centre(rng) for _ in range(5)])
    assert _discover(tmp_path, [(small, np.ones(5, bool)), (small, np.ones(5, bool))]) is None


def test_the_method_is_the_configured_one_else_trusted_else_gradcam():
    summary = Summary()
    assert choose_method(summary, ["gradcam++", "gradcam"], None) == "gradcam"
    assert choose_method(summary, ["scorecam"], None) == "scorecam"
    assert choose_method(summary, ["gradcam"], "scorecam") is None
    assert choose_method(summary, ["negative"], None) is None


def test_the_strategies_do_not_depend_on_how_the_stream_was_cut(tmp_path):
    # The same maps cut into batches of 7 and of 32: in each batch the true-class maps of
    # the misclassified samples follow the predicted-class maps, so the maps' order on disk
    # differs; the figures and assignments must not.
    rng = np.random.default_rng(7)
    n = 64
    predicted_maps = small_maps(np.stack([_corner(rng) if i % 4 == 0 else _centre(rng)
                                          for i in range(n)]), size=SIZE)
    true_maps = small_maps(np.stack([_centre(rng) for _ in range(n)]), size=SIZE)
    labels = np.zeros(n, np.int32)
    predicted = np.where(np.arange(n) % 8 == 0, 1, 0).astype(np.int32)
    records = pd.DataFrame({"sample_id": [f"s{i}" for i in range(n)], "method": "gradcam",
                            "target": "predicted", "correct": predicted == labels,
                            "energy_in_box": np.nan, "enrichment": np.nan,
                            "background_fixation": np.nan})
    found = []
    for batch in (7, 32):
        folder = tmp_path / f"b{batch}"
        folder.mkdir()
        for item, start in enumerate(range(0, n, batch)):
            rows = np.arange(start, min(n, start + batch))
            wrong = rows[predicted[rows] != labels[rows]]
            ids = np.array([f"s{i}" for i in np.concatenate([rows, wrong])])
            write_shard(folder, "strategy_maps", item, Shard({
                "sample_id": ids, "method": np.full(len(ids), "gradcam"),
                "target": np.array(["predicted"] * len(rows) + ["true"] * len(wrong)),
                "class_index": np.concatenate([predicted[rows], labels[wrong]]),
                "label": np.concatenate([labels[rows], labels[wrong]]),
                "predicted": np.concatenate([predicted[rows], predicted[wrong]]),
                "map": np.concatenate([predicted_maps[rows], true_maps[wrong]]).astype(
                    np.float16)}))
        shards = ShardSet(folder, "strategy_maps", -(-n // batch))
        found.append(discover_strategies(
            shards, method="gradcam", summary=Summary(), records=records,
            class_names=["a", "b"], params=StrategiesSection(min_class_size=5, n_neighbors=5),
            seed=0, scratch=folder))
    assert found[0].figures == found[1].figures
    pd.testing.assert_frame_equal(found[0].rows, found[1].rows)
