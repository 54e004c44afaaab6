"""Drift between runs: every key figure's change tested against the baseline run, only the
significant changes larger than report.min_change flagged, the max_regression gate, and the
drift stage's baseline lookup (--baseline, report.baseline, the previous run on the data)."""

from __future__ import annotations

import doctest
import importlib
import json
from pathlib import Path

import pytest
from run_builders import make_records, make_summary, write_run

from audit.analysis.drift import Drift, flagged_changes, measure_drift
from audit.analysis.gates import evaluate_gates, regression_gate
from audit.comparison import compare_summaries
from audit.config import DatasetSection, GatesSection, ReportSection
from audit.history.run_info import RunInfo
from audit.metrics.records import records_to_frame
from audit.stages.drift import drift
from audit.stages.gate import gate
from audit.summary import Change, RunSummary, Verdict, read_summary, write_summary

GOOD = make_records(80, seed=0, error_rate=0.1, hostile_file=False)
BAD = make_records(80, seed=0, error_rate=0.6, hostile_file=False)


def test_the_same_run_twice_flags_nothing():
    summary = make_summary(GOOD)
    frame = records_to_frame(GOOD)
    comparison = compare_summaries(summary, summary, records_a=frame, records_b=frame)
    assert comparison.paired
    assert flagged_changes(comparison) == []
    assert flagged_changes(comparison, min_change=0.0) == []  # every difference is 0


def test_a_worse_run_flags_its_regressions_largest_first():
    before, after = make_summary(GOOD), make_summary(BAD)
    comparison = compare_summaries(before, after, records_a=records_to_frame(GOOD),
                                   records_b=records_to_frame(BAD))
    changes = flagged_changes(comparison)
    assert changes, comparison.sentence
    accuracy = next(c for c in changes if c.figure == "accuracy")
    assert accuracy.assessment == "regression" and accuracy.significant
    assert accuracy.before == pytest.approx(before.accuracy)
    assert accuracy.after == pytest.approx(after.accuracy)
    assert accuracy.difference == pytest.approx(after.accuracy - before.accuracy)
    assert accuracy.test == "mcnemar-exact" and accuracy.p_value < 0.05 and accuracy.ci is None
    assert (accuracy.n_before, accuracy.n_after) == (80, 80)
    order = [(c.assessment != "regression", -abs(c.difference)) for c in changes]
    assert order == sorted(order)  # regressions first, each kind largest first
    # Only figures with a better direction: never the counter-evidence map's.
    assert not [c for c in changes if c.method == "negative"]
    for change in changes:
        row = comparison.figure(change.figure)
        assert row.significant and abs(row.difference) > 0.02
    # Unpaired (no records): the interval of the difference comes with it.
    unpaired = flagged_changes(compare_summaries(before, after))
    accuracy = next(c for c in unpaired if c.figure == "accuracy")
    assert accuracy.test == "newcombe" and accuracy.ci[1] < 0
    # A change no larger than min_change is not flagged, however significant.
    assert flagged_changes(compare_summaries(before, after), min_change=0.99) == []
    with pytest.raises(ValueError, match="min_change=-1"):
        flagged_changes(comparison, min_change=-1)


def test_changes_in_summary_json(tmp_path):
    change = Change(figure="accuracy", label="accuracy", assessment="regression", before=0.9,
                    after=0.7, difference=-0.2, ci=(-0.3, -0.1), test="newcombe",
                    n_before=100, n_after=100)
    summary = make_summary(GOOD).model_copy(update={"changes": [change],
                                                    "baseline_run_id": "run-0"})
    write_summary(tmp_path / "summary.json", summary)
    data = json.loads((tmp_path / "summary.json").read_text())
    assert data["baseline_run_id"] == "run-0"
    assert data["changes"] == [{
        "figure": "accuracy", "label": "accuracy", "method": None, "assessment": "regression",
        "unit": "pct", "before": 0.9, "after": 0.7, "difference": -0.2, "ci": [-0.3, -0.1],
        "p_value": None, "test": "newcombe", "significant": True, "n_before": 100,
        "n_after": 100}]
    assert read_summary(tmp_path / "summary.json").changes == [change]
    # A summary written before changes were recorded reads with none.
    del data["changes"], data["baseline_run_id"]
    (tmp_path / "summary.json").write_text(json.dumps(data))
    old = read_summary(tmp_path / "summary.json")
    assert old.changes == [] and old.baseline_run_id is None


def test_measure_drift(tmp_path):
    summary = make_summary(BAD)
    assert measure_drift(summary, None, baseline_dir=None) == Drift()
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "summary.json").write_text("{")
    unreadable = measure_drift(summary, None, baseline_dir=broken)
    assert unreadable.comparison is None and "cannot read the run summary" in unreadable.note
    run_dir, _ = write_run(tmp_path, "run-0", "2026-11-01T10:00:00+00:00")
    result = measure_drift(summary, records_to_frame(BAD), baseline_dir=run_dir,
                           min_change=0.05)
    assert result.baseline_run_id == "run-0" and result.min_change == 0.05
    assert result.comparison is not None and not result.comparison.paired  # other samples
    assert all(abs(c.difference) > 0.05 for c in result.changes)


def _regression(size: float, figure="gradcam.pointing_accuracy") -> Change:
    return Change(figure=figure, method="gradcam", assessment="regression", before=0.8,
                  after=0.8 - size, difference=-size, n_before=200, n_after=190)


def test_max_regression_gate():
    comparison = compare_summaries(make_summary(GOOD), make_summary(GOOD))
    baseline = make_summary(GOOD)
    with_baseline = Drift(baseline=baseline, comparison=comparison, min_change=0.02)
    assert regression_gate(None, 0.05).model_dump() == {
        "value": None, "threshold": 0.05, "passed": False, "outcome": "fail", "n": None,
        "p_value": None, "p_adjusted": None,
        "reason": "the pipeline has no drift stage, so there is no change against a baseline "
                  "run to judge; add the stage or switch the gate off"}
    first = regression_gate(Drift(), 0.05)
    assert (first.passed, first.outcome) == (True, "no_baseline")
    assert first.reason.startswith("no baseline run to compare with")
    calm = regression_gate(with_baseline, 0.05)
    assert (calm.value, calm.passed, calm.outcome) == (0.0, True, "pass")
    assert "no flagged regression against the baseline run 20261125-213000-demo" in calm.reason
    small, large = _regression(0.04), _regression(0.12, "accuracy")
    worse = Drift(baseline=baseline, comparison=comparison, changes=(large, small))
    failed = regression_gate(worse, 0.05)
    assert (failed.value, failed.passed, failed.outcome, failed.n) == (0.12, False, "fail", 190)
    assert failed.reason == (
        "largest flagged regression against the baseline run 20261125-213000-demo: accuracy "
        "moved 12.0 percentage points for the worse (0.120), above the maximum 0.050")
    assert regression_gate(worse, 0.2).passed
    # Off by default; in the verdict when set, with its exit code.
    assert "max_regression" not in evaluate_gates(baseline, GatesSection(), drift=worse)
    verdict = gate(GatesSection(max_regression=0.05), DatasetSection(path=Path("m.csv")),
                   baseline, worse)
    assert not verdict.passed and int(verdict.exit_code) == 1
    assert list(verdict.gates) == ["max_regression"]


def _run_info(tmp_path: Path, run_dir: Path, **options) -> RunInfo:
    return RunInfo(run_id=run_dir.name, run_name="demo", run_dir=run_dir,
                   started_at="2026-11-10T10:00:00+00:00",
                   provenance={"manifest_sha256": "b" * 64, "model_sha256": "a" * 64},
                   **options)


def test_drift_stage_finds_its_baseline(tmp_path):
    history = tmp_path / "reports"
    write_run(history, "run-1", "2026-11-01T10:00:00+00:00")
    write_run(history, "run-2", "2026-11-02T10:00:00+00:00", seed=1)
    write_run(history, "run-other-data", "2026-11-03T10:00:00+00:00", manifest="c" * 64)
    write_run(history, "run-later", "2026-11-11T10:00:00+00:00")  # after this run started
    current = history / "run-3"
    current.mkdir()
    summary, frame = make_summary(BAD), records_to_frame(BAD)
    found = drift(ReportSection(), _run_info(tmp_path, current, history_dir=history), summary,
                  frame)
    assert found.baseline_dir == history / "run-2" and found.baseline_run_id == "run-2"
    # report.baseline, then --baseline, win over the history.
    configured = drift(ReportSection(baseline=history / "run-1"),
                       _run_info(tmp_path, current, history_dir=history), summary, frame)
    assert configured.baseline_run_id == "run-1"
    explicit = drift(ReportSection(baseline=history / "run-1"),
                     _run_info(tmp_path, current, history_dir=history,
                               baseline=history / "run-other-data"), summary, frame)
    assert explicit.baseline_run_id == "run-other-data"
    # A run put elsewhere (--out) compares only with an explicit baseline.
    alone = drift(ReportSection(), _run_info(tmp_path, current), summary, frame)
    assert alone == Drift()


def test_assemble_keeps_the_changes():
    figures = make_summary(GOOD)
    summary = RunSummary.assemble(figures, Verdict(), figures.provenance,
                                  baseline_run_id="run-0", changes=(_regression(0.1),))
    assert summary.baseline_run_id == "run-0" and summary.changes == [_regression(0.1)]
    assert RunSummary.assemble(figures, Verdict(), figures.provenance).changes == []


@pytest.mark.parametrize("name", ["audit.comparison.drift", "audit.report.changes"])
def test_doctests(name):
    result = doctest.testmod(importlib.import_module(name))
    assert result.attempted and not result.failed


def test_report_says_when_the_baseline_cannot_be_read(tmp_path):
    from run_builders import CONFIG, NO_SKIPPED

    from audit.report import write_report

    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "summary.json").write_text("[]")
    unreadable = measure_drift(make_summary(BAD), None, baseline_dir=broken)
    text = write_report(tmp_path / "run", summary=make_summary(BAD),
                        records=records_to_frame(BAD), skipped=NO_SKIPPED, gallery=[],
                        config=CONFIG, drift=unreadable).read_text()
    assert "<b>No comparison.</b> The baseline run could not be read" in text
    assert "expected a JSON object" in text
