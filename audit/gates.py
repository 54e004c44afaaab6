"""Release gates: thresholds on the summary figures -> pass or fail, with a reason each.

A gate whose figure is undefined (no misclassified sample to fixate, no box to point at)
passes and says so: there is no evidence against the model on that count. A gate on a
per-method figure is evaluated for every explanation method and named ``<gate>[<method>]``;
the negative-evidence map is counter-evidence and is not gated.
"""

from __future__ import annotations


def _fmt(value) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _gate(value, threshold, *, minimum: bool, what: str) -> dict:
    if value is None:
        return {"value": None, "threshold": threshold, "passed": True,
                "reason": f"{what} is undefined on this dataset; nothing to hold against it"}
    passed = value >= threshold if minimum else value <= threshold
    relation = ("at or above" if passed else "below") if minimum else (
        "at or below" if passed else "above")
    bound = "minimum" if minimum else "maximum"
    return {"value": value, "threshold": threshold, "passed": bool(passed),
            "reason": f"{what} {_fmt(value)} is {relation} the {bound} {_fmt(threshold)}"}


def evaluate_gates(summary: dict, gates) -> dict:
    """``{name: {value, threshold, passed, reason}}`` for every configured gate.

    Parameters
    ----------
    summary : dict
        The aggregate (see docs/results-schema.md).
    gates : GatesSection
        Thresholds; ``None`` switches a gate off.
    """
    out: dict[str, dict] = {}
    if gates.min_accuracy is not None:
        out["min_accuracy"] = _gate(summary.get("accuracy"), gates.min_accuracy,
                                    minimum=True, what="accuracy")
    n_samples = summary.get("n_samples") or 0
    for method, figures in sorted(summary.get("methods", {}).items()):
        if method == "negative":
            continue  # counter-evidence: where a map *should* avoid the object; not gated
        if gates.max_background_fixation_rate is not None:
            out[f"max_background_fixation_rate[{method}]"] = _gate(
                figures.get("background_fixation_rate"), gates.max_background_fixation_rate,
                minimum=False,
                what=f"{method} background-fixation rate among misclassified samples")
        if gates.min_pointing_accuracy is not None:
            out[f"min_pointing_accuracy[{method}]"] = _gate(
                figures.get("pointing_accuracy"), gates.min_pointing_accuracy, minimum=True,
                what=f"{method} pointing accuracy")
        if gates.min_energy_in_box is not None:
            mean = ((figures.get("energy_in_box") or {}).get("all") or {}).get("mean")
            out[f"min_energy_in_box[{method}]"] = _gate(
                mean, gates.min_energy_in_box, minimum=True, what=f"{method} mean energy in box")
        if gates.max_degenerate_fraction is not None:
            n_maps = figures.get("n_maps") or n_samples
            fraction = (figures.get("n_degenerate", 0) / n_maps) if n_maps else None
            out[f"max_degenerate_fraction[{method}]"] = _gate(
                fraction, gates.max_degenerate_fraction, minimum=False,
                what=f"{method} share of degenerate maps")
    return out
