"""Can these maps be trusted? The explainer-free behavioural test, the faithfulness of each
method against model-free maps, the sanity check, and which method agrees with behaviour."""

from __future__ import annotations

from audit.report import plots
from audit.report.format import (
    OUTCOME_BADGE,
    fmt_ci,
    fmt_count,
    fmt_delta,
    fmt_num,
    fmt_p,
    fmt_pct,
)
from audit.report.images import data_uri
from audit.report.methods import is_counter_evidence, method_title
from audit.summary import (
    BehaviourSplit,
    Estimate,
    FaithfulnessFigures,
    PairedFigure,
    RunSummary,
    Stat,
    SwapSplit,
)

__all__ = ["disagreement", "trust_view"]

#: Above this share of kept decisions on both edits, the test changed nothing.
_UNMOVED = 0.95


def _estimate(estimate: Estimate, kind: str = "pct") -> dict:
    ci = (estimate.ci_low, estimate.ci_high) if estimate.ci_low is not None else None
    value = fmt_pct(estimate.value) if kind == "pct" else fmt_num(estimate.value, 2)
    return {"value": value, "ci": fmt_ci(ci, kind), "n": fmt_count(estimate.n)}


def _split_row(name: str, split: BehaviourSplit) -> dict:
    return {"name": name, "n": fmt_count(split.n),
            "object": _estimate(split.keeps_without_object),
            "background": _estimate(split.keeps_without_background),
            "reliance": _estimate(split.background_reliance, "num")}


#: Why the fill is what it is, said next to the behavioural test's figures.
FILL_NOTES = {
    "gray": "gray (128) owes nothing to the image, so a background's colour cannot survive "
            "its removal",
    "black": "black owes nothing to the image, so a background's colour cannot survive its "
             "removal",
    "mean": "the image's mean colour is a poor choice: where the background fills most of "
            "the image it is the background's own colour, so a model cued by that colour "
            "keeps its decision 'without' the background (reliance reads 0 for such a model)",
    "blur": "a blur keeps the colour of whatever covers most of the image: a background's "
            "colour can survive its removal",
}


def _swap_row(name: str, swap: SwapSplit | None) -> dict | None:
    if swap is None:
        return None
    return {"name": name, "n": fmt_count(swap.n),
            "original": _estimate(swap.accuracy_original),
            "same": _estimate(swap.accuracy_mixed_same),
            "rand": _estimate(swap.accuracy_mixed_rand),
            "gap": _gap(swap.bg_gap),
            "follow": _estimate(swap.background_follow_rate)}


def _gap(estimate: Estimate) -> dict:
    ci = (estimate.ci_low, estimate.ci_high) if estimate.ci_low is not None else None
    return {"value": fmt_delta(estimate.value, "pct"), "ci": fmt_ci(ci, "pct"),
            "n": fmt_count(estimate.n)}


def _swap(figures) -> dict | None:
    """The background swap's table (None without the ``background_swap`` stage)."""
    if figures.swap is None:
        return None
    rows = [_swap_row("all samples", figures.swap),
            _swap_row("correct", figures.correct.swap),
            _swap_row("misclassified", figures.misclassified.swap)]
    rows += [_swap_row(f"true class {name}", split.swap)
             for name, split in figures.per_class.items()]
    return {"rows": [r for r in rows if r is not None],
            "gap": _gap(figures.swap.bg_gap),
            "follow": _estimate(figures.swap.background_follow_rate),
            "by_swap": figures.decision_evidence.get("swap", 0),
            "by_fill": figures.decision_evidence.get("fill", 0)}


def _behaviour(summary: RunSummary) -> dict | None:
    figures = summary.behaviour
    if figures is None:
        return None
    rows = [_split_row("all samples", figures), _split_row("correct", figures.correct),
            _split_row("misclassified", figures.misclassified)]
    rows += [_split_row(f"true class {name}", split)
             for name, split in figures.per_class.items()]
    unmoved = all(e.value is not None and e.value >= _UNMOVED
                  for e in (figures.keeps_without_object, figures.keeps_without_background))
    reliance = figures.background_reliance.value
    return {
        "fill": figures.fill,
        "fill_note": FILL_NOTES.get(figures.fill or "", ""),
        "swap": _swap(figures),
        "rows": rows,
        "reliance": fmt_num(reliance, 2),
        "leans": None if reliance is None else (
            "background" if figures.background_reliance.ci_low is not None
            and figures.background_reliance.ci_low > 0 else
            "object" if figures.background_reliance.ci_high is not None
            and figures.background_reliance.ci_high < 0 else "neither"),
        "object_only": _estimate(figures.accuracy_object_only),
        "background_only": _estimate(figures.accuracy_background_only),
        "decision_rate": _estimate(figures.background_decision_rate),
        "unmoved": unmoved,
    }


def _stat(stat: Stat) -> dict:
    return {"mean": fmt_num(stat.mean, 3), "ci": fmt_ci(stat.ci, "num"), "n": fmt_count(stat.n)}


def _paired(figure: PairedFigure | None) -> dict | None:
    if figure is None or figure.mean is None:
        return None
    return {"mean": fmt_delta(figure.mean), "ci": fmt_ci(figure.ci, "num"),
            "p": fmt_p(figure.p_value)}


def _faithfulness_row(title: str, figures: FaithfulnessFigures, *, baseline: bool) -> dict:
    paired = figures.paired
    return {"title": title, "baseline": baseline, "n": fmt_count(figures.n),
            "deletion": _stat(figures.deletion_auc), "insertion": _stat(figures.insertion_auc),
            "drop": _stat(figures.average_drop),
            "increase": _stat(figures.increase_in_confidence),
            # Against the random map, image by image (positive = better than random).
            "vs_random": None if paired is None else {
                "deletion": _paired(paired.deletion_auc),
                "insertion": _paired(paired.insertion_auc),
                "drop": _paired(paired.average_drop),
                "increase": _paired(paired.increase_in_confidence)},
            "outcome": figures.outcome, "badge": OUTCOME_BADGE.get(figures.outcome),
            "p_adjusted": fmt_p(figures.p_adjusted) if figures.p_adjusted is not None else "",
            "decided_at": fmt_count(figures.decided_at) if figures.decided_at else "",
            "samples_to_decide": (fmt_count(figures.samples_to_decide)
                                  if figures.samples_to_decide else "")}


def _faithfulness(summary: RunSummary, methods: list[str]) -> list[dict]:
    rows = [_faithfulness_row(method_title(m), summary.methods[m].faithfulness, baseline=False)
            for m in methods if summary.methods[m].faithfulness is not None]
    titles = {"random": "random map (baseline)", "centre": "centred Gaussian (baseline)"}
    rows += [_faithfulness_row(titles.get(name, name), figures, baseline=True)
             for name, figures in summary.baselines.items()]
    return rows


def _faithfulness_run(summary: RunSummary) -> dict | None:
    run = summary.faithfulness
    if run is None:
        return None
    if run.stopped_early:
        used = (f"{fmt_count(run.n_used)} of {fmt_count(run.n_available)} samples: every "
                "method was decided at that look, so the stage stopped")
    else:
        used = f"{fmt_count(run.n_used)} samples (all it could take)"
    return {"used": used, "alpha": fmt_num(run.alpha, 2), "margin": fmt_num(run.margin, 3),
            "random_maps": fmt_count(run.random_maps),
            "looks": ", ".join(fmt_count(n) for n in run.looks),
            "sequential": bool(run.sequential and len(run.looks) > 1)}


def _sanity(summary: RunSummary, methods: list[str], threshold: float) -> dict | None:
    curves = {method_title(m): summary.methods[m].sanity for m in methods
              if summary.methods[m].sanity is not None}
    if not curves:
        return None
    rows = [{"title": title, "spearman": fmt_num(s.spearman[-1] if s.spearman else None, 2),
             "ssim": fmt_num(s.ssim[-1] if s.ssim else None, 2), "passed": s.passed,
             "n": fmt_count(s.n)} for title, s in curves.items()]
    plot = plots.sanity_curves_png({t: (s.layers, s.spearman) for t, s in curves.items()},
                                   threshold=threshold)
    return {"rows": rows, "plot": data_uri(plot), "threshold": fmt_num(threshold, 2)}


def disagreement(summary: RunSummary, methods: list[str]) -> dict | None:
    """When the methods that explain the decision disagree on background fixation (two of
    them have fixation-rate intervals that do not overlap), which of them agrees best with
    the behavioural test (highest Cohen's kappa). None when they agree or only one ran."""
    deciding = [m for m in methods if not is_counter_evidence(m)
                and summary.methods[m].background_fixation.ci is not None]
    if len(deciding) < 2:
        return None
    cis = {m: summary.methods[m].background_fixation.ci for m in deciding}
    apart = any(cis[a][1] < cis[b][0] or cis[b][1] < cis[a][0]
                for i, a in enumerate(deciding) for b in deciding[i + 1:])
    if not apart:
        return None
    rates = ", ".join(f"{method_title(m)} {fmt_pct(summary.methods[m].background_fixation_rate)}"
                      for m in deciding)
    kappas = {m: summary.methods[m].behaviour_agreement.kappa for m in deciding
              if summary.methods[m].behaviour_agreement is not None
              and summary.methods[m].behaviour_agreement.kappa is not None}
    best = max(kappas, key=lambda m: (kappas[m], -deciding.index(m))) if kappas else None
    return {"rates": rates, "best": method_title(best) if best else None,
            "kappa": fmt_num(kappas[best], 2) if best else None}


_SUBSTRATES = {"blur": "a blurred copy of the image", "mean": "the image's mean colour",
               "zero": "zeros in the model's input space"}


def trust_view(summary: RunSummary, methods: list[str], *, max_similarity: float,
               substrate: str) -> dict:
    """Everything the section shows; each part is None (or empty) when its stage did not run.

    ``max_similarity`` is ``sanity.max_similarity`` (the pass line of the sanity plot) and
    ``substrate`` ``faithfulness.substrate``.
    """
    agreement = [{"title": method_title(m), "n": fmt_count(f.behaviour_agreement.n),
                  "agreement": fmt_pct(f.behaviour_agreement.agreement, 0),
                  "kappa": fmt_num(f.behaviour_agreement.kappa, 2)}
                 for m in methods if (f := summary.methods[m]).behaviour_agreement is not None]
    behaviour = _behaviour(summary)
    faithfulness = _faithfulness(summary, methods)
    faithfulness_run = _faithfulness_run(summary) if faithfulness else None
    sanity = _sanity(summary, methods, max_similarity)
    return {
        "ran": bool(behaviour or faithfulness or sanity),
        "substrate": _SUBSTRATES.get(substrate, substrate),
        "behaviour": behaviour,
        "faithfulness": faithfulness,
        "faithfulness_run": faithfulness_run,
        "sanity": sanity,
        "agreement": agreement,
        "disagreement": disagreement(summary, methods),
    }
