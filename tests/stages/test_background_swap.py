"""The background swap stage on a model whose decisions can be worked out by hand, its figures,
gates, and the verdict of a run without gates."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET

import keras
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from audit.analysis.evidence import behaviour_figures
from audit.analysis.gates import evaluate_gates
from audit.cams import CamExplainer
from audit.config import BehaviourSection, DatasetSection, GatesSection
from audit.datasets import BatchLoader, BatchSpec, Box, DatasetManifest, Preprocessor, Sample
from audit.errors import ExitCode
from audit.report import write_junit
from audit.report.sections.verdict import verdict_view
from audit.stages.background_swap import background_swap
from audit.stages.behaviour import behaviour
from audit.stages.gate import gate
from audit.stages.load_model import ModelInfo
from audit.summary import RunSummary, Summary

CLASSES = ["red", "green"]


def _colour_model() -> keras.Model:
    """logits = 10 x (mean red, mean green) of the [0, 1] image: the colour covering more of
    the image wins, whatever its shape."""
    inputs = keras.Input((16, 16, 3))
    picked = keras.layers.Conv2D(2, 1, use_bias=False, name="pick")(inputs)
    pooled = keras.layers.GlobalAveragePooling2D()(picked)
    outputs = keras.layers.Dense(2, activation="softmax", name="head")(pooled)
    model = keras.Model(inputs, outputs)
    model.get_layer("pick").set_weights([np.array([[[[1, 0], [0, 1], [0, 0]]]], np.float32)])
    model.get_layer("head").set_weights([np.eye(2, dtype=np.float32) * 10, np.zeros(2)])
    return model


@pytest.fixture(scope="module")
def swapped(tmp_path_factory):
    """Three red 4 x 4 objects on green 16 x 16 backgrounds: a and b labelled red (wrong: the
    model calls them green), c labelled green (right)."""
    folder = tmp_path_factory.mktemp("swap")
    pixels = np.zeros((16, 16, 3), np.uint8)
    pixels[..., 1] = 200
    pixels[2:6, 2:6] = (200, 0, 0)
    Image.fromarray(pixels).save(folder / "x.png")
    box = (Box(2, 2, 6, 6),)
    samples = [Sample("a", "x.png", str(folder / "x.png"), 0, "red", box),
               Sample("b", "x.png", str(folder / "x.png"), 0, "red", box),
               Sample("c", "x.png", str(folder / "x.png"), 1, "green", box)]
    manifest = DatasetManifest(samples=samples, skipped=[], class_names=CLASSES,
                               path="m.csv", format="csv")
    preprocessor = Preprocessor.from_config({"rescale": 1 / 255, "offset": 0.0}, channels=3)
    info = ModelInfo("m.keras", (16, 16), 3, "pick", 2, "softmax", preprocessor, True)
    explainer = CamExplainer(_colour_model(), "pick", micro_batch=4)
    batch = BatchLoader((16, 16), 3, preprocessor)(BatchSpec(0, tuple(samples)))
    return explainer, batch, info, manifest


def test_swap_stage_hand_worked(swapped):
    explainer, batch, info, manifest = swapped
    predictions = explainer.predict(batch.images)
    assert predictions.predicted.tolist() == [1, 1, 1]
    swaps = background_swap(0, explainer, batch, info, manifest)
    # a's only same-class donor is b, its only other-class donor c (and b's: a, c); c has no
    # other green sample, so only a Mixed-Rand. Every donor's box is tiled over with green
    # (the band below the box, 10 x 16 px, is the largest), so every swap is a red 4 x 4 object on
    # green: the model says green, and green is what it reads into each donor's background.
    assert (swaps["a"].donor_same, swaps["a"].donor_rand) == ("b", "c")
    assert (swaps["b"].donor_same, swaps["b"].donor_rand) == ("a", "c")
    assert swaps["c"].donor_same == "" and swaps["c"].donor_rand in ("a", "b")
    assert {s.predicted_mixed_rand for s in swaps.values()} == {1}
    assert {s.background_class for s in swaps.values()} == {1}
    # The same donors whatever the batch: b alone in its batch draws the same.
    alone = BatchLoader((16, 16), 3, info.preprocessor)(BatchSpec(1, (manifest.samples[1],)))
    assert background_swap(0, explainer, alone, info, manifest)["b"] == swaps["b"]

    rows = {r.sample_id: r for r in behaviour(BehaviourSection(), explainer, batch,
                                               predictions, CLASSES, info, swaps)}
    a, c = rows["a"], rows["c"]
    assert (a.predicted_mixed_same, a.correct_mixed_same) == ("green", 0.0)
    assert (a.predicted_mixed_rand, a.correct_mixed_rand, a.background_class) == (
        "green", 0.0, "green")
    # a is wrong and its decision followed the (green) background: decided by the swap.
    assert (a.follows_background, a.background_decision_swap) == (1.0, 1.0)
    assert (a.background_evidence, a.background_decision) == ("swap", 1.0)
    # c's object (red) on a green background is called green: c's own class, so following
    # the background cannot be told from following the object: undefined, and the fill
    # test decides (c is correct: NaN either way).
    assert math.isnan(c.follows_background) and c.background_evidence == "fill"
    assert c.correct_mixed_rand == 1.0 and math.isnan(c.correct_mixed_same)
    # Without the swap stage the rows are as before, decided by the fill test.
    plain = behaviour(BehaviourSection(), explainer, batch, predictions, CLASSES, info)
    assert plain[0].background_evidence == "fill" and plain[0].predicted_mixed_rand == ""


def _rows(same, rand, follows, correct) -> pd.DataFrame:
    n = len(same)
    return pd.DataFrame({
        "sample_id": [f"s{i}" for i in range(n)], "label": ["red"] * n, "correct": correct,
        "keeps_without_object": [1.0] * n, "keeps_without_background": [0.0] * n,
        "predicted_without_object": ["red"] * n, "predicted_without_background": ["red"] * n,
        "background_decision": [math.nan] * n, "background_evidence": ["swap"] * n,
        "correct_mixed_same": same, "correct_mixed_rand": rand, "follows_background": follows})


def test_swap_figures_hand_worked():
    nan = math.nan
    rows = _rows(same=[1, 1, 1, 0, nan], rand=[0, 1, 0, 0, 1], follows=[1, 0, 1, nan, 0],
                 correct=[True, True, True, False, True])
    figures = behaviour_figures(rows, class_names=["red"], fill="gray", seed=0,
                                n_resamples=200)
    swap = figures.swap
    # Over the 4 samples with both swaps: originals 3 of 4 right, Mixed-Same 3 of 4, Mixed-Rand
    # 1 of 4; BG-Gap (1-0) + (1-1) + (1-0) + (0-0) = 2 of 4, their difference.
    assert swap.n == 4 and swap.accuracy_original.value == pytest.approx(0.75)
    assert (swap.accuracy_mixed_same.value, swap.accuracy_mixed_same.n) == (0.75, 4)
    assert (swap.accuracy_mixed_rand.value, swap.accuracy_mixed_rand.n) == (0.25, 4)
    assert (swap.bg_gap.value, swap.bg_gap.n) == (0.5, 4)
    assert swap.bg_gap.method == "bootstrap"
    assert (swap.background_follow_rate.value, swap.background_follow_rate.count) == (0.5, 2)
    assert figures.per_class["red"].swap.bg_gap.value == 0.5  # one class: the same samples
    assert figures.decision_evidence == {"swap": 1, "fill": 0}
    assert figures.misclassified.swap.n == 1

    summary = Summary(n_samples=5, accuracy=0.8, behaviour=figures, min_n=1)
    gates = evaluate_gates(summary, GatesSection(max_bg_gap=0.1,
                                                 max_background_follow_rate=0.6))
    assert (gates["max_bg_gap"].passed, gates["max_bg_gap"].value) == (False, 0.5)
    assert gates["max_background_follow_rate"].passed
    without = evaluate_gates(Summary(n_samples=5), GatesSection(max_bg_gap=0.1))
    assert not without["max_bg_gap"].passed
    assert "no background swap" in without["max_bg_gap"].reason


def test_no_gates_is_no_verdict_and_exit_0(tmp_path):
    summary = Summary(n_samples=10, accuracy=0.6)
    verdict = gate(GatesSection(), DatasetSection(path="d.csv"), summary)
    assert (verdict.passed, verdict.status, verdict.exit_code) == (
        None, "no_verdict", ExitCode.PASSED)
    final = RunSummary.assemble(summary, verdict, RunSummary().provenance)
    assert (final.passed, final.verdict) == (None, "no_verdict")
    view = verdict_view(final)
    assert (view["state"], view["label"]) == ("none", "NO VERDICT")
    assert view["line"].startswith("No verdict: no gates configured.")
    assert view["first"][0] == {"name": "accuracy", "value": "60.0%", "note": "10 samples"}
    suite = ET.parse(write_junit(tmp_path, final)).getroot().find("testsuite")
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props["verdict"] == "no_verdict"
    (case,) = suite.iter("testcase")
    assert case.get("name") == "no gates configured" and case.find("failure") is None
    # With a gate, PASSED / FAILED as before.
    judged = gate(GatesSection(min_accuracy=0.5), DatasetSection(path="d.csv"), summary)
    assert (judged.passed, judged.status, judged.exit_code) == (True, "passed", ExitCode.PASSED)
