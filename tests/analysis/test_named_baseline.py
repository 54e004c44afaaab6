"""A baseline named by --baseline or report.baseline that cannot be read is bad input; without a
baseline, max_regression is its own outcome, visible in JUnit."""

from __future__ import annotations

import pytest

from audit.analysis.drift import Drift, measure_drift
from audit.analysis.gates import regression_gate
from audit.errors import ConfigError
from audit.report.junit import write_junit
from audit.summary import RunSummary, Summary


def test_a_named_baseline_that_cannot_be_read_is_bad_input(tmp_path):
    with pytest.raises(ConfigError, match="baseline run folder named by --baseline .* must be a "
                                          "finished run; got '.*nonexistent'"):
        measure_drift(Summary(), None, baseline_dir=tmp_path / "nonexistent", explicit=True)
    found = measure_drift(Summary(), None, baseline_dir=tmp_path / "nonexistent")
    assert found.comparison is None and "could not be read" in found.note


def test_run_audit_refuses_a_mistyped_baseline_before_running(tmp_path):
    from audit.app.run import run_audit

    with pytest.raises(ConfigError, match="must be a finished run"):
        run_audit(resume=tmp_path, baseline=tmp_path / "nonexistent")


def test_no_baseline_is_its_own_gate_outcome_and_skipped_in_junit(tmp_path):
    gate = regression_gate(Drift(), 0.0)
    assert (gate.passed, gate.outcome) == (True, "no_baseline")
    junit = write_junit(tmp_path, RunSummary(gates={"max_regression": gate})).read_text()
    assert '<skipped message="value n/a, threshold 0' in junit or "<skipped" in junit
    assert 'skipped="1"' in junit and "no baseline run to compare with" in junit
