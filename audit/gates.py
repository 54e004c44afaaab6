"""Release gates: thresholds on the summary figures -> pass or fail, with a reason each.

A gate whose figure is undefined (no misclassified sample to fixate, no box to point at)
passes and says so: there is no evidence against the model on that count. A gate on a
per-method figure is evaluated for every method whose maps explain the decision and named
``<gate>[<method>]``; counter-evidence (the negative-evidence map) is not gated (see
:data:`audit.cams.methods.METHODS`).
"""

from __future__ import annotations

from audit.cams.methods import METHODS
from audit.config import GatesSection
from audit.summary import Gate, Summary

__all__ = ["evaluate_gates", "fixation_methods", "skipped_fraction_gate"]


def _fmt(value) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _gate(value, threshold, *, minimum: bool, what: str) -> Gate:
    if value is None:
        return Gate(value=None, threshold=threshold, passed=True,
                    reason=f"{what} is undefined on this dataset; nothing to hold against it")
    passed = value >= threshold if minimum else value <= threshold
    relation = ("at or above" if passed else "below") if minimum else (
        "at or below" if passed else "above")
    bound = "minimum" if minimum else "maximum"
    return Gate(value=value, threshold=threshold, passed=bool(passed),
                reason=f"{what} {_fmt(value)} is {relation} the {bound} {_fmt(threshold)}")


def fixation_methods(summary: Summary, gates: GatesSection) -> list[str]:
    """The methods the background-fixation gate applies to (``gates.fixation_methods``):
    every method that explains the decision, the trusted ones (faithful and sane on this run),
    or the ones named."""
    deciding = [m for m in sorted(summary.methods) if METHODS[m].fixation]
    if gates.fixation_methods == "all":
        return deciding
    if gates.fixation_methods == "trusted":
        return [m for m in deciding if summary.methods[m].trusted]
    return [m for m in deciding if m in gates.fixation_methods]


def evaluate_gates(summary: Summary, gates: GatesSection) -> dict[str, Gate]:
    """``{name: Gate}`` for every configured gate (``None`` thresholds are switched off).

    Per-method gates come method by method, in sorted method order. With
    ``fixation_methods: trusted`` and no method faithful and sane on this run, the fixation
    gate fails as ``max_background_fixation_rate[trusted]``: the question was asked and no
    explainer can answer it (the explainer-free ``max_background_reliance`` still can).
    """
    out: dict[str, Gate] = {}
    if gates.min_accuracy is not None:
        out["min_accuracy"] = _gate(summary.accuracy, gates.min_accuracy, minimum=True,
                                    what="accuracy")
    if gates.max_background_reliance is not None:
        reliance = summary.behaviour.background_reliance.value if summary.behaviour else None
        what = "background reliance (behavioural test, no explainer)"
        out["max_background_reliance"] = (
            _gate(reliance, gates.max_background_reliance, minimum=False, what=what)
            if summary.behaviour is not None else Gate(
                value=None, threshold=gates.max_background_reliance, passed=False,
                reason="the pipeline has no behaviour stage, so there is no background "
                       "reliance to judge; add the stage or switch the gate off"))
    fixated = fixation_methods(summary, gates)
    if (gates.max_background_fixation_rate is not None and gates.fixation_methods == "trusted"
            and not fixated):
        out["max_background_fixation_rate[trusted]"] = Gate(
            value=None, threshold=gates.max_background_fixation_rate, passed=False,
            reason="no method is both faithful and sane on this run, so no explainer's "
                   "fixation rate can be trusted")
    for method in sorted(summary.methods):
        if not METHODS[method].fixation:
            continue  # counter-evidence: where a map *should* avoid the object; not gated
        figures = summary.methods[method]
        if gates.max_background_fixation_rate is not None and method in fixated:
            out[f"max_background_fixation_rate[{method}]"] = _gate(
                figures.background_fixation_rate, gates.max_background_fixation_rate,
                minimum=False,
                what=f"{method} background-fixation rate among misclassified samples")
        if gates.min_pointing_accuracy is not None:
            out[f"min_pointing_accuracy[{method}]"] = _gate(
                figures.pointing_accuracy, gates.min_pointing_accuracy, minimum=True,
                what=f"{method} pointing accuracy")
        if gates.min_energy_in_box is not None:
            out[f"min_energy_in_box[{method}]"] = _gate(
                figures.energy_in_box.all.mean, gates.min_energy_in_box, minimum=True,
                what=f"{method} mean energy in box")
        if gates.max_degenerate_fraction is not None:
            n_maps = figures.n_maps or summary.n_samples
            fraction = figures.n_degenerate / n_maps if n_maps else None
            out[f"max_degenerate_fraction[{method}]"] = _gate(
                fraction, gates.max_degenerate_fraction, minimum=False,
                what=f"{method} share of degenerate maps")
    return out


def skipped_fraction_gate(summary: Summary, maximum: float) -> Gate | None:
    """A failing gate when more samples were skipped than ``maximum`` allows, else None.

    This gate is about the input, not the model: the figures describe only part of the
    dataset.
    """
    fraction = summary.skipped_fraction
    if fraction <= maximum:
        return None
    return Gate(value=fraction, threshold=maximum, passed=False,
                reason=f"{fraction:.1%} of the samples were skipped, above "
                       f"dataset.max_skipped_fraction {maximum:.1%}; the figures describe "
                       "only part of the dataset")

