"""Background fixation: per method, the share of misclassified samples whose predicted-class
map prefers the background to the object, and its unconditional companion, background-fixated
errors per sample (the figure to compare across runs)."""

from __future__ import annotations

from audit.report import plots
from audit.report.format import fmt_ci, fmt_count, fmt_num, fmt_pct
from audit.report.images import data_uri
from audit.report.methods import is_counter_evidence, method_title
from audit.summary import RunSummary

__all__ = ["fixation_view"]


def fixation_view(summary: RunSummary, methods: list[str], *, threshold: float) -> dict:
    """A row per method (``rate``, ``ci``, ``count`` fixated of ``n``, ``too_few``; and the
    same for ``per_sample``, background-fixated errors per sample), the rates plot as a
    ``data:`` URI (counter-evidence left out), the number of misclassified samples and the
    enrichment ``threshold`` (``metrics.fixation_enrichment_below``) as text."""
    rows, rates = [], []
    for method in methods:
        figures = summary.methods[method]
        stat = figures.background_fixation
        per_sample = figures.background_fixation_per_sample
        rows.append({
            "method": method,
            "title": method_title(method),
            "counter_evidence": is_counter_evidence(method),
            "rate": fmt_pct(figures.background_fixation_rate),
            "ci": "" if stat.too_few else fmt_ci(stat.ci, "pct"),
            "count": fmt_count(stat.count),
            "n": fmt_count(stat.n),
            "too_few": stat.mean is not None and stat.too_few,
            "per_sample": {
                "rate": fmt_pct(per_sample.mean),
                "ci": "" if per_sample.too_few else fmt_ci(per_sample.ci, "pct"),
                "count": fmt_count(per_sample.count),
                "n": fmt_count(per_sample.n),
                "too_few": per_sample.mean is not None and per_sample.too_few,
            },
        })
        if not is_counter_evidence(method):
            rates.append((method_title(method), figures.background_fixation_rate,
                          None if stat.too_few else stat.ci))
    return {
        "rows": rows,
        "plot": data_uri(plots.fixation_rates_png(rates)),
        "n_misclassified": summary.n_misclassified,
        "threshold": fmt_num(threshold, 2),
    }
