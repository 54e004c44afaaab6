"""The evidence stages on a model whose decisions can be worked out by hand, and on the small
demo: behaviour, faithfulness, sanity, their figures, gates and report section."""

from __future__ import annotations

import hashlib
import math

import keras
import numpy as np
import pandas as pd
import pytest
from PIL import Image

from audit.analysis.evidence import behaviour_agreement, behaviour_figures
from audit.cams import CamExplainer
from audit.config import (
    BehaviourSection,
    CamsSection,
    DatasetSection,
    GatesSection,
    ModelSection,
    SanitySection,
)
from audit.datasets import BatchLoader, BatchSpec, Box, Preprocessor, Sample, load_manifest
from audit.evidence import choose_subset
from audit.metrics.records import read_records
from audit.report.sections.trust import disagreement, trust_view
from audit.stages.behaviour import behaviour
from audit.stages.faithfulness import BASELINES, map_scores
from audit.stages.gate import gate
from audit.stages.load_model import ModelInfo, load_model
from audit.stages.sanity import map_similarity, sanity
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
def colour(tmp_path_factory):
    """A red 4 x 4 object on a green 16 x 16 background: the model calls it green."""
    folder = tmp_path_factory.mktemp("colour")
    pixels = np.zeros((16, 16, 3), np.uint8)
    pixels[..., 1] = 200
    pixels[2:6, 2:6] = (200, 0, 0)
    Image.fromarray(pixels).save(folder / "a.png")
    sample = Sample("a", "a.png", str(folder / "a.png"), 0, "red", (Box(2, 2, 6, 6),))
    plain = Sample("b", "b.png", str(folder / "a.png"), 1, "green", ())
    preprocessor = Preprocessor.from_config({"rescale": 1 / 255, "offset": 0.0}, channels=3)
    info = ModelInfo("m.keras", (16, 16), 3, "pick", 2, "softmax", preprocessor, True)
    batch = BatchLoader((16, 16), 3, preprocessor)(BatchSpec(0, (sample, plain)))
    explainer = CamExplainer(_colour_model(), "pick", micro_batch=4)
    return explainer, batch, info


def _softmax(logits):
    e = np.exp(np.asarray(logits) - max(logits))
    return e / e.sum()


def test_behaviour_hand_worked(colour):
    explainer, batch, info = colour
    predictions = explainer.predict(batch.images)
    assert predictions.predicted.tolist() == [1, 1]  # green background wins; a is wrong
    rows = behaviour(BehaviourSection(fill="gray"), explainer, batch, predictions, CLASSES, info)
    a, b = rows
    # Object removed: 16 gray pixels (128) replace red; mean green (200 * 240 + 128 * 16) /
    # 256 / 255 = 0.7667 beats mean red 128 * 16 / 256 / 255 = 0.0314: still green, kept.
    assert (a.keeps_without_object, a.predicted_without_object) == (1.0, "green")
    assert a.prob_without_object == pytest.approx(
        _softmax([10 * 128 * 16 / 256 / 255, 10 * (200 * 240 + 128 * 16) / 256 / 255])[1],
        rel=1e-5)
    # Background removed: red (200 * 16 + 128 * 240) / 256 / 255 = 0.5196 beats green
    # 128 * 240 / 256 / 255 = 0.4706: the decision flips to red.
    assert (a.keeps_without_background, a.predicted_without_background) == (0.0, "red")
    assert a.prob_without_background == pytest.approx(
        _softmax([10 * (200 * 16 + 128 * 240) / 256 / 255, 10 * 128 * 240 / 256 / 255])[1],
        rel=1e-5)
    # Misclassified, kept without the object, lost without the background: decided by the
    # background.
    assert (a.correct, a.background_decision) == (False, 1.0)
    # No box: no edited copies, and the row says so with empty cells.
    assert b.correct and math.isnan(b.keeps_without_object) and b.predicted_without_object == ""
    assert math.isnan(b.background_decision)


def test_behaviour_figures_and_agreement():
    samples = pd.DataFrame({
        "sample_id": ["s1", "s2", "s3", "s4"], "image": ["i"] * 4,
        "label": ["red", "red", "green", "green"], "predicted": ["green", "red", "red", "green"],
        "correct": [False, True, False, True], "confidence": [0.9] * 4,
        "keeps_without_object": [1.0, 0.0, 1.0, math.nan],
        "keeps_without_background": [0.0, 1.0, 1.0, math.nan],
        "prob_without_object": [0.9] * 4, "prob_without_background": [0.2] * 4,
        "background_decision": [1.0, math.nan, 0.0, math.nan],
        "predicted_without_object": ["green", "green", "red", ""],
        "predicted_without_background": ["red", "red", "green", ""],
    })
    figures = behaviour_figures(samples, class_names=CLASSES, fill="gray", seed=0,
                                n_resamples=200)
    # Three samples with a region: kept without object 2/3, without background 2/3.
    assert figures.n == 3 and figures.fill == "gray"
    assert figures.keeps_without_object.value == pytest.approx(2 / 3)
    assert figures.background_reliance.value == pytest.approx(0.0)
    assert figures.misclassified.background_reliance.value == pytest.approx(0.5)  # (1 + 0) / 2
    assert figures.correct.n == 1 and figures.correct.background_reliance.value == -1.0
    # Only the object left (background removed): s1 red = red, s2 red = red, s3 green = green.
    assert figures.accuracy_object_only.value == 1.0
    # Only the background left: s1 green != red, s2 green != red, s3 red != green.
    assert figures.accuracy_background_only.value == 0.0
    assert figures.background_decision_rate.value == 0.5 and figures.background_decision_rate.n == 2
    records = pd.DataFrame({
        "sample_id": ["s1", "s3", "s1", "s3"], "method": ["gradcam", "gradcam", "scorecam",
                                                          "scorecam"],
        "target": ["predicted"] * 4, "background_fixation": [1.0, 0.0, 0.0, 0.0]})
    agreement = behaviour_agreement(records, samples)
    assert (agreement["gradcam"].n, agreement["gradcam"].agreement) == (2, 1.0)
    assert agreement["gradcam"].kappa == 1.0
    assert agreement["scorecam"].agreement == 0.5 and agreement["scorecam"].kappa == 0.0


def test_faithfulness_curves_reward_the_map_that_ranks_the_decision_first(colour):
    explainer, batch, _ = colour
    images = batch.images[:1]
    classes = np.array([1])  # explain "green", the decision
    background_first = np.ones((1, 16, 16), np.float32)
    background_first[0, 2:6, 2:6] = 0.0
    object_first = 1.0 - background_first
    blanks = np.zeros_like(images)
    probs = explainer.predict(images).probabilities
    score = probs[:, 1]
    blank_score = explainer.predict(blanks).probabilities[:, 1]  # all zero: 50 / 50
    assert blank_score == pytest.approx([0.5])
    results = {name: map_scores(explainer, images, classes, maps, blanks, steps=8,
                                scores=score, substrate_scores=blank_score)
               for name, maps in (("background", background_first), ("object", object_first))}
    deletion = {k: v[0][0] for k, v in results.items()}
    insertion = {k: v[1][0] for k, v in results.items()}
    # Deleting the green background first makes green lose fast; deleting the red object
    # first makes green *more* likely before the background goes.
    assert deletion["background"] < deletion["object"]
    assert insertion["background"] > insertion["object"]
    # The map-weighted input keeps only the background for the background-first map.
    assert results["background"][2][0] > results["object"][2][0]


def test_sanity_leaves_the_model_alone(demo_small_biased, biased_run):
    model_section = ModelSection(path=demo_small_biased.model_path,
                                 class_names=["circle", "square", "triangle"])
    cams = CamsSection(methods=["gradcam", "negative"], scorecam_max_channels=4)
    explainer, class_names, info = load_model(model_section, cams)
    manifest = load_manifest("csv", demo_small_biased.audit_manifest, class_names=class_names)

    def weights_hash():
        digest = hashlib.sha256()
        for weight in explainer.model.get_weights():
            digest.update(np.ascontiguousarray(weight).tobytes())
        return digest.hexdigest()

    before = weights_hash()
    records = read_records(biased_run.run_dir / "records.csv")
    result = sanity(SanitySection(steps=3, samples=6), cams, 0, records, manifest, explainer,
                    info)
    assert weights_hash() == before
    assert result.n == 6 and result.layers[0] == 0 and len(result.layers) == 4
    assert result.layers == sorted(result.layers)
    for method in ("gradcam", "negative"):
        assert result.spearman[method][0] == 1.0 and len(result.spearman[method]) == 4
    # The same samples as the seeded subset, whatever the records' order.
    first = records.drop_duplicates("sample_id")
    assert len(choose_subset(first["sample_id"].tolist(), first["correct"].tolist(),
                             max_samples=6, seed=0)) == 6


def test_map_similarity_counts_a_flattened_map_as_no_agreement():
    original = np.arange(64, dtype=np.float32).reshape(8, 8) / 63
    assert map_similarity(original, original)[0] == pytest.approx(1.0)
    assert map_similarity(original, np.zeros((8, 8), np.float32))[0] == 0.0
    assert math.isnan(map_similarity(np.zeros((8, 8)), original)[0])


def _summary(**behaviour) -> Summary:
    data = {
        "n_samples": 50, "accuracy": 0.5,
        "methods": {
            "gradcam": {"background_fixation_rate": 0.8,
                        "background_fixation": {"n": 40, "count": 32, "mean": 0.8,
                                                "ci": [0.7, 0.9]},
                        "behaviour_agreement": {"n": 40, "agreement": 0.9, "kappa": 0.8},
                        "faithfulness": {"outcome": "faithful"}, "sanity": {"passed": True}},
            "scorecam": {"background_fixation_rate": 0.3,
                         "background_fixation": {"n": 40, "count": 12, "mean": 0.3,
                                                 "ci": [0.2, 0.4]},
                         "behaviour_agreement": {"n": 40, "agreement": 0.5, "kappa": 0.1},
                         "faithfulness": {"outcome": "undecided"}, "sanity": {"passed": True}},
        },
        "behaviour": {"n": 50, "background_reliance": {"n": 50, "value": 0.4, "ci_low": 0.3,
                                                       "ci_high": 0.5}, **behaviour},
    }
    return Summary.model_validate(data)


def test_gates_on_behaviour_and_trusted_methods():
    dataset = DatasetSection(path="d.csv")
    summary = _summary()
    verdict = gate(GatesSection(max_background_reliance=0.2, max_background_fixation_rate=0.5,
                                fixation_methods="trusted"), dataset, summary)
    assert verdict.gates["max_background_reliance"].passed is False
    assert verdict.gates["max_background_reliance"].reason == (
        "background reliance (behavioural test, no explainer) 0.400 is above the maximum "
        "0.200")
    # Only Grad-CAM is faithful and sane: the fixation gate applies to it alone.
    assert [n for n in verdict.gates if n.startswith("max_background_fixation")] == [
        "max_background_fixation_rate[gradcam]"]
    named = gate(GatesSection(max_background_fixation_rate=0.5, fixation_methods=["scorecam"]),
                 dataset, summary)
    assert list(named.gates) == ["max_background_fixation_rate[scorecam]"] and named.passed
    untrusted = summary.model_copy(update={"methods": {
        m: f.model_copy(update={"sanity": None}) for m, f in summary.methods.items()}})
    none = gate(GatesSection(max_background_fixation_rate=0.5, fixation_methods="trusted"),
                dataset, untrusted)
    assert list(none.gates) == ["max_background_fixation_rate[trusted]"]
    assert none.gates["max_background_fixation_rate[trusted]"].passed is False
    # An undecided method is not a trusted one; the reason says more samples might decide.
    from audit.summary import FaithfulnessRun

    counted = untrusted.model_copy(update={"faithfulness": FaithfulnessRun(
        n_used=40, n_faithful=1, n_undecided=1, samples_to_decide=120)})
    reason = gate(GatesSection(max_background_fixation_rate=0.5, fixation_methods="trusted"),
                  dataset, counted).gates["max_background_fixation_rate[trusted]"].reason
    assert reason.endswith("(1 undecided on 40 samples, not shown unfaithful; "
                           "faithfulness.max_samples: 120 would likely decide it)")
    without = gate(GatesSection(max_background_reliance=0.2), dataset,
                   summary.model_copy(update={"behaviour": None}))
    assert without.gates["max_background_reliance"].passed is False


def test_trust_section_names_the_method_that_agrees_with_behaviour():
    summary = RunSummary.model_validate(_summary().model_dump())
    found = disagreement(summary, ["gradcam", "scorecam"])
    assert found == {"rates": "Grad-CAM 80.0%, Score-CAM 30.0%", "best": "Grad-CAM",
                     "kappa": "0.80"}
    view = trust_view(summary, ["gradcam", "scorecam"], max_similarity=0.5, substrate="blur")
    assert view["ran"] and view["behaviour"]["reliance"] == "0.40"
    assert view["behaviour"]["leans"] == "background"
    assert [r["kappa"] for r in view["agreement"]] == ["0.80", "0.10"]
    agreeing = summary.model_copy(update={"methods": {
        "gradcam": summary.methods["gradcam"],
        "scorecam": summary.methods["scorecam"].model_copy(update={
            "background_fixation": summary.methods["gradcam"].background_fixation})}})
    assert disagreement(agreeing, ["gradcam", "scorecam"]) is None
    assert BASELINES == ("random", "centre")


def test_comparisons_weigh_the_behavioural_figures():
    from audit.comparison.compare import compare_summaries

    def run(correct: int, decided: int, reliance: float) -> Summary:
        errors = 100 - correct
        return Summary.model_validate({
            "n_samples": 100, "accuracy": correct / 100,
            "correct": {"n": 100, "count": correct, "mean": correct / 100},
            "behaviour": {
                "n": 100,
                "background_reliance": {"n": 100, "value": reliance,
                                        "ci_low": reliance - 0.05, "ci_high": reliance + 0.05},
                "background_decision_rate": {"n": errors, "count": decided,
                                             "value": decided / errors},
                "background_decision_per_sample": {"n": 100, "count": decided,
                                                   "value": decided / 100}}})

    comparison = compare_summaries(run(95, 1, -0.3), run(20, 40, 0.5))
    rows = {r.figure: r for r in comparison.figures}
    # One background-decided error of 5 against 40 of 80: the rate among errors falls, the
    # errors changed in number, so it is not comparable; per sample it is a regression.
    assert rows["background_decision_rate"].assessment == "not_comparable"
    assert rows["background_decision_rate"].note == "errors 5 → 80"
    assert rows["background_decision_per_sample"].assessment == "regression"
    assert rows["background_reliance"].assessment == "regression"
    same = compare_summaries(run(95, 1, -0.3), run(95, 1, -0.3))
    assert same.overall.startswith("no significant change")
