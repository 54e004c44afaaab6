"""Exports: model_card.json in the Model Card Toolkit's shape; MLflow against a local file store
(parameters redacted, metrics, tags, artifacts), and a server that cannot be reached."""

from __future__ import annotations

import json

import pytest
from run_builders import make_records, make_summary

from audit.report.exports.figures import headline_figures
from audit.report.exports.model_card import model_card, write_model_card


def test_model_card_follows_the_toolkit_shape(tmp_path):
    summary = make_summary(make_records(40))
    card = json.loads(write_model_card(tmp_path, summary).read_text())
    assert set(card) >= {"model_details", "quantitative_analysis", "considerations"}
    metrics = card["quantitative_analysis"]["performance_metrics"]
    accuracy = next(m for m in metrics if m["type"] == "accuracy")
    assert accuracy["slice"] == "overall" and float(accuracy["value"]) == summary.accuracy
    low, high = summary.accuracy_ci
    assert accuracy["confidence_interval"] == {"lower_bound": repr(low), "upper_bound": repr(high)}
    assert any(m["slice"] == "class=cat" for m in metrics)
    assert any(m["type"] == "gradcam.pointing_accuracy" for m in metrics)
    assert all(set(m) <= {"type", "value", "slice", "confidence_interval"} for m in metrics)
    limits = [x["description"] for x in card["considerations"]["limitations"]]
    assert any("min_accuracy failed" in text for text in limits)  # the failed gate
    assert any("3 samples could not be audited" in text for text in limits)
    assert model_card(summary) == card


def test_headline_figures_have_unique_keys():
    figures = headline_figures(make_summary(make_records(40)))
    keys = [f.key for f in figures]
    assert len(keys) == len(set(keys)) and "gradcam.background_fixation_rate" in keys


def test_mlflow_logs_params_metrics_tags_artifacts_with_secrets_redacted(tmp_path,
                                                                         monkeypatch):
    pytest.importorskip("mlflow")
    # MLflow 3 keeps its file store for those who opt in (sqlite needs the full mlflow).
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    from mlflow.tracking import MlflowClient

    from audit.config import MlflowSection
    from audit.report.exports.mlflow import log_run

    summary = make_summary(make_records(40))
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "summary.md").write_text("## FAILED\n")
    config = {"run_name": "demo", "cams": {"methods": ["gradcam"]},
              "beam": {"options": ["--runner=DataflowRunner", "--service_account_key=abc"]},
              "auth": {"api_token": "s3cr3t"}}
    uri = (tmp_path / "mlruns").as_uri()
    run_id, warning = log_run(MlflowSection(tracking_uri=uri, experiment="cam-audit"),
                              summary=summary, config=config, run_dir=tmp_path / "run")
    assert warning is None and run_id
    run = MlflowClient(tracking_uri=uri).get_run(run_id)
    params, metrics, tags = run.data.params, run.data.metrics, run.data.tags
    assert params["cams.methods"] == '["gradcam"]'
    assert params["beam.options"] == '["--runner=DataflowRunner", "--service_account_key=***"]'
    assert params["auth.api_token"] == "***"
    assert "abc" not in json.dumps(params) and "s3cr3t" not in json.dumps(params)
    assert metrics["accuracy"] == summary.accuracy
    assert metrics["accuracy.ci_low"] == summary.accuracy_ci[0]
    assert "gradcam.pointing_accuracy" in metrics
    assert tags["cam_audit.verdict"] == "failed"
    assert tags["cam_audit.model_sha256"] == summary.provenance.model_sha256
    artifacts = [a.path for a in MlflowClient(tracking_uri=uri).list_artifacts(run_id)]
    assert artifacts == ["summary.md"]


def test_mlflow_server_out_of_reach_is_a_warning():
    pytest.importorskip("mlflow")
    from audit.config import MlflowSection
    from audit.report.exports.mlflow import log_run

    _, warning = log_run(MlflowSection(tracking_uri="http://127.0.0.1:9"),
                         summary=make_summary(make_records(10)), config={}, run_dir=".")
    assert warning.startswith("The run could not be logged to MLflow at http://127.0.0.1:9")
