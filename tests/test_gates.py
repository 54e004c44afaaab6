"""Gates: thresholds -> pass/fail with a reason; undefined figures pass and say so; the gate
stage adds the input's own gate and the exit code."""

from audit.config import DatasetSection, GatesSection
from audit.errors import ExitCode
from audit.gates import evaluate_gates
from audit.stages.gate import gate
from audit.summary import Gate, Summary

SUMMARY = Summary.model_validate({
    "n_samples": 100,
    "accuracy": 0.7,
    "methods": {
        "gradcam": {"background_fixation_rate": 0.6, "pointing_accuracy": 0.5, "n_maps": 100,
                    "n_degenerate": 10, "energy_in_box": {"all": {"mean": 0.3}}},
        "scorecam": {"background_fixation_rate": None, "pointing_accuracy": 0.9, "n_maps": 100,
                     "n_degenerate": 0, "energy_in_box": {"all": {"mean": 0.5}}},
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
    assert gates["min_accuracy"] == Gate(value=0.7, threshold=0.8, passed=False,
                                         reason="accuracy 0.700 is below the minimum 0.800")
    assert gates["max_background_fixation_rate[gradcam]"] == Gate(
        value=0.6, threshold=0.5, passed=False,
        reason="gradcam background-fixation rate among misclassified samples 0.600 is above "
               "the maximum 0.500")
    assert gates["max_background_fixation_rate[scorecam]"] == Gate(
        value=None, threshold=0.5, passed=True,
        reason="scorecam background-fixation rate among misclassified samples is undefined on "
               "this dataset; nothing to hold against it")
    assert gates["min_pointing_accuracy[scorecam]"].passed is True
    assert gates["min_energy_in_box[gradcam]"] == Gate(
        value=0.3, threshold=0.4, passed=False,
        reason="gradcam mean energy in box 0.300 is below the minimum 0.400")
    assert gates["max_degenerate_fraction[gradcam]"] == Gate(
        value=0.1, threshold=0.05, passed=False,
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
        value=10 / 110, threshold=0.05, passed=False,
        reason="9.1% of the samples were skipped, above dataset.max_skipped_fraction 5.0%; "
               "the figures describe only part of the dataset")
    assert (verdict.passed, verdict.exit_code) == (False, ExitCode.BAD_INPUT)
    at_limit = SUMMARY.model_copy(update={"skipped_fraction": 0.05})
    assert "max_skipped_fraction" not in gate(GatesSection(), dataset, at_limit).gates
