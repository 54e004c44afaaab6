"""Release gates: thresholds on the summary figures -> pass or fail, with a reason each.

A gate has one of four outcomes (:data:`audit.summary.GateOutcome`):

- ``pass`` / ``fail``: the figure met its threshold or not;
- ``not_enough_samples``: the figure rests on fewer than ``metrics.min_n`` samples, too few to
  judge, so its value is not held against the threshold either way; the gate passes or fails
  as ``gates.on_too_few`` says (default ``pass``: the figures most often short of samples are
  those over misclassified samples, and they are short because the model makes few errors);
- ``undefined``: the figure is undefined on the dataset (no misclassified sample to fixate, no
  box to point at); the gate passes and says so: there is no evidence against the model.

A gate on a per-method figure is evaluated for every method whose maps explain the decision
and named ``<gate>[<method>]``; counter-evidence (the negative-evidence map) is not gated (see
:data:`audit.cams.methods.METHODS`).

With ``gates.per_slice``, every gate is evaluated again on every scored slice (the slice seen
as a summary of its own, :meth:`audit.summary.Summary.slice_view`) and named
``<gate>[<slice>]``: ``min_accuracy[site=A]``, ``max_background_fixation_rate[gradcam][site=A]``.
A slice too small to score (``metrics.min_slice_size``) is not gated.
``max_regression`` judges the run against its baseline run rather than a threshold of its own
figures: it fails when the largest flagged regression (:mod:`audit.analysis.drift`) is bigger
than its
threshold, and is ``no_baseline`` (not judged, passes; ``<skipped>`` in JUnit) for a run without
a baseline; a baseline named explicitly that cannot be read stops the run (exit 2).

A multi-label model's run (``summary.multilabel``) has gates per label
(``gates.per_label``: ``min_recall[<label>]``, ``min_precision[<label>]``,
``max_background_fixation_rate[<label>][<method>]``, the fixation rate over the label's false
positives and false negatives) and on the macro figures (``min_macro_recall``,
``min_macro_f1``, ``min_map``); see :func:`label_gates`.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from audit.cams.methods import METHODS
from audit.comparison import figure_title
from audit.config import GatesSection, LabelGates
from audit.errors import ConfigError
from audit.metrics.fdr import benjamini_hochberg, p_above
from audit.metrics.sample_size import DEFAULT_MIN_N, check_min_n
from audit.summary import Change, Gate, StrategiesFigures, Summary

if TYPE_CHECKING:
    from audit.analysis.drift import Drift

__all__ = ["control_slice_gates", "evaluate_gates", "fixation_methods", "label_gates",
           "regression_gate",
           "skipped_fraction_gate"]


def _fmt(value) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def _gate(value, n: int, threshold, *, minimum: bool, what: str, min_n: int,
          on_too_few: str, count: int | None = None, ci=None, with_p: bool = False) -> Gate:
    if value is None:
        return Gate(value=None, threshold=threshold, passed=True, outcome="undefined", n=n,
                    reason=f"{what} is undefined on this dataset; nothing to hold against it")
    if n < min_n:
        passed = on_too_few == "pass"
        return Gate(value=value, threshold=threshold, passed=passed,
                    outcome="not_enough_samples", n=n,
                    reason=f"not enough samples (n={n} < metrics.min_n {min_n}): {what} "
                           f"{_fmt(value)} is not judged; the gate "
                           f"{'passes' if passed else 'fails'} (gates.on_too_few: {on_too_few})")
    passed = value >= threshold if minimum else value <= threshold
    relation = ("at or above" if passed else "below") if minimum else (
        "at or below" if passed else "above")
    bound = "minimum" if minimum else "maximum"
    p = (p_above(value, threshold, n=n, count=count, interval=ci, higher=not minimum)
         if with_p else math.nan)
    return Gate(value=value, threshold=threshold, passed=bool(passed),
                outcome="pass" if passed else "fail", n=n,
                p_value=None if math.isnan(p) else p,
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


def _untrusted_reason(summary: Summary) -> str:
    """Why no method is trusted, counting the faithfulness outcomes: an undecided method is
    not a faithful one, but more samples might make it one."""
    reason = ("no method is both faithful and sane on this run, so no explainer's fixation "
              "rate can be trusted")
    run = summary.faithfulness
    if run is None or not run.n_undecided:
        return reason
    more = (f"; faithfulness.max_samples: {run.samples_to_decide} would likely decide "
            f"{'it' if run.n_undecided == 1 else 'them'}" if run.samples_to_decide else "")
    return (f"{reason} ({run.n_undecided} undecided on {run.n_used} samples, not shown "
            f"unfaithful{more})")


def _size(change: Change) -> str:
    if change.unit == "pct":
        return f"{100 * abs(change.difference):.1f} percentage points"
    return f"{abs(change.difference):.3f}"


def regression_gate(drift: Drift | None, threshold: float) -> Gate:
    """``max_regression``: the largest flagged regression against the baseline run, in its
    figure's units, against ``threshold``.

    Without the ``drift`` stage (``drift`` is None) there is nothing to judge and the gate
    fails, saying so; without a baseline run it is ``no_baseline`` and passes; with a baseline
    and no flagged regression its value is 0 and it passes.
    """
    if drift is None:
        return Gate(value=None, threshold=threshold, passed=False, outcome="fail",
                    reason="the pipeline has no drift stage, so there is no change against a "
                           "baseline run to judge; add the stage or switch the gate off")
    if drift.comparison is None:
        # Its own outcome (JUnit <skipped>): "passed" for want of a baseline is not a pass.
        why = drift.note or "no baseline run to compare with (the first run on this dataset)"
        return Gate(value=None, threshold=threshold, passed=True, outcome="no_baseline",
                    reason=f"{why.rstrip('.')}; nothing to hold against the maximum")
    baseline = drift.baseline_run_id
    if not drift.regressions:
        return Gate(value=0.0, threshold=threshold, passed=True, outcome="pass",
                    reason=f"no flagged regression against the baseline run {baseline} "
                           f"(significant and larger than report.min_change "
                           f"{drift.min_change:.3f})")
    worst = max(drift.regressions, key=lambda c: abs(c.difference))
    size = abs(worst.difference)
    passed = size <= threshold
    return Gate(value=size, threshold=threshold, passed=passed,
                outcome="pass" if passed else "fail", n=worst.n_after,
                reason=f"largest flagged regression against the baseline run {baseline}: "
                       f"{figure_title(worst.figure)} moved {_size(worst)} for the worse "
                       f"({_fmt(size)}), {'at or below' if passed else 'above'} the maximum "
                       f"{_fmt(threshold)}")


def strategy_gate(strategies: StrategiesFigures | None, threshold: float) -> Gate:
    """``max_offobject_strategy_share``: the largest share of its class held by a strategy
    flagged off-object (stage ``strategies``) must be at most ``threshold``. Without the
    stage's figures (not in the pipeline, or no class large enough to cluster) the gate has
    nothing to judge and passes as ``undefined``, saying why."""
    if strategies is None:
        return Gate(value=None, threshold=threshold, passed=True, outcome="undefined",
                    reason="no strategies were clustered (no strategies stage, or no class "
                           "with strategies.min_class_size maps); nothing to hold against "
                           "the maximum")
    value = strategies.max_offobject_share or 0.0
    passed = value <= threshold
    where = ""
    if strategies.max_offobject_share is not None:
        entry, cluster = max(((k, c) for k in strategies.classes for c in k.clusters
                              if c.offobject), key=lambda kc: kc[1].share)
        where = (f" (class {entry.class_name!r}, {entry.view} view, strategy "
                 f"{cluster.cluster}: {cluster.n} of {entry.n} maps)")
    return Gate(value=value, threshold=threshold, passed=passed,
                outcome="pass" if passed else "fail",
                reason=f"largest off-object strategy share {_fmt(value)}{where} is "
                       f"{'at or below' if passed else 'above'} the maximum {_fmt(threshold)}")


def evaluate_gates(summary: Summary, gates: GatesSection, *, min_n: int | None = None,
                   drift: Drift | None = None, fdr: float | None = None,
                   strategies: StrategiesFigures | None = None) -> dict[str, Gate]:
    """``{name: Gate}`` for every configured gate (``None`` thresholds are switched off).

    Per-method gates come method by method, in sorted method order. ``min_n`` defaults to
    the ``metrics.min_n`` the summary's figures were computed with (``summary.min_n``), or
    :data:`~audit.metrics.sample_size.DEFAULT_MIN_N` for a summary that does not record it;
    a figure over fewer samples is ``not_enough_samples`` and passes or fails as
    ``gates.on_too_few`` says. With ``fixation_methods: trusted`` and no method faithful and
    sane on this run, the fixation gate fails as ``max_background_fixation_rate[trusted]``:
    the question was asked and no explainer can answer it (the explainer-free
    ``max_background_reliance`` still can). ``drift`` is the run against its baseline run
    (the ``drift`` stage), for ``max_regression`` (:func:`regression_gate`).

    ``fdr`` (``report.fdr``) controls the false-discovery rate across the per-slice gates
    (:func:`control_slice_gates`): many slices, each gated at its own threshold, would
    otherwise fail a run by chance. The whole run's gates are each one figure and are not
    adjusted.
    """
    if min_n is None:
        min_n = summary.min_n if summary.min_n is not None else DEFAULT_MIN_N
    min_n = check_min_n(min_n)
    out = _run_gates(summary, gates, min_n=min_n)
    out.update(label_gates(summary, gates, min_n=min_n))
    if gates.max_regression is not None:  # the run against its baseline: not per slice
        out["max_regression"] = regression_gate(drift, gates.max_regression)
    if gates.max_offobject_strategy_share is not None:  # per class already: not per slice
        out["max_offobject_strategy_share"] = strategy_gate(
            strategies, gates.max_offobject_strategy_share)
    if gates.per_slice:
        per_slice: dict[str, Gate] = {}
        for key, figures in summary.slices.items():
            if not figures.scored:
                continue
            for name, result in _run_gates(summary.slice_view(key), gates, min_n=min_n,
                                           with_p=fdr is not None).items():
                per_slice[f"{name}[{key}]"] = result.model_copy(
                    update={"reason": f"slice {key}: {result.reason}"})
        if fdr is not None:
            per_slice = control_slice_gates(per_slice, fdr=fdr)
        out.update(per_slice)
    return out


def control_slice_gates(results: dict[str, Gate], *, fdr: float) -> dict[str, Gate]:
    """The per-slice gates with the false-discovery rate controlled at ``fdr``.

    Each judged gate has the one-sided p-value that its slice's figure truly lies beyond the
    threshold (an exact binomial tail for a share, the normal approximation of its interval
    for a mean; :func:`audit.metrics.fdr.p_above`). Benjamini-Hochberg runs across all of
    them; a gate whose figure is beyond its threshold but whose adjusted p-value exceeds
    ``fdr`` passes, and its reason says so: that slice's miss is within what chance gives
    among this many slices. Gates without a p-value (undefined, too few samples) are left
    as they are.
    """
    names = [n for n, g in results.items() if g.p_value is not None
             and g.outcome in ("pass", "fail")]
    if not names:
        return results
    rejected, adjusted = benjamini_hochberg([results[n].p_value for n in names], q=fdr)
    out = dict(results)
    for name, keep, p_adj in zip(names, rejected, adjusted, strict=True):
        gate = results[name]
        update: dict = {"p_adjusted": float(p_adj)}
        if gate.outcome == "fail" and not keep:
            update.update(
                passed=True, outcome="pass",
                reason=f"{gate.reason}, but not significantly once the false-discovery rate "
                       f"across the {len(names)} per-slice gates is controlled "
                       f"(Benjamini-Hochberg, report.fdr {fdr:g}: adjusted p "
                       f"{float(p_adj):.3g}); the gate passes")
        out[name] = gate.model_copy(update=update)
    return out


def label_gates(summary: Summary, gates: GatesSection, *, min_n: int) -> dict[str, Gate]:
    """The gates of a multi-label model's labels and macro figures (none configured: ``{}``).

    Labels are gated in class order; ``per_label["*"]`` gives every label the gates its own
    entry leaves unset.
    On a single-label run every configured label gate fails, saying why.

    Raises
    ------
    ConfigError
        ``gates.per_label`` names a label the model does not have.
    """
    macro_gates = {"min_macro_recall": ("recall", "macro recall"),
                   "min_macro_f1": ("f1", "macro F1"),
                   "min_map": ("mean_average_precision", "mean average precision")}
    asked = bool(gates.per_label) or any(getattr(gates, g) is not None for g in macro_gates)
    if not asked:
        return {}
    figures = summary.multilabel
    if figures is None:
        return {"per_label": Gate(value=None, threshold=None, passed=False, outcome="fail",
                                  reason="gates.per_label and the macro label gates judge a "
                                         "multi-label model; this run's model is single-label")}
    unknown = [name for name in gates.per_label if name != "*" and name not in figures.labels]
    if unknown:
        raise ConfigError(f"gates.per_label must name labels of the model "
                          f"({', '.join(figures.labels)[:200]}) or '*'; got "
                          f"{', '.join(map(repr, unknown))[:200]}")
    options = dict(min_n=min_n, on_too_few=gates.on_too_few)
    out: dict[str, Gate] = {}
    for gate, (key, what) in macro_gates.items():
        threshold = getattr(gates, gate)
        if threshold is not None:
            out[gate] = _gate(getattr(figures.macro, key), summary.n_samples, threshold,
                              minimum=True, what=what, **options)
    fixated = fixation_methods(summary, gates)
    default = gates.per_label.get("*", LabelGates())
    for name, label in figures.labels.items():
        named = gates.per_label.get(name, LabelGates())
        wanted = LabelGates(**{key: value if value is not None else getattr(default, key)
                               for key, value in named})
        for gate, stat, what in (("min_recall", label.recall, "recall"),
                                 ("min_precision", label.precision, "precision")):
            threshold = getattr(wanted, gate)
            if threshold is not None:
                out[f"{gate}[{name}]"] = _gate(stat.mean, stat.n, threshold, minimum=True,
                                               what=f"label {name!r} {what}", **options)
        if wanted.max_background_fixation_rate is None:
            continue
        for method in fixated:
            errors = label.fixation[method].errors if method in label.fixation else None
            out[f"max_background_fixation_rate[{name}][{method}]"] = _gate(
                None if errors is None else errors.mean, 0 if errors is None else errors.n,
                wanted.max_background_fixation_rate, minimum=False,
                what=f"{method} background-fixation rate among label {name!r}'s false "
                     "positives and false negatives", **options)
    return out


def _run_gates(summary: Summary, gates: GatesSection, *, min_n: int,
               with_p: bool = False) -> dict[str, Gate]:
    """The configured gates on one summary (the whole run's, or a slice's; ``with_p``: each
    judged gate with its one-sided p-value, for the per-slice control of the FDR)."""
    options = dict(min_n=min_n, on_too_few=gates.on_too_few, with_p=with_p)
    out: dict[str, Gate] = {}
    if gates.min_accuracy is not None:
        n = summary.correct.n or summary.n_samples
        out["min_accuracy"] = _gate(summary.accuracy, n, gates.min_accuracy, minimum=True,
                                    what="accuracy", count=summary.correct.count or None,
                                    **options)
    if gates.max_background_reliance is not None:
        what = "background reliance (behavioural test, no explainer)"
        if summary.behaviour is None:
            out["max_background_reliance"] = Gate(
                value=None, threshold=gates.max_background_reliance, passed=False,
                outcome="fail",
                reason="the pipeline has no behaviour stage, so there is no background "
                       "reliance to judge; add the stage or switch the gate off")
        else:
            reliance = summary.behaviour.background_reliance
            out["max_background_reliance"] = _gate(
                reliance.value, reliance.n, gates.max_background_reliance, minimum=False,
                what=what, ci=_interval(reliance), **options)
    out.update(_swap_gates(summary, gates, options))
    fixated = fixation_methods(summary, gates)
    if (gates.max_background_fixation_rate is not None and gates.fixation_methods == "trusted"
            and not fixated):
        out["max_background_fixation_rate[trusted]"] = Gate(
            value=None, threshold=gates.max_background_fixation_rate, passed=False,
            outcome="fail",
            reason=_untrusted_reason(summary))
    for method in sorted(summary.methods):
        if not METHODS[method].fixation:
            continue  # counter-evidence: where a map *should* avoid the object; not gated
        figures = summary.methods[method]
        if gates.max_background_fixation_rate is not None and method in fixated:
            out[f"max_background_fixation_rate[{method}]"] = _gate(
                figures.background_fixation_rate, figures.background_fixation.n,
                gates.max_background_fixation_rate, minimum=False,
                what=f"{method} background-fixation rate among misclassified samples",
                count=figures.background_fixation.count, **options)
        if gates.min_pointing_accuracy is not None:
            out[f"min_pointing_accuracy[{method}]"] = _gate(
                figures.pointing_accuracy, figures.pointing_hit.all.n,
                gates.min_pointing_accuracy, minimum=True, what=f"{method} pointing accuracy",
                count=figures.pointing_hit.all.count, **options)
        if gates.min_energy_in_box is not None:
            out[f"min_energy_in_box[{method}]"] = _gate(
                figures.energy_in_box.all.mean, figures.energy_in_box.all.n,
                gates.min_energy_in_box, minimum=True, what=f"{method} mean energy in box",
                ci=figures.energy_in_box.all.ci, **options)
        if gates.max_degenerate_fraction is not None:
            n_maps = figures.n_maps or summary.n_samples
            fraction = figures.n_degenerate / n_maps if n_maps else None
            out[f"max_degenerate_fraction[{method}]"] = _gate(
                fraction, n_maps, gates.max_degenerate_fraction, minimum=False,
                what=f"{method} share of degenerate maps", count=figures.n_degenerate,
                **options)
    return out


def _interval(estimate) -> tuple[float, float] | None:
    """An :class:`~audit.summary.Estimate`'s interval, None without one."""
    if estimate.ci_low is None or estimate.ci_high is None:
        return None
    return estimate.ci_low, estimate.ci_high


def _swap_gates(summary: Summary, gates: GatesSection, options: dict) -> dict[str, Gate]:
    """``max_bg_gap`` and ``max_background_follow_rate``: the background swap's figures
    (explainer-free). Without the swap's figures (no ``behaviour`` or ``background_swap``
    stage) a configured gate fails and says what to add."""
    out: dict[str, Gate] = {}
    swap = summary.behaviour.swap if summary.behaviour is not None else None
    for name, threshold, figure, what in (
            ("max_bg_gap", gates.max_bg_gap, "bg_gap",
             "BG-Gap (accuracy Mixed-Same - Mixed-Rand, background swap, no explainer)"),
            ("max_background_follow_rate", gates.max_background_follow_rate,
             "background_follow_rate",
             "share of Mixed-Rand decisions that follow the background's class")):
        if threshold is None:
            continue
        if swap is None:
            out[name] = Gate(value=None, threshold=threshold, passed=False, outcome="fail",
                             reason="the pipeline has no background swap (stages "
                                    "background_swap and behaviour), so there is no "
                                    f"{figure} to judge; add the stages or switch the gate off")
            continue
        estimate = getattr(swap, figure)
        out[name] = _gate(estimate.value, estimate.n, threshold, minimum=False, what=what,
                          count=estimate.count, ci=_interval(estimate), **options)
    return out


def skipped_fraction_gate(summary: Summary, maximum: float) -> Gate | None:
    """A failing gate when more samples were skipped than ``maximum`` allows, else None.

    This gate is about the input, not the model: the figures describe only part of the
    dataset.
    """
    fraction = summary.skipped_fraction
    if fraction <= maximum:
        return None
    return Gate(value=fraction, threshold=maximum, passed=False, outcome="fail",
                reason=f"{fraction:.1%} of the samples were skipped, above "
                       f"dataset.max_skipped_fraction {maximum:.1%}; the figures describe "
                       "only part of the dataset")

