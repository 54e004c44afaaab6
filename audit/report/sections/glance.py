"""At a glance: the headline cards and one row of key figures per method."""

from __future__ import annotations

from audit.report.format import fmt_ci, fmt_count, fmt_pct
from audit.report.methods import is_counter_evidence, method_title
from audit.summary import MethodFigures, RunSummary, Stat

__all__ = ["beats_centre", "glance_view"]


def beats_centre(figures: MethodFigures, centre: Stat) -> str | None:
    """Where a method's pointing accuracy stands against the centre-point baseline:
    ``"above"`` when its interval lies wholly above the baseline's, ``"below"`` when it is
    lower, ``"level"`` otherwise; None when either is undefined. Without an interval the mean
    stands in for its ends."""
    pointing, ci = figures.pointing_accuracy, figures.pointing_hit.all.ci
    if pointing is None or centre.mean is None:
        return None
    low = ci[0] if ci else pointing
    high = centre.ci[1] if centre.ci else centre.mean
    if low > high:
        return "above"
    return "below" if pointing < centre.mean else "level"


def _row(method: str, figures: MethodFigures, centre: Stat,
         fixation_limit: float | None) -> dict:
    fixation = figures.background_fixation
    rate = figures.background_fixation_rate
    return {
        "method": method,
        "title": method_title(method),
        "counter_evidence": is_counter_evidence(method),
        "fixation_rate": fmt_pct(rate),
        "fixation_count": f"{fmt_count(fixation.count)} of {fmt_count(fixation.n)}",
        # Red only against the configured gate, never against a made-up threshold.
        "fixation_high": fixation_limit is not None and rate is not None
        and rate > fixation_limit,
        "energy_correct": fmt_pct(figures.energy_in_box.correct.mean),
        "energy_misclassified": fmt_pct(figures.energy_in_box.misclassified.mean),
        "pointing": fmt_pct(figures.pointing_accuracy),
        "beats_centre": beats_centre(figures, centre),
        "localization": fmt_pct(figures.localization_accuracy),
        "degenerate": f"{fmt_count(figures.n_degenerate)} of {fmt_count(figures.n_maps)}",
        "degenerate_any": figures.n_degenerate > 0,
        "faithful": figures.faithfulness.faithful if figures.faithfulness else None,
        "sane": figures.sanity.passed if figures.sanity else None,
    }


def glance_view(summary: RunSummary, methods: list[str], *,
                fixation_limit: float | None) -> dict:
    """The headline cards and a row per method in ``methods``; ``fixation_limit`` is the
    configured ``gates.max_background_fixation_rate`` (None when that gate is off)."""
    return {
        "accuracy": fmt_pct(summary.accuracy),
        "accuracy_ci": fmt_ci(summary.accuracy_ci, "pct"),
        "n_samples": fmt_count(summary.n_samples),
        "n_misclassified": fmt_count(summary.n_misclassified),
        "n_skipped": fmt_count(summary.n_skipped),
        "n_classes": fmt_count(len(summary.class_names)),
        "centre": fmt_pct(summary.centre_baseline.mean),
        "rows": [_row(m, summary.methods[m], summary.centre_baseline, fixation_limit)
                 for m in methods],
        # The faithful / sane columns, when the faithfulness or sanity stage ran.
        "checks": any(summary.methods[m].faithfulness or summary.methods[m].sanity
                      for m in methods),
    }
