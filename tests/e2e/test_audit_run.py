"""The audit end to end on the small demo: records, summary, gates, exit codes, resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import demo_config

from audit.app.cli import main
from audit.app.run import run_audit
from audit.config import parse_config
from audit.metrics.records import RECORD_COLUMNS, read_records

ROOT = Path(__file__).resolve().parents[2]
CLASSES = ["circle", "square", "triangle"]


def write_config(data, tmp_path, name="config.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data))
    return path


def test_run_writes_every_output(biased_run):
    run_dir = biased_run.run_dir
    for name in ("records.csv", "skipped.csv", "summary.json", "config.yaml", "status.json",
                 "report.html", "junit.xml"):
        assert (run_dir / name).is_file(), name
    assert not list(run_dir.glob("*.partial.csv")) and not list(run_dir.glob(".*.tmp"))
    assert json.loads((run_dir / "status.json").read_text())["status"] == "complete"
    records = read_records(run_dir / "records.csv")
    assert list(records.columns) == list(RECORD_COLUMNS)
    n = records["sample_id"].nunique()
    predicted = records[records["target"] == "predicted"]
    assert len(predicted) == 4 * n  # every method, every sample
    true_rows = records[records["target"] == "true"]
    assert set(true_rows["sample_id"]) == set(predicted.loc[~predicted["correct"], "sample_id"])
    assert (records["energy_in_box"].dropna().between(0, 1)).all()
    fixation = records["background_fixation"]
    assert fixation[predicted.index][predicted["correct"]].isna().all()
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["n_samples"] == n and summary["n_skipped"] == 0
    for method in ("gradcam", "gradcam++", "scorecam", "negative"):
        figures = summary["methods"][method]
        for key in ("background_fixation_rate", "pointing_accuracy", "localization_accuracy"):
            assert key in figures
        assert set(figures["energy_in_box"]) >= {"correct", "misclassified"}
    prov = summary["provenance"]
    assert len(prov["model_sha256"]) == 64 and prov["scorecam_channels"] == 8
    assert prov["layer"] and prov["seed"] == 0


def test_background_learner_fixates_more_than_a_model_without_the_correlation(
        biased_run, unbiased_run):
    biased, unbiased = biased_run.summary, unbiased_run.summary
    assert biased.accuracy < unbiased.accuracy - 0.15
    b, u = biased.methods["gradcam"], unbiased.methods["gradcam"]
    assert b.background_fixation_rate is not None
    assert b.background_fixation.n >= 5
    unbiased_rate = u.background_fixation_rate or 0.0
    assert b.background_fixation_rate > unbiased_rate + 0.2
    # The maps of the biased model's errors sit off the object.
    biased_mis = b.energy_in_box.misclassified.mean
    unbiased_all = u.energy_in_box.all.mean
    assert biased_mis < unbiased_all - 0.1
    # Without any explainer, the behavioural test tells the two models apart: the biased
    # model keeps its decisions without the object and loses them without the background.
    assert biased.behaviour.background_reliance.value > 0.3
    assert biased.behaviour.background_reliance.ci_low > 0
    assert unbiased.behaviour.background_reliance.value < -0.3
    assert unbiased.behaviour.background_reliance.ci_high < 0
    assert biased.behaviour.background_decision_rate.value > 0.5


def test_gate_failure_exits_1_and_pass_exits_0(demo_small_biased, tmp_path, monkeypatch):
    strict = demo_config(demo_small_biased, tmp_path, gates={"min_accuracy": 0.99},
                         cams={"methods": ["gradcam"]})
    path = write_config(strict, tmp_path, "strict.yaml")
    step_summary = tmp_path / "step_summary.md"
    step_summary.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(step_summary))
    assert main(["run", str(path), "--out", str(tmp_path / "strict"), "--quiet"]) == 1
    junit = (tmp_path / "strict" / "junit.xml").read_text()
    assert "failure" in junit and "min_accuracy" in junit
    # The run's summary.md is appended to the job summary GitHub Actions shows.
    summary_md = (tmp_path / "strict" / "summary.md").read_text()
    assert "FAILED" in summary_md and "`min_accuracy`" in summary_md
    assert step_summary.read_text() == "earlier step\n" + summary_md + "\n"
    monkeypatch.delenv("GITHUB_STEP_SUMMARY")
    lenient = demo_config(demo_small_biased, tmp_path, gates={"min_accuracy": 0.1},
                          cams={"methods": ["gradcam"]})
    path = write_config(lenient, tmp_path, "lenient.yaml")
    assert main(["run", str(path), "--out", str(tmp_path / "lenient"), "--quiet"]) == 0


def test_bad_input_exits_2_with_a_clear_message(demo_small_biased, tmp_path, capsys):
    bad = demo_config(demo_small_biased, tmp_path, model={"layer": "no_such_layer"})
    path = write_config(bad, tmp_path, "bad.yaml")
    assert main(["run", str(path), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "no layer 'no_such_layer'" in err and "can be explained" in err
    assert main(["run", str(tmp_path / "missing.yaml")]) == 2
    typo = demo_config(demo_small_biased, tmp_path, cams={"batch_sise": 4})
    assert main(["validate", str(write_config(typo, tmp_path, "typo.yaml"))]) == 2
    assert "Did you mean 'batch_size'" in capsys.readouterr().err


def test_validate_checks_model_layer_and_dataset(demo_small_biased, tmp_path, capsys):
    path = write_config(demo_config(demo_small_biased, tmp_path), tmp_path)
    assert main(["validate", str(path)]) == 0
    out = capsys.readouterr().out
    assert "layer:" in out and "samples" in out


def test_quick_pipeline_and_limit(demo_small_biased, tmp_path):
    config = parse_config(demo_config(demo_small_biased, tmp_path), base_dir=tmp_path)
    result = run_audit(config, pipeline_path="quick.yaml", out_dir=tmp_path / "q", limit=20,
                       quiet=True)
    records = read_records(result.run_dir / "records.csv")
    assert set(records["method"]) == {"gradcam"} and set(records["target"]) == {"predicted"}
    assert records["sample_id"].nunique() == 20


def test_same_seed_same_results_across_batch_sizes_and_overlap(demo_small_biased, tmp_path,
                                                                monkeypatch):
    """Bit for bit, whatever the batch size and whether the local engine computes two
    batches at once (its default) or one after the other."""
    import audit.app.run
    from audit.pipeline import LocalEngine

    outputs = []
    for batch_size, overlap in ((7, 1), (7, 2), (32, 2)):
        monkeypatch.setattr(audit.app.run, "make_engine", lambda config, o=overlap: LocalEngine(
            overlap=o))
        data = demo_config(demo_small_biased, tmp_path, cams={"batch_size": batch_size})
        config = parse_config(data, base_dir=tmp_path)
        result = run_audit(config, out_dir=tmp_path / f"b{batch_size}-{overlap}", quiet=True)
        summary = json.loads((result.run_dir / "summary.json").read_text())
        summary.pop("provenance")
        summary.pop("run_id")
        outputs.append(((result.run_dir / "records.csv").read_bytes(),
                        (result.run_dir / "samples.csv").read_bytes(), summary))
    assert outputs[0] == outputs[1] == outputs[2]


def test_sigkill_halfway_then_resume_equals_uninterrupted(demo_small_biased, biased_run,
                                                          tmp_path):
    data = demo_config(demo_small_biased, tmp_path, cams={"batch_size": 4})
    path = write_config(data, tmp_path)
    run_dir = tmp_path / "killed"
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    proc = subprocess.Popen([sys.executable, "-m", "audit", "run", str(path), "--out",
                             str(run_dir), "--quiet"], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    status_path = run_dir / "status.json"
    deadline = time.time() + 240
    n_total = pd.read_csv(demo_small_biased.audit_manifest)["image"].nunique()
    half = (n_total // 4) // 2
    while time.time() < deadline:
        try:
            done = json.loads(status_path.read_text()).get("completed_batches", 0)
        except (FileNotFoundError, ValueError):
            done = 0
        if done >= max(1, half):
            break
        if proc.poll() is not None:
            pytest.fail("the run finished before it could be killed")
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    status = json.loads(status_path.read_text())
    assert status["status"] == "running"
    assert not (run_dir / "report.html").exists() and not (run_dir / "summary.json").exists()
    assert main(["run", "--resume", str(run_dir), "--quiet"]) == 0  # no gate configured
    assert json.loads(status_path.read_text())["status"] == "complete"
    # Same records and figures as the uninterrupted run (batch size aside).
    resumed = (run_dir / "records.csv").read_text()
    assert resumed == (biased_run.run_dir / "records.csv").read_text()
    assert (run_dir / "samples.csv").read_text() == (
        biased_run.run_dir / "samples.csv").read_text()
    a = json.loads((run_dir / "summary.json").read_text())
    b = json.loads((biased_run.run_dir / "summary.json").read_text())
    for summary in (a, b):
        summary.pop("provenance"), summary.pop("run_id")
    assert a == b


def test_scheduled_runs_build_history_compare_with_baseline_and_compare_cli(
        demo_small_biased, tmp_path, capsys):
    data = demo_config(demo_small_biased, tmp_path)
    path = write_config(data, tmp_path)
    for _ in range(2):
        assert main(["run", str(path), "--pipeline", "quick.yaml", "--limit", "24",
                     "--quiet"]) == 0
    capsys.readouterr()
    reports = tmp_path / "reports"
    rows = json.loads((reports / "index.json").read_text())
    assert len(rows) == 2 and rows[0]["finished_at"] >= rows[1]["finished_at"]
    first, second = sorted(p for p in reports.iterdir() if p.is_dir())
    assert first.name in (second / "report.html").read_text()  # compared with its baseline
    assert second.name in (reports / "index.html").read_text()
    assert main(["compare", str(first), str(second), "--out", str(tmp_path / "c.html")]) == 0
    assert "fixed" in capsys.readouterr().out and (tmp_path / "c.html").is_file()
    assert main(["compare", str(first), str(tmp_path)]) == 2
    # A run put elsewhere with --out stays out of the history.
    assert main(["run", str(path), "--pipeline", "quick.yaml", "--limit", "8", "--quiet",
                 "--out", str(tmp_path / "elsewhere" / "run")]) == 0
    assert not (tmp_path / "elsewhere" / "index.json").exists()
    assert len(json.loads((reports / "index.json").read_text())) == 2
