"""The key figures of this run against a baseline run (an earlier run on the same dataset)."""

from __future__ import annotations

import pandas as pd

from audit.report.figures import METHODS_RULE, OVERALL_RULE, change_rows, compare_summaries
from audit.report.format import fmt_text, fmt_time
from audit.summary import RunSummary

__all__ = ["baseline_view"]


def baseline_view(summary: RunSummary, baseline: RunSummary | None, *,
                  records: pd.DataFrame | None = None,
                  baseline_records: pd.DataFrame | None = None) -> dict | None:
    """The baseline's identity, the overall answer, the key-figure change rows and their
    counts; None without a baseline.

    With both runs' records on the same samples the changes are tested pair by pair
    (:func:`audit.comparison.compare_summaries`), otherwise by interval rules.
    """
    if baseline is None:
        return None
    comparison = compare_summaries(baseline, summary, records_a=baseline_records,
                                   records_b=records)
    rows = change_rows(comparison)
    theirs, ours = baseline.provenance, summary.provenance
    return {
        "run_id": fmt_text(baseline.run_id or theirs.run_id),
        "finished_at": fmt_time(theirs.finished_at),
        "model": fmt_text(theirs.model_path),
        "same_model": theirs.model_sha256 is not None
        and theirs.model_sha256 == ours.model_sha256,
        "passed": baseline.passed,
        "overall": comparison.overall,
        "sentence": comparison.sentence,  # A is the baseline, B this run
        "paired": comparison.paired,
        "pairing": comparison.pairing,
        "rows": rows,
        "n_regressions": len(comparison.regressions),
        "n_improvements": len(comparison.improvements),
        "rule": OVERALL_RULE,
        "tests": METHODS_RULE,
    }
