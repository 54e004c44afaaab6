"""Stage ``gate``: thresholds on the summary (and on its drift from the baseline run) -> a
verdict."""

from __future__ import annotations

from audit.analysis.drift import Drift
from audit.analysis.gates import evaluate_gates, skipped_fraction_gate
from audit.config import DatasetSection, GatesSection, ReportSection
from audit.errors import ExitCode
from audit.summary import StrategiesFigures, Summary, Verdict


def gate(gates: GatesSection, dataset: DatasetSection, summary: Summary,
         changes: Drift | None = None, report: ReportSection | None = None,
         strategies: StrategiesFigures | None = None) -> Verdict:
    """Every configured gate, and the input's own gate: passed when all pass.

    A gate on a figure over fewer than ``metrics.min_n`` samples (the ``min_n`` recorded in
    the summary) is ``not_enough_samples`` and counts as passed or failed as
    ``gates.on_too_few`` says. With ``gates.per_slice``, every gate is applied to every scored
    slice as well (``min_accuracy[site=A]``; see :func:`audit.analysis.gates.evaluate_gates`). More
    skipped samples than ``dataset.max_skipped_fraction`` allows is a failing
    ``max_skipped_fraction`` gate, listed first, and makes the verdict's exit code 2 (the
    input, not the model, failed); any other failing gate makes it 1. ``changes`` (the
    ``drift`` stage's, None when the pipeline has no such stage) is what
    ``gates.max_regression`` judges; ``strategies`` (the ``strategies`` stage's) what
    ``gates.max_offobject_strategy_share`` judges. The per-slice gates are judged with the
    false-discovery rate across them controlled at ``report.fdr`` (``report`` None: its
    default). With no gate configured (and the input's gate not
    failing) there is no verdict: ``passed`` None, status ``no_verdict``, exit code 0.
    """
    fdr = (report if report is not None else ReportSection()).fdr
    results = evaluate_gates(summary, gates, drift=changes, fdr=fdr, strategies=strategies)
    passed = all(g.passed for g in results.values())
    exit_code = ExitCode.PASSED if passed else ExitCode.GATE_FAILED
    skipped = skipped_fraction_gate(summary, dataset.max_skipped_fraction)
    if skipped is not None:
        results = {"max_skipped_fraction": skipped, **results}
        passed, exit_code = False, ExitCode.BAD_INPUT
    if not results:
        return Verdict(gates={}, passed=None, status="no_verdict", exit_code=ExitCode.PASSED)
    return Verdict(gates=results, passed=passed, status="passed" if passed else "failed",
                   exit_code=exit_code)
