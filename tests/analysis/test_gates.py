"""Gates: thresholds -> pass/fail with a reason; undefined figures pass and say so; figures
over fewer than metrics.min_n samples are "not enough samples", passing or failing as
gates.on_too_few says; the gate stage adds the input's own gate and the exit code."""

import pytest

from audit.analysis.gates import evaluate_gates
from audit.config import DatasetSection, GatesSection
from audit.errors import ExitCode
from audit.stages.gate import gate
from audit.summary import Gate, Summary

SUMMARY = Summary.model_validate({
    "n_samples": 100,
    "min_n": 10,
    "accuracy": 0.7,
    "correct": {"n": 100, "count": 70, "mean": 0.7},
    "methods": {
        "gradcam": {"background_fixation_rate": 0.6,
                    "background_fixation": {"n": 30, "count": 18, "mean": 0.6},
                    "pointing_accuracy": 0.5, "pointing_hit": {"all": {"n": 90, "mean": 0.5}},
                    "n_maps": 100, "n_degenerate": 10,
                    "energy_in_box": {"all": {"n": 90, "mean": 0.3}}},
        "scorecam": {"background_fixation_rate": None, "pointing_accuracy": 0.9,
                     "pointing_hit": {"all": {"n": 100, "mean": 0.9}}, "n_maps": 100,
                     "n_degenerate": 0, "energy_in_box": {"all": {"n": 100, "mean": 0.5}}},
        "negative": {"background_fixation_rate": 0.9, "n_maps": 100, "n_degenerate": 90},
    },
})
ALL_GATES = GatesSection(min_accuracy=0.8, max_background_fixation_rate=0.5,
                         min_pointing_accuracy=0.6, min_energy_in_box=0.4,
                         max_degenerate_fraction=0.05)


def test_no_gates_configured():
    assert evaluate_gates(SUMMARY, GatesSection()) == {}


def test_each_gate_value_threshold_reason():
    gates = evaluate_gates(SUMMARY, ALL_GATES)
    assert list(gates) == [
        "min_accuracy",
        "max_background_fixation_rate[gradcam]", "min_pointing_accuracy[gradcam]",
        "min_energy_in_box[gradcam]", "max_degenerate_fraction[gradcam]",
        "max_background_fixation_rate[scorecam]", "min_pointing_accuracy[scorecam]",
        "min_energy_in_box[scorecam]", "max_degenerate_fraction[scorecam]",
    ]  # negative evidence is counter-evidence: never gated
    assert gates["min_accuracy"] == Gate(value=0.7, threshold=0.8, passed=False, outcome="fail",
                                         n=100,
                                         reason="accuracy 0.700 is below the minimum 0.800")
    assert gates["max_background_fixation_rate[gradcam]"] == Gate(
        value=0.6, threshold=0.5, passed=False, outcome="fail", n=30,
        reason="gradcam background-fixation rate among misclassified samples 0.600 is above "
               "the maximum 0.500")
    assert gates["max_background_fixation_rate[scorecam]"] == Gate(
        value=None, threshold=0.5, passed=True, outcome="undefined", n=0,
        reason="scorecam background-fixation rate among misclassified samples is undefined on "
               "this dataset; nothing to hold against it")
    assert gates["min_pointing_accuracy[scorecam]"].passed is True
    assert gates["min_pointing_accuracy[scorecam]"].outcome == "pass"
    assert gates["min_energy_in_box[gradcam]"] == Gate(
        value=0.3, threshold=0.4, passed=False, outcome="fail", n=90,
        reason="gradcam mean energy in box 0.300 is below the minimum 0.400")
    assert gates["max_degenerate_fraction[gradcam]"] == Gate(
        value=0.1, threshold=0.05, passed=False, outcome="fail", n=100,
        reason="gradcam share of degenerate maps 0.100 is above the maximum 0.050")


def test_boundaries_are_inclusive():
    gates = evaluate_gates(SUMMARY, GatesSection(min_accuracy=0.7,
                                                 max_background_fixation_rate=0.6))
    assert gates["min_accuracy"].passed is True
    assert gates["max_background_fixation_rate[gradcam]"].passed is True


def test_gate_stage_verdict_and_exit_codes():
    dataset = DatasetSection(path="d.csv", max_skipped_fraction=0.05)
    lenient = gate(GatesSection(min_accuracy=0.5), dataset, SUMMARY)
    assert (lenient.passed, lenient.exit_code, list(lenient.gates)) == (
        True, ExitCode.PASSED, ["min_accuracy"])
    strict = gate(ALL_GATES, dataset, SUMMARY)
    assert (strict.passed, strict.exit_code) == (False, ExitCode.GATE_FAILED)
    assert gate(GatesSection(), dataset, SUMMARY).gates == {}


def test_too_many_skipped_samples_is_the_inputs_gate_and_exit_code_2():
    dataset = DatasetSection(path="d.csv", max_skipped_fraction=0.05)
    skipping = SUMMARY.model_copy(update={"n_skipped": 10, "skipped_fraction": 10 / 110})
    verdict = gate(GatesSection(min_accuracy=0.5), dataset, skipping)
    assert list(verdict.gates) == ["max_skipped_fraction", "min_accuracy"]
    assert verdict.gates["max_skipped_fraction"] == Gate(
        value=10 / 110, threshold=0.05, passed=False, outcome="fail",
        reason="9.1% of the samples were skipped, above dataset.max_skipped_fraction 5.0%; "
               "the figures describe only part of the dataset")
    assert (verdict.passed, verdict.exit_code) == (False, ExitCode.BAD_INPUT)
    at_limit = SUMMARY.model_copy(update={"skipped_fraction": 0.05})
    assert "max_skipped_fraction" not in gate(GatesSection(), dataset, at_limit).gates


# --- Too few samples --------------------------------------------------------------------------

#: A good model: 119 of 120 right, its one error fixated (1 of 1).
GOOD = Summary.model_validate({
    "n_samples": 120, "min_n": 10, "accuracy": 119 / 120,
    "correct": {"n": 120, "count": 119, "mean": 119 / 120},
    "methods": {"gradcam": {"background_fixation_rate": 1.0,
                            "background_fixation": {"n": 1, "count": 1, "mean": 1.0},
                            "n_maps": 120}},
})
FIXATION = "max_background_fixation_rate[gradcam]"


@pytest.mark.parametrize("on_too_few", ["pass", "fail"])
def test_a_figure_below_min_n_is_not_enough_samples(on_too_few):
    gates = evaluate_gates(GOOD, GatesSection(max_background_fixation_rate=0.5,
                                              min_accuracy=0.9, on_too_few=on_too_few))
    verdict = "passes" if on_too_few == "pass" else "fails"
    assert gates[FIXATION] == Gate(
        value=1.0, threshold=0.5, passed=on_too_few == "pass", outcome="not_enough_samples",
        n=1, reason="not enough samples (n=1 < metrics.min_n 10): gradcam background-fixation "
                    "rate among misclassified samples 1.000 is not judged; the gate "
                    f"{verdict} (gates.on_too_few: {on_too_few})")
    # The rate of 1 of 1 is above the maximum, but it is not evidence: with the default the
    # good model passes.
    assert gates["min_accuracy"].outcome == "pass"


def test_min_n_comes_from_the_summary_or_the_argument():
    gates = GatesSection(max_background_fixation_rate=0.5)
    assert evaluate_gates(GOOD.model_copy(update={"min_n": 1}), gates)[FIXATION].outcome == "fail"
    assert evaluate_gates(GOOD, gates, min_n=1)[FIXATION].outcome == "fail"
    # A summary that does not record min_n (written before it existed): the default, 10.
    assert evaluate_gates(GOOD.model_copy(update={"min_n": None}), gates)[FIXATION].outcome == (
        "not_enough_samples")


def test_gate_stage_with_too_few_samples():
    dataset = DatasetSection(path="d.csv")
    strict = GatesSection(max_background_fixation_rate=0.5, on_too_few="fail")
    verdict = gate(strict, dataset, GOOD)
    assert (verdict.passed, verdict.exit_code) == (False, ExitCode.GATE_FAILED)
    lenient = gate(GatesSection(max_background_fixation_rate=0.5), dataset, GOOD)
    assert (lenient.passed, lenient.exit_code) == (True, ExitCode.PASSED)


def test_max_offobject_strategy_share_judges_the_largest_flagged_cluster():
    from audit.summary import ClassStrategies, StrategiesFigures, StrategyCluster

    gates = GatesSection(max_offobject_strategy_share=0.2)
    absent = evaluate_gates(Summary(), gates)["max_offobject_strategy_share"]
    assert absent.outcome == "undefined" and absent.passed
    clusters = [StrategyCluster(cluster=0, n=70, share=0.7, n_correct=70),
                StrategyCluster(cluster=1, n=30, share=0.3, n_correct=30, offobject=True)]
    figures = StrategiesFigures(method="gradcam", map_size=32, max_offobject_share=0.3,
                                classes=[ClassStrategies(class_name="horse", view="predicted",
                                                         n=100, clustered=True, n_clusters=2,
                                                         clusters=clusters)])
    failed = evaluate_gates(Summary(), gates, strategies=figures)["max_offobject_strategy_share"]
    assert failed.outcome == "fail" and failed.value == 0.3
    assert "class 'horse', predicted view, strategy 1: 30 of 100 maps" in failed.reason
    clean = figures.model_copy(update={"max_offobject_share": None, "classes": []})
    passed = evaluate_gates(Summary(), gates, strategies=clean)["max_offobject_strategy_share"]
    assert passed.outcome == "pass" and passed.value == 0.0
