"""At a glance: the headline cards and one row of key figures per method."""

from __future__ import annotations

from audit.metrics.sample_size import TOO_FEW_TEXT
from audit.report.format import OUTCOME_BADGE, fmt_ci, fmt_count, fmt_pct
from audit.report.methods import is_counter_evidence, method_title
from audit.summary import MethodFigures, RunSummary, Stat

__all__ = ["beats_centre", "checks_text", "glance_view"]


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


def checks_text(figures: MethodFigures) -> str:
    """A method's checks in the report badges' words: its faithfulness outcome, then ``sane``
    or ``not sane``; ``""`` when neither stage ran for it.

    >>> from audit.summary import FaithfulnessFigures, MethodFigures, SanityFigures
    >>> checks_text(MethodFigures(faithfulness=FaithfulnessFigures(outcome="undecided"),
    ...                           sanity=SanityFigures(passed=True)))
    'undecided, sane'
    >>> checks_text(MethodFigures())
    ''
    """
    words = []
    if figures.faithfulness is not None and figures.faithfulness.outcome:
        words.append(figures.faithfulness.outcome)
    if figures.sanity is not None and figures.sanity.passed is not None:
        words.append("sane" if figures.sanity.passed else "not sane")
    return ", ".join(words)


def _row(method: str, figures: MethodFigures, centre: Stat,
         fixation_limit: float | None) -> dict:
    fixation = figures.background_fixation
    per_sample = figures.background_fixation_per_sample
    rate = figures.background_fixation_rate
    return {
        "method": method,
        "title": method_title(method),
        "counter_evidence": is_counter_evidence(method),
        "fixation_rate": fmt_pct(rate),
        "fixation_count": f"{fmt_count(fixation.count)} of {fmt_count(fixation.n)}",
        "fixation_too_few": rate is not None and fixation.too_few,
        # Red only against the configured gate, never against a made-up threshold, and never
        # on a rate too small to judge.
        "fixation_high": fixation_limit is not None and rate is not None
        and not fixation.too_few and rate > fixation_limit,
        "per_sample": fmt_pct(per_sample.mean),
        "per_sample_count": (f"{fmt_count(per_sample.count)} of {fmt_count(per_sample.n)}"
                             if per_sample.mean is not None else ""),
        "energy_correct": fmt_pct(figures.energy_in_box.correct.mean),
        "energy_misclassified": fmt_pct(figures.energy_in_box.misclassified.mean),
        "pointing": fmt_pct(figures.pointing_accuracy),
        "beats_centre": beats_centre(figures, centre),
        "localization": fmt_pct(figures.localization_accuracy),
        "degenerate": f"{fmt_count(figures.n_degenerate)} of {fmt_count(figures.n_maps)}",
        "degenerate_any": figures.n_degenerate > 0,
        # The faithfulness outcome: "faithful", "not faithful", "undecided" (None: not run).
        "faithful": figures.faithfulness.outcome if figures.faithfulness else None,
        "faithful_badge": OUTCOME_BADGE.get(
            figures.faithfulness.outcome if figures.faithfulness else None),
        "sane": figures.sanity.passed if figures.sanity else None,
        "checks_text": checks_text(figures),
    }


def glance_view(summary: RunSummary, methods: list[str], *,
                fixation_limit: float | None) -> dict:
    """The headline cards and a row per method in ``methods``; ``fixation_limit`` is the
    configured ``gates.max_background_fixation_rate`` (None when that gate is off).

    ``accuracy_note`` is what the accuracy card says under the figure: its 95% interval, or
    "too few samples to judge (n=…)"."""
    correct = summary.correct
    if summary.accuracy is not None and correct.too_few:
        note = f"{TOO_FEW_TEXT} (n={fmt_count(correct.n)})"
    elif summary.accuracy_ci is not None:
        method = {"wilson": "Wilson", "bootstrap": "bootstrap"}.get(correct.method or "", "")
        note = f"95% {method + ' ' if method else ''}CI {fmt_ci(summary.accuracy_ci, 'pct')}"
    else:
        note = "no interval"
    return {
        "accuracy": fmt_pct(summary.accuracy),
        "accuracy_ci": fmt_ci(summary.accuracy_ci, "pct"),
        "accuracy_note": note,
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
