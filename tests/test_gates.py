"""Gates: thresholds -> pass/fail with a reason; undefined figures pass and say so."""

from audit.config import GatesSection
from audit.gates import evaluate_gates

SUMMARY = {
    "n_samples": 100,
    "accuracy": 0.7,
    "methods": {
        "gradcam": {"background_fixation_rate": 0.6, "pointing_accuracy": 0.5, "n_maps": 100,
                    "n_degenerate": 10, "energy_in_box": {"all": {"mean": 0.3}}},
        "scorecam": {"background_fixation_rate": None, "pointing_accuracy": 0.9, "n_maps": 100,
                     "n_degenerate": 0, "energy_in_box": {"all": {"mean": 0.5}}},
        "negative": {"background_fixation_rate": 0.9, "n_maps": 100, "n_degenerate": 90},
    },
}


def test_no_gates_configured():
    assert evaluate_gates(SUMMARY, GatesSection()) == {}


def test_each_gate_value_threshold_reason():
    gates = evaluate_gates(SUMMARY, GatesSection(
        min_accuracy=0.8, max_background_fixation_rate=0.5, min_pointing_accuracy=0.6,
        min_energy_in_box=0.4, max_degenerate_fraction=0.05))
    assert gates["min_accuracy"] == {
        "value": 0.7, "threshold": 0.8, "passed": False,
        "reason": "accuracy 0.700 is below the minimum 0.800"}
    assert gates["max_background_fixation_rate[gradcam]"]["passed"] is False
    assert "above the maximum 0.500" in gates["max_background_fixation_rate[gradcam]"]["reason"]
    undefined = gates["max_background_fixation_rate[scorecam]"]
    assert undefined["passed"] is True and undefined["value"] is None
    assert "undefined" in undefined["reason"]
    assert gates["min_pointing_accuracy[scorecam]"]["passed"] is True
    assert gates["min_energy_in_box[gradcam]"]["passed"] is False
    assert gates["max_degenerate_fraction[gradcam]"]["value"] == 0.1
    assert not any("[negative]" in name for name in gates)


def test_boundaries_are_inclusive():
    gates = evaluate_gates(SUMMARY, GatesSection(min_accuracy=0.7,
                                                 max_background_fixation_rate=0.6))
    assert gates["min_accuracy"]["passed"] and gates["max_background_fixation_rate[gradcam]"][
        "passed"]
