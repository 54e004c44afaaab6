"""The key figures of this run against a baseline run (an earlier run on the same dataset), and
the changes flagged, as the ``drift`` stage measured them (:mod:`audit.analysis.drift`)."""

from __future__ import annotations

from types import SimpleNamespace

from audit.comparison import overall_answer
from audit.comparison.drift import Drift
from audit.report.changes import change_view, changes_sentence, min_change_text
from audit.report.figures import METHODS_RULE, OVERALL_RULE, change_rows
from audit.report.format import fmt_delta, fmt_text, fmt_time
from audit.summary import RunSummary

__all__ = ["baseline_view"]

_STATE = {"B is worse than A": "fail", "B is better than A": "pass", "mixed": "warn"}


def baseline_view(summary: RunSummary, drift: Drift | None = None) -> dict | None:
    """The baseline's identity, the overall answer, the flagged changes, the key-figure change
    rows and their counts; None without a baseline.

    ``drift`` is the run against its baseline as the ``drift`` stage measured it (the
    comparison, the flagged changes and the ``report.min_change`` they were flagged with);
    None, or a drift without a baseline, shows no comparison. A significant change no larger
    than ``min_change`` is shown as such, not as a regression or an improvement, and the
    overall answer weighs only the flagged ones.
    """
    if drift is None:
        return None
    if drift.comparison is None or drift.baseline is None:
        if not drift.note:
            return None
        return {"note": drift.note, "run_id": fmt_text(drift.baseline_dir)}
    comparison, baseline = drift.comparison, drift.baseline
    rows = change_rows(comparison)
    weighed = []
    n_small = 0
    for row, figure in zip(rows, comparison.figures, strict=True):
        assessment = figure.assessment
        if assessment in ("regression", "improvement") and not drift.flags(figure):
            n_small += 1
            assessment = "small"
            row["status"] = "small"
            row["assessment"] = (f"significant, not larger than report.min_change "
                                 f"({fmt_delta(figure.difference, figure.unit)})")
        weighed.append(SimpleNamespace(figure=figure.figure, unit=figure.unit, a=figure.a,
                                       b=figure.b, assessment=assessment))
    answer = overall_answer(weighed)
    sentence = answer.sentence
    if n_small:
        sentence += (f" {n_small} significant change{'s' if n_small != 1 else ''} no larger "
                     f"than report.min_change {'is' if n_small == 1 else 'are'} not flagged.")
    n_tested = sum(f.significant is not None for f in comparison.figures)
    if comparison.fdr is not None and n_tested > 1:
        sentence += (f" Significance is controlled for the false-discovery rate across the "
                     f"{n_tested} figures tested (Benjamini-Hochberg, report.fdr "
                     f"{comparison.fdr:g}).")
    theirs, ours = baseline.provenance, summary.provenance
    return {
        "note": "",
        "run_id": fmt_text(drift.baseline_run_id),
        "finished_at": fmt_time(theirs.finished_at),
        "model": fmt_text(theirs.model_path),
        "same_model": theirs.model_sha256 is not None
        and theirs.model_sha256 == ours.model_sha256,
        "passed": baseline.passed,
        "overall": answer.overall,
        "state": _STATE.get(answer.overall, "info"),
        "sentence": sentence,  # A is the baseline, B this run
        "headline": changes_sentence(drift.changes, baseline=drift.baseline_run_id),
        "changes": [change_view(c) for c in drift.changes],
        "min_change": min_change_text(drift.min_change),
        "paired": comparison.paired,
        "pairing": comparison.pairing,
        "rows": rows,
        "n_regressions": len(drift.regressions),
        "n_improvements": len(drift.improvements),
        "rule": OVERALL_RULE,
        "tests": METHODS_RULE,
    }
