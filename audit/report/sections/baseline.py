"""The key figures of this run against a baseline run (an earlier run on the same dataset)."""

from __future__ import annotations

from audit.report.figures import REGRESSION_RULE, change_rows, compare_figures
from audit.report.format import fmt_text, fmt_time
from audit.summary import RunSummary

__all__ = ["baseline_view"]


def baseline_view(summary: RunSummary, baseline: RunSummary | None) -> dict | None:
    """The baseline's identity, the key-figure change rows and their counts; None without a
    baseline."""
    if baseline is None:
        return None
    rows = change_rows(compare_figures(baseline, summary))
    theirs, ours = baseline.provenance, summary.provenance
    return {
        "run_id": fmt_text(baseline.run_id or theirs.run_id),
        "finished_at": fmt_time(theirs.finished_at),
        "model": fmt_text(theirs.model_path),
        "same_model": theirs.model_sha256 is not None
        and theirs.model_sha256 == ours.model_sha256,
        "passed": baseline.passed,
        "rows": rows,
        "n_regressions": sum(r["status"] == "regression" for r in rows),
        "n_improvements": sum(r["status"] == "improvement" for r in rows),
        "rule": REGRESSION_RULE,
    }
