"""The audit's per-batch stages and gallery selection, on hand-made batches and hand-worked
numbers."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from audit.cams import CamMaps, Predictions
from audit.config import MetricsSection
from audit.datasets import Batch, Box, Sample, SkippedSample
from audit.metrics.records import RECORD_COLUMNS, ScoreRecord, records_to_frame
from audit.pipeline import Counts
from audit.stages.explain import TargetMaps, explain_batch, explain_label_sets
from audit.stages.gallery import select_gallery
from audit.stages.score import score, score_batch, score_map

CLASSES = ["cat", "dog"]

# A 4 x 4 map: weight 1 at (row 0, col 0) and (0, 1), weight 2 at (3, 3); 4 in all.
HEAT = np.array([[1, 1, 0, 0],
                 [0, 0, 0, 0],
                 [0, 0, 0, 0],
                 [0, 0, 0, 2]], dtype=np.float32)
BOX = (0.0, 0.0, 2.0, 2.0)  # the top-left 2 x 2 pixels
MASK = np.zeros((4, 4), bool)
MASK[:2, :2] = True


def test_score_map_hand_worked():
    scores = score_map(HEAT, MASK, [BOX], tolerance=3.0, loc_threshold=0.15, loc_min_iou=0.5)
    assert scores == {
        "energy_in_box": 0.5,  # (1 + 1) / 4
        "box_area_fraction": 0.25,  # 4 of 16 pixels
        "enrichment": 2.0,  # 0.5 / 0.25
        # The maximum (2 at row 3, col 3) is sqrt(2^2 + 2^2) = 2.83 px from the box's
        # nearest pixel (1, 1): within 3 px.
        "pointing_hit": 1.0,
        # Pixels >= 0.15 * 2: {(0,0), (0,1)} and {(3,3)}; the largest component's box is
        # columns 0-1 of row 0 (area 2), inside the box (area 4): IoU 2 / 4.
        "loc_iou": 0.5,
        "loc_correct": 1.0,
    }
    near = score_map(HEAT, MASK, [BOX], tolerance=2.0, loc_threshold=0.15, loc_min_iou=0.6)
    assert (near["pointing_hit"], near["loc_correct"]) == (0.0, 0.0)


def test_score_map_undefined_cases_are_nan():
    no_box = score_map(HEAT, np.zeros((4, 4), bool), [], tolerance=3.0, loc_threshold=0.15,
                       loc_min_iou=0.5)
    assert all(math.isnan(v) for v in no_box.values())
    degenerate = score_map(None, MASK, [BOX], tolerance=3.0, loc_threshold=0.15,
                           loc_min_iou=0.5)
    assert degenerate["box_area_fraction"] == 0.25
    assert all(math.isnan(v) for k, v in degenerate.items() if k != "box_area_fraction")


def _batch() -> Batch:
    samples = [
        Sample("a", "a.png", "a.png", 0, "cat", (Box(*BOX),)),
        Sample("b", "b.png", "b.png", 1, "dog", (Box(*BOX),)),
        Sample("c", "c.png", "c.png", 1, "dog", ()),
    ]
    return Batch(index=3, samples=samples, images=np.zeros((3, 4, 4, 3), np.float32),
                 original_sizes=[(4, 4)] * 3, display=np.zeros((3, 4, 4, 3), np.uint8),
                 skipped=[SkippedSample("x", "x.png", "image could not be read: truncated")],
                 n_boxes_clipped=2)


def _maps(heats, degenerate) -> CamMaps:
    return CamMaps({"gradcam": np.stack(heats), "negative": np.stack(heats)},
                   degenerate={"gradcam": np.array(degenerate), "negative": np.array(degenerate)})


def test_score_batch_records():
    batch = _batch()
    # a: cat -> cat (correct); b: dog -> cat (wrong); c: dog -> dog, no box.
    predictions = Predictions(np.zeros((3, 2), np.float32),
                              np.array([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7]], np.float32))
    flat = np.zeros((4, 4), np.float32)
    maps = [
        TargetMaps("predicted", np.array([0, 1, 2]), np.array([0, 0, 1]),
                   _maps([HEAT, HEAT[::-1, ::-1], HEAT], [False, False, False])),
        TargetMaps("true", np.array([1]), np.array([1]), _maps([flat], [True])),
    ]
    metrics = MetricsSection(pointing_tolerance_px=3.0)
    records = score_batch(batch, predictions, maps, CLASSES, metrics)
    keys = [(r.sample_id, r.method, r.target) for r in records]
    assert keys == [("a", "gradcam", "predicted"), ("a", "negative", "predicted"),
                    ("b", "gradcam", "predicted"), ("b", "gradcam", "true"),
                    ("b", "negative", "predicted"), ("b", "negative", "true"),
                    ("c", "gradcam", "predicted"), ("c", "negative", "predicted")]
    a = records[0]
    assert (a.label, a.predicted, a.correct, a.n_boxes, a.target_class) == (
        "cat", "cat", True, 1, "cat")
    assert a.confidence == pytest.approx(0.9)
    assert (a.energy_in_box, a.enrichment, a.pointing_hit) == (0.5, 2.0, 1.0)
    assert math.isnan(a.background_fixation)  # correct: no fixation flag
    # b's predicted-class map is HEAT turned around: 2 at (0, 0) in the box, 1 + 1 outside:
    # energy 2 / 4 = 0.5, enrichment 2, so not background-fixated.
    b_pred = records[2]
    assert (b_pred.correct, b_pred.energy_in_box, b_pred.background_fixation) == (
        False, 0.5, 0.0)
    b_true = records[3]
    assert b_true.degenerate and b_true.target_class == "dog"
    assert math.isnan(b_true.energy_in_box) and math.isnan(b_true.background_fixation)
    assert math.isnan(records[4].background_fixation)  # counter-evidence: never flagged
    c = records[6]
    assert c.n_boxes == 0 and math.isnan(c.energy_in_box) and math.isnan(c.centre_hit)
    # The centre of a 4 x 4 image (row 2, col 2) is 1.41 px from the box pixel (1, 1).
    assert a.centre_hit == 1.0


def test_score_stage_returns_the_batchs_skipped_samples_and_counts():
    batch = _batch()
    predictions = Predictions(np.zeros((3, 2), np.float32),
                              np.array([[0.9, 0.1], [0.1, 0.9], [0.3, 0.7]], np.float32))
    maps = [TargetMaps("predicted", np.array([0, 1, 2]), np.array([0, 1, 1]),
                       _maps([HEAT] * 3, [False] * 3))]
    records, skipped, counts = score(MetricsSection(), batch, predictions, maps, CLASSES)
    assert len(records) == 6
    assert skipped == batch.skipped and counts == Counts(n_boxes_clipped=2)


def test_explain_batch_targets():
    import keras

    from audit.cams import CamExplainer

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Conv2D(4, 3, name="conv"),
                              keras.layers.GlobalAveragePooling2D(),
                              keras.layers.Dense(2, activation="softmax")])
    explainer = CamExplainer(model)
    images = np.random.default_rng(0).random((3, 8, 8, 3), dtype=np.float32)
    predicted = explainer.predict(images).predicted
    labels = (predicted + np.array([0, 1, 0])) % 2  # the second sample is misclassified
    predictions, out = explain_batch(explainer, images, labels,
                                     methods=["gradcam", "negative"],
                                     targets=["predicted", "true"])
    # The predictions come from the same pass, bit for bit those of the predict stage.
    np.testing.assert_array_equal(predictions.probabilities,
                                  explainer.predict(images).probabilities)
    assert [(t.target, t.rows.tolist(), t.class_idx.tolist()) for t in out] == [
        ("predicted", [0, 1, 2], predicted.tolist()), ("true", [1], [labels[1]])]
    # Raw maps at the layer's resolution, the same as explaining those rows directly.
    direct = explainer.explain(images[[1]], labels[[1]], ("gradcam", "negative"),
                               upsample=False, normalize=False)
    true_maps = out[1].maps
    assert true_maps["gradcam"].shape == (1, 6, 6)
    np.testing.assert_array_equal(true_maps["gradcam"], direct["gradcam"])
    np.testing.assert_array_equal(true_maps["negative"], direct["negative"])
    _, all_right = explain_batch(explainer, images, predicted, methods=["gradcam"],
                                 targets=["predicted", "true"])
    assert [t.target for t in all_right] == ["predicted"]
    _, only_true = explain_batch(explainer, images, labels, methods=["gradcam"],
                                 targets=["true"])
    assert [(t.target, t.rows.tolist()) for t in only_true] == [("true", [1])]


def test_explain_label_sets_maps_every_target_as_explain_does():
    import keras

    from audit.cams import CamExplainer

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Conv2D(4, 3, name="conv"),
                              keras.layers.GlobalAveragePooling2D(),
                              keras.layers.Dense(3, activation="sigmoid")])
    explainer = CamExplainer(model)
    images = np.random.default_rng(0).random((3, 8, 8, 3), dtype=np.float32)
    positive = np.array([[1, 1, 0], [0, 0, 0], [0, 1, 0]], bool)
    truth = np.array([[1, 0, 1], [0, 0, 1], [0, 1, 0]], bool)
    out = explain_label_sets(explainer, images, positive, truth,
                             methods=["gradcam", "negative"], targets=["predicted", "true"])
    # Sample 0 has three targets, sample 1 one, sample 2 one: its slots are padded.
    assert [(t.target, t.rows.tolist(), t.class_idx.tolist()) for t in out] == [
        ("predicted", [0, 0, 2], [0, 1, 1]), ("true", [0, 1], [2, 2])]
    for t in out:
        direct = explainer.explain(images[t.rows], t.class_idx, ("gradcam", "negative"),
                                   upsample=False, normalize=False)
        for method in ("gradcam", "negative"):
            np.testing.assert_array_equal(t.maps[method], direct[method])
            np.testing.assert_array_equal(t.maps.degenerate[method],
                                          direct.degenerate[method])
    none = explain_label_sets(explainer, images, np.zeros((3, 3), bool), np.zeros((3, 3), bool),
                              methods=["gradcam"], targets=["predicted", "true"])
    assert none == []


def _record(sample_id, method, correct, energy, target="predicted"):
    return ScoreRecord(sample_id=sample_id, image=f"{sample_id}.png", label="cat",
                       label_index=0, predicted="cat" if correct else "dog",
                       predicted_index=0 if correct else 1, correct=correct, confidence=0.9,
                       method=method, target=target, target_class="cat", target_index=0,
                       n_boxes=1, energy_in_box=energy)


def test_select_gallery_takes_the_most_background_errors_of_the_first_deciding_method():
    frame = records_to_frame([
        _record("s1", "gradcam", False, 0.4), _record("s1", "scorecam", False, 0.0),
        _record("s2", "gradcam", False, 0.1), _record("s2", "scorecam", False, 0.9),
        _record("s3", "gradcam", True, 0.0),  # correct: never in the gallery
        _record("s4", "gradcam", False, 0.1),  # ties with s2: record order decides
        _record("s5", "gradcam", False, math.nan),  # no box or degenerate: left out
        _record("s6", "gradcam", False, 0.0, target="true"),  # not the decision's map
    ])
    chosen = select_gallery(frame, size=2)
    assert chosen["sample_id"].tolist() == ["s2", "s4"]
    assert chosen["background_energy"].tolist() == pytest.approx([0.9, 0.9])
    assert select_gallery(frame, size=0).empty
    no_gradcam = frame[frame["method"] != "gradcam"]
    assert select_gallery(no_gradcam, size=5)["sample_id"].tolist() == ["s1", "s2"]
    counter_only = records_to_frame([_record("s1", "negative", False, 0.0)])
    assert select_gallery(counter_only, size=5).empty
    assert list(select_gallery(pd.DataFrame(columns=list(RECORD_COLUMNS)), size=3)) == list(
        RECORD_COLUMNS)


def test_a_mask_replaces_the_boxes_as_the_region():
    batch = _batch()
    mask = np.zeros((4, 4), bool)
    mask[0, :2] = True  # the two pixels of weight 1: the object's outline inside its box
    batch.masks = [mask, None, None]
    predictions = Predictions(np.zeros((3, 2), np.float32),
                              np.array([[0.9, 0.1], [0.1, 0.9], [0.3, 0.7]], np.float32))
    maps = [TargetMaps("predicted", np.array([0, 1, 2]), np.array([0, 1, 1]),
                       _maps([HEAT] * 3, [False] * 3))]
    records = score_batch(batch, predictions, maps, CLASSES,
                          MetricsSection(pointing_tolerance_px=3.0))
    a, b = records[0], records[2]
    assert (a.region, b.region, records[4].region) == ("mask", "box", "")
    # Energy in the mask: 2 of 4; the mask covers 2 of 16 pixels: enrichment 0.5 / 0.125.
    assert (a.energy_in_box, a.box_area_fraction, a.enrichment) == (0.5, 0.125, 4.0)
    # The localisation IoU still compares boxes; the box scores are unchanged.
    assert a.loc_iou == 0.5 and (b.energy_in_box, b.enrichment) == (0.5, 2.0)


def test_large_photos_are_scored_at_a_capped_size():
    # A 40 x 80 image scored at most 64 px wide: 32 x 64, the box and tolerance scaled by 0.8.
    sample = Sample("a", "a.png", "a.png", 0, "cat", (Box(0.0, 0.0, 40.0, 20.0),))
    heat = np.zeros((40, 80), np.float32)
    heat[:20, :40] = 1.0  # all of the map in the box
    batch = Batch(index=0, samples=[sample], images=np.zeros((1, 4, 4, 3), np.float32),
                  original_sizes=[(40, 80)], display=np.zeros((1, 4, 4, 3), np.uint8))
    predictions = Predictions(np.zeros((1, 2), np.float32), np.array([[0.9, 0.1]], np.float32))
    maps = [TargetMaps("predicted", np.array([0]), np.array([0]),
                       CamMaps({"gradcam": heat[None]}, degenerate={"gradcam": np.array([False])}))]
    full = score_batch(batch, predictions, maps, CLASSES,
                       MetricsSection(pointing_tolerance_px=4.0, max_scoring_side=None))[0]
    capped = score_batch(batch, predictions, maps, CLASSES,
                         MetricsSection(pointing_tolerance_px=4.0, max_scoring_side=64))[0]
    assert (full.energy_in_box, full.box_area_fraction, full.enrichment) == (1.0, 0.25, 4.0)
    assert (capped.energy_in_box, capped.box_area_fraction, capped.enrichment) == (
        pytest.approx(1.0), 0.25, pytest.approx(4.0))
    assert capped.pointing_hit == full.pointing_hit == 1.0
    assert capped.loc_iou == pytest.approx(full.loc_iou)


def test_an_empty_batch_goes_through_predict_and_explain():
    """A batch whose every image was unreadable is empty; the per-batch stages still run."""
    import keras

    from audit.cams import CamExplainer

    model = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Conv2D(4, 3, name="conv"),
                              keras.layers.GlobalAveragePooling2D(),
                              keras.layers.Dense(2, activation="softmax")])
    explainer = CamExplainer(model, micro_batch=4)
    empty = np.zeros((0, 8, 8, 3), np.float32)
    predictions = explainer.predict(empty)
    assert predictions.probabilities.shape == (0, 2) and predictions.predicted.shape == (0,)
    maps = explainer.explain(empty, np.zeros((0,), np.int64), ("gradcam", "scorecam"))
    assert maps["gradcam"].shape == (0, 8, 8) and maps.degenerate["scorecam"].shape == (0,)
    raw = explainer.explain(empty, np.zeros((0,), np.int64), ("gradcam",), upsample=False)
    assert raw["gradcam"].shape == (0, 6, 6)


def test_gallery_maps_are_the_maps_the_gallery_computed_by_explaining_again(tmp_path):
    import keras

    from audit.cams import CamExplainer
    from audit.config import CamsSection
    from audit.pipeline import ShardSet
    from audit.pipeline.shards import write_shard
    from audit.stages.gallery import _stored_maps
    from audit.stages.gallery_maps import gallery_maps

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((8, 8, 3)), keras.layers.Conv2D(4, 3, name="conv"),
                              keras.layers.GlobalAveragePooling2D(),
                              keras.layers.Dense(2, activation="softmax")])
    explainer = CamExplainer(model)
    images = np.random.default_rng(1).random((4, 8, 8, 3), dtype=np.float32)
    predicted = explainer.predict(images).predicted
    labels = (predicted + np.array([1, 0, 1, 1])) % 2  # samples 0, 2 and 3 are errors
    methods = ("gradcam", "gradcam++", "negative")
    samples = [Sample(f"s{i}", f"s{i}.png", f"s{i}.png", int(labels[i]), CLASSES[labels[i]], ())
               for i in range(4)]
    batch = Batch(index=0, samples=samples, images=images, original_sizes=[(8, 8)] * 4,
                  display=np.zeros((4, 8, 8, 3), np.uint8))
    predictions, maps = explain_batch(explainer, images, labels, methods=methods,
                                      targets=["predicted", "true"])
    shard = gallery_maps(CamsSection(methods=list(methods)), batch, predictions, maps)
    # Only the errors are kept, both targets of every method.
    assert sorted(set(shard.arrays["sample_id"].tolist())) == ["s0", "s2", "s3"]
    assert len(shard) == 3 * 2 * len(methods)
    write_shard(tmp_path, "gallery_maps", 0, shard)
    stored = _stored_maps(ShardSet(tmp_path, "gallery_maps", 1), ["s3", "s0"], methods)
    # Today's gallery path: the chosen samples explained again, both targets in one pass.
    chosen = [3, 0]
    again = explainer.explain_targets(images[chosen],
                                      np.stack([predicted[chosen], labels[chosen]], axis=1),
                                      methods, upsample=False, normalize=False)
    for slot in (0, 1):
        for method in methods:
            np.testing.assert_array_equal(stored[slot][method], again.target(slot)[method])
    # A sample with no stored maps (correct, or not streamed): the gallery explains again.
    assert _stored_maps(ShardSet(tmp_path, "gallery_maps", 1), ["s1"], methods) is None
    assert _stored_maps(None, ["s0"], methods) is None
    right = [Sample(s.sample_id, s.image, s.path, int(predicted[i]), CLASSES[predicted[i]], ())
             for i, s in enumerate(samples)]
    no_errors = explain_batch(explainer, images, predicted, methods=methods,
                              targets=["predicted", "true"])
    assert not len(gallery_maps(CamsSection(methods=list(methods)),
                                Batch(index=0, samples=right, images=images,
                                      original_sizes=[(8, 8)] * 4,
                                      display=batch.display), *no_errors))
