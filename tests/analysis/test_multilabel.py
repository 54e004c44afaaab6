"""A multi-label run's figures and gates from hand-made records and label scores."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from audit.analysis.gates import evaluate_gates
from audit.analysis.multilabel import aggregate_multilabel
from audit.config import GatesSection
from audit.errors import ConfigError
from audit.metrics.multilabel import LabelScore
from audit.metrics.records import ScoreRecord, records_to_frame
from audit.summary import Summary

CLASSES = ["cat", "dog"]
#: (image, truth cat, truth dog, p cat, p dog) for six images.
IMAGES = [("a", 1, 0, 0.9, 0.1), ("b", 1, 1, 0.8, 0.7), ("c", 0, 1, 0.6, 0.9),
          ("d", 0, 0, 0.2, 0.3), ("e", 1, 0, 0.3, 0.2), ("f", 0, 1, 0.1, 0.8)]


def _scores() -> pd.DataFrame:
    rows = [LabelScore(sample_id=i, image=i, label=name, label_index=c, truth=bool(t[c]),
                       probability=p[c], threshold=0.5, positive=p[c] >= 0.5)
            for i, *rest in IMAGES for t, p in [(rest[:2], rest[2:])]
            for c, name in enumerate(CLASSES)]
    return pd.DataFrame([vars(r) for r in rows])


def _records() -> pd.DataFrame:
    """One Grad-CAM record per predicted label (target predicted) and per missed label (true);
    the false positive (c: cat) and the false negative (e: cat) are background-fixated."""
    out = []
    for i, *rest in IMAGES:
        truth, probs = rest[:2], rest[2:]
        for c, name in enumerate(CLASSES):
            positive, present = probs[c] >= 0.5, bool(truth[c])
            if not (positive or present):
                continue
            correct = positive and present
            out.append(ScoreRecord(
                sample_id=i, image=i, label="", label_index=-1, predicted="",
                predicted_index=-1, correct=correct, confidence=probs[c], method="gradcam",
                target="predicted" if positive else "true", target_class=name, target_index=c,
                n_boxes=1, energy_in_box=0.8 if correct else 0.1,
                enrichment=3.0 if correct else 0.3,
                background_fixation=math.nan if correct else 1.0, region="box"))
    return records_to_frame(out)


@pytest.fixture(scope="module")
def summary() -> Summary:
    return aggregate_multilabel(_records(), _scores(), class_names=CLASSES, seed=0,
                                n_resamples=200, min_n=2)


def test_label_figures(summary):
    cat, dog = summary.multilabel.labels["cat"], summary.multilabel.labels["dog"]
    assert (cat.tp, cat.fp, cat.fn) == (2, 1, 1) and (dog.tp, dog.fp, dog.fn) == (3, 0, 0)
    assert cat.precision.mean == pytest.approx(2 / 3) and cat.precision.method == "wilson"
    assert cat.recall.count == 2 and cat.recall.n == 3
    assert cat.f1 == pytest.approx(4 / 6) and dog.average_precision == pytest.approx(1.0)
    fixation = cat.fixation["gradcam"]
    assert (fixation.false_positive.count, fixation.false_positive.n) == (1, 1)
    assert (fixation.false_negative.count, fixation.false_negative.n) == (1, 1)
    assert fixation.errors.n == 2 and cat.energy_in_box["gradcam"] == pytest.approx(0.8)
    macro = summary.multilabel.macro
    assert macro.recall == pytest.approx((2 / 3 + 1) / 2) and macro.n_labels == 2
    # Exact match: a, b, d and f are right; c (cat predicted) and e (cat missed) are not.
    assert summary.accuracy == pytest.approx(4 / 6) and summary.n_samples == 6
    assert summary.methods["gradcam"].background_fixation.n == 1  # the false positive
    assert summary.per_class == {} and summary.confusion_matrix.matrix == []


def test_single_label_summaries_have_no_multilabel_block(summary):
    assert "multilabel" in summary.model_dump(mode="json")
    assert "multilabel" not in Summary().model_dump(mode="json")


def test_gates_per_label_with_a_default_and_macro(summary):
    gates = GatesSection(per_label={"cat": {"min_recall": 0.9},
                                    "*": {"min_precision": 0.5,
                                          "max_background_fixation_rate": 0.4}},
                         min_map=0.5)
    out = evaluate_gates(summary, gates)
    assert not out["min_recall[cat]"].passed and "recall 0.667" in out["min_recall[cat]"].reason
    assert out["min_precision[cat]"].passed and out["min_precision[dog]"].passed
    assert not out["max_background_fixation_rate[cat][gradcam]"].passed
    assert out["max_background_fixation_rate[dog][gradcam]"].outcome == "undefined"
    assert out["min_map"].passed and "min_recall[dog]" not in out


def test_label_gates_on_a_single_label_run_fail_and_unknown_labels_are_refused(summary):
    out = evaluate_gates(Summary(n_samples=3), GatesSection(per_label={"cat": {
        "min_recall": 0.5}}))
    assert not out["per_label"].passed and "single-label" in out["per_label"].reason
    with pytest.raises(ConfigError, match="got 'cow'"):
        evaluate_gates(summary, GatesSection(per_label={"cow": {"min_recall": 0.5}}))


@pytest.mark.parametrize("name", ["audit.metrics.multilabel", "audit.datasets.label_sets",
                                  "audit.stages.explain"])
def test_doctests(name):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(name))
    assert result.attempted and not result.failed
