"""Secrets are redacted in every output (audit.redact): beam.options secrets and URL
credentials."""

from __future__ import annotations

from audit.redact import redact, redact_options, redact_text
from audit.report.config_yaml import config_yaml


def test_secret_flags_and_url_credentials_are_redacted():
    config = {"beam": {"options": ["--runner=DataflowRunner", "--s3_secret_access_key=AKIAXYZ",
                                   "--aws_session_token", "tok123", "--db_password=pw",
                                   "--gcp_credentials=/k.json", "--api_key=k",
                                   "--temp_location=gs://b/t"]},
              "model": {"path": "https://alice:hunter2@example.com/m.keras"},
              "dataset": {"images_root": "s3://AKIA:SECRET@bucket/imgs"}}
    text = config_yaml(redact(config))
    for secret in ("AKIAXYZ", "tok123", "pw\n", "/k.json", "=k\n", "hunter2", "SECRET"):
        assert secret not in text, secret
    assert "--runner=DataflowRunner" in text and "gs://b/t" in text
    assert "https://***@example.com/m.keras" in text
    assert config["beam"]["options"][1] == "--s3_secret_access_key=AKIAXYZ"  # not in place


def test_ordinary_values_stay():
    assert redact_options(["--project=p", "--num_workers", "4"]) == [
        "--project=p", "--num_workers", "4"]
    assert redact_text("a@b.com and /data/x@2x.png") == "a@b.com and /data/x@2x.png"

