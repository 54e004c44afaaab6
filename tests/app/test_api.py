"""The notebook API: audit.run with a live model and a tf.data.Dataset gives the command line's
results bit for bit; AuditResult; audit.explain."""

from __future__ import annotations

import html
import sys
from pathlib import Path

import keras
import numpy as np
import pytest
import tensorflow as tf

import audit
from audit.app.cli import main
from audit.app.provenance import sha256_of
from audit.errors import ConfigError, DatasetError, ModelError
from audit.models.hashing import weights_sha256

ROOT = Path(__file__).resolve().parents[2]
CLASSES = ["red", "green", "<b>blue</b>"]
N = 10


def tiny_model():
    keras.utils.set_random_seed(0)
    return keras.Sequential([
        keras.Input((32, 32, 3)),
        keras.layers.Rescaling(1 / 255),
        keras.layers.Conv2D(4, 3, activation="relu", name="conv"),
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(3, activation="softmax"),
    ])


def elements():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 255, (N, 40, 40, 3), dtype=np.uint8)
    labels = np.arange(N) % 3
    boxes = np.full((N, 2, 4), -1.0, np.float32)  # one box each, one padding row
    boxes[:, 0] = [4, 6, 30, 28]
    return images, labels, boxes


def config(tmp_path, **extra):
    return {"run_name": "api", "seed": 0, "pipeline": str(ROOT / "pipelines" / "quick.yaml"),
            "model": {"class_names": CLASSES},
            "cams": {"batch_size": 4},
            "metrics": {"pointing_tolerance_px": 4, "bootstrap_resamples": 100},
            "report": {"out_dir": str(tmp_path / "reports"), "gallery_size": 1}, **extra}


@pytest.fixture(scope="module")
def api_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("api")
    model = tiny_model()
    dataset = tf.data.Dataset.from_tensor_slices(elements()).batch(3)  # batched: read by row
    return model, audit.run(config(tmp), model=model, dataset=dataset, out_dir=tmp / "run",
                            progress=False)


def test_import_audit_stays_light():
    import subprocess

    code = "import sys, audit; assert 'tensorflow' not in sys.modules; print(audit.__version__)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr


def test_run_with_a_live_model_and_a_dataset_matches_the_command_line(api_run, tmp_path):
    model, result = api_run
    assert result.exit_code == 0 and result.passed is None  # no gate: no verdict
    assert result.summary.n_samples == N and result.report_path.exists()
    records = result.records
    assert len(records) == N and records["box_area_fraction"].notna().all()
    assert (result.run_dir / "dataset" / "manifest.jsonl").exists()
    # The model's provenance hash is its weights'; the saved copy is what config.yaml names.
    assert result.summary.provenance.model_sha256 == weights_sha256(model)
    # The command line on the run folder's config.yaml (the saved model and images) gives
    # the same records and figures, bit for bit.
    assert main(["run", str(result.run_dir / "config.yaml"), "--out", str(tmp_path / "cli"),
                 "--quiet"]) == 0
    assert (tmp_path / "cli" / "records.csv").read_bytes() == (
        result.run_dir / "records.csv").read_bytes()
    cli = audit.AuditResult(tmp_path / "cli", None, 0)
    assert cli.records.equals(records)
    assert sha256_of(result.run_dir / "model.keras") is not None


def test_audit_result_renders_verdict_and_glance_escaped(api_run):
    _, result = api_run
    page = result._repr_html_()
    assert "NO VERDICT" in page.upper() and "Grad-CAM" in page and "<script" not in page
    assert html.escape(str(result.report_path)) in page
    assert result.samples.empty  # the quick pipeline has no behaviour stage


def test_run_refuses_bad_inputs_clearly(tmp_path):
    with pytest.raises(ModelError, match="model must be a keras.Model; got str"):
        audit.run(config(tmp_path), model="model.keras")
    with pytest.raises(ConfigError, match="config must be a path, a mapping or an AuditConfig"):
        audit.run(42)
    floats = tf.data.Dataset.from_tensor_slices((np.full((2, 8, 8, 3), 0.5, np.float32),
                                                 [0, 1]))
    with pytest.raises(DatasetError, match=r"dataset element 0: image must hold pixels"):
        audit.run(config(tmp_path), model=tiny_model(), dataset=floats,
                  out_dir=tmp_path / "floats", progress=False)


def test_explain_returns_maps_and_overlays():
    model = tiny_model()
    images, _, _ = elements()
    found = audit.explain(model, images[:2], method="gradcam++", class_index=1)
    assert found.maps.shape == (2, 32, 32) and found.overlays.shape == (2, 40, 40, 3)
    assert found.overlays.dtype == np.uint8 and found.class_index.tolist() == [1, 1]
    assert found.layer == "conv" and 0.0 <= found.maps.min() <= found.maps.max() <= 1.0
    one = audit.explain(model, images[0])
    assert one.maps.shape == (1, 32, 32) and one.predicted.shape == (1,)


def test_mlflow_out_of_reach_is_a_warning_in_the_report_not_a_failure(tmp_path):
    pytest.importorskip("mlflow")
    images, labels, boxes = elements()
    dataset = tf.data.Dataset.from_tensor_slices((images[:4], labels[:4], boxes[:4]))
    result = audit.run(config(tmp_path, report={"out_dir": str(tmp_path / "reports"),
                                                "mlflow": {"tracking_uri": "http://127.0.0.1:9"}}),
                       model=tiny_model(), dataset=dataset, out_dir=tmp_path / "run",
                       progress=False)
    assert result.exit_code == 0
    assert "could not be logged to MLflow at http://127.0.0.1:9" in result.report_path.read_text()
    card = (result.run_dir / "model_card.json").read_text()
    assert '"performance_metrics"' in card


def test_on_beam_the_live_model_goes_to_the_workers_as_the_saved_file(api_run, tmp_path):
    pytest.importorskip("apache_beam")
    model, local = api_run
    dataset = tf.data.Dataset.from_tensor_slices(elements())
    result = audit.run(config(tmp_path, engine="beam"), model=model, dataset=dataset,
                       out_dir=tmp_path / "beam", progress=False)
    assert (result.run_dir / "records.csv").read_bytes() == (
        local.run_dir / "records.csv").read_bytes()
    assert result.summary.provenance.model_sha256 == weights_sha256(model)
