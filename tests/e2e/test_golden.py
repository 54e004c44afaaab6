"""Results never change silently: an audit of a fixed model on fixed images must reproduce the
stored ``records.csv`` and ``summary.json`` figures in ``tests/golden/``.

The model's weights come from a seeded generator (no training), the images are drawn from one,
so both are the same on every machine. The stored files were first written by cam-audit 0.1.0
(before the pipeline core was rebuilt) and the rebuilt code reproduces them. Floats are
compared to a relative 1e-4 (CPU kernels may round the last digits differently); everything
else exactly. When an issue changes a definition
on purpose, regenerate the files and say so in the commit::

    CAM_AUDIT_UPDATE_GOLDEN=1 python -m pytest tests/e2e/test_golden.py
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from PIL import Image

from audit.app.cli import main

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
ROOT = Path(__file__).resolve().parents[2]
CLASSES = ["red", "green", "blue"]
UPDATE = os.environ.get("CAM_AUDIT_UPDATE_GOLDEN") == "1"
#: Run facts that differ from run to run (times, paths, host, versions).
VOLATILE = {"run_id", "provenance"}


def _model(path: Path) -> None:
    import keras

    model = keras.Sequential([
        keras.Input((32, 32, 3)),
        keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="conv1"),
        keras.layers.MaxPooling2D(2),
        keras.layers.Conv2D(12, 3, padding="same", activation="relu", name="conv2"),
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(3, activation="softmax", name="head"),
    ])
    rng = np.random.default_rng(20261127)
    model.set_weights([rng.normal(0.0, 0.4, w.shape).astype(np.float32)
                       for w in model.get_weights()])
    model.save(path)


def _images(folder: Path) -> Path:
    """14 images of 30-50 px: a coloured rectangle (the class) on a noisy background, with its
    box; one sample without a box and one unreadable file (skipped)."""
    rng = np.random.default_rng(7)
    folder.mkdir()
    rows = []
    for i in range(14):
        height, width = (int(v) for v in rng.integers(30, 51, size=2))
        label = i % 3
        pixels = rng.integers(0, 120, size=(height, width, 3)).astype(np.uint8)
        x0, y0 = int(rng.integers(0, width // 2)), int(rng.integers(0, height // 2))
        x1, y1 = x0 + int(rng.integers(6, width // 2)), y0 + int(rng.integers(6, height // 2))
        pixels[y0:y1, x0:x1] = 60
        pixels[y0:y1, x0:x1, label] = 230
        name = f"img{i:02d}.png"
        Image.fromarray(pixels).save(folder / name)
        box = ("", "", "", "") if i == 4 else (x0, y0, x1, y1)
        rows.append((f"images/{name}", CLASSES[label], *box))
    (folder / "img14.png").write_bytes(b"not a png")
    rows.append(("images/img14.png", "red", 1, 1, 5, 5))
    manifest = folder.parent / "manifest.csv"
    pd.DataFrame(rows, columns=["image", "label", "x_min", "y_min", "x_max", "y_max"]).to_csv(
        manifest, index=False)
    return manifest


@pytest.fixture(scope="module")
def golden_run(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("golden")
    _model(tmp / "model.keras")
    manifest = _images(tmp / "images")
    config = {
        "run_name": "golden", "seed": 5, "pipeline": str(ROOT / "pipelines" / "audit.yaml"),
        "model": {"path": "model.keras", "class_names": CLASSES},
        "dataset": {"path": str(manifest), "max_skipped_fraction": 0.2},
        "cams": {"batch_size": 5, "micro_batch": 4, "scorecam_max_channels": 6},
        "metrics": {"pointing_tolerance_px": 3, "bootstrap_resamples": 200},
        "gates": {"min_accuracy": 0.5, "max_background_fixation_rate": 0.5},
        "report": {"out_dir": str(tmp / "reports"), "gallery_size": 2},
    }
    (tmp / "config.yaml").write_text(yaml.safe_dump(config))
    code = main(["run", str(tmp / "config.yaml"), "--out", str(tmp / "run"), "--quiet"])
    assert code == 1  # a gate fails: accuracy 35.7% is below gates.min_accuracy 0.5
    return tmp / "run"


def _close(a, b, where: str) -> None:
    if isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), where
        for key in a:
            _close(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, list):
        assert isinstance(b, list) and len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            _close(x, y, f"{where}[{i}]")
    elif isinstance(a, float) and not isinstance(b, bool):
        assert isinstance(b, int | float) and math.isclose(a, b, rel_tol=1e-4, abs_tol=1e-6), (
            where, a, b)
    else:
        assert a == b, (where, a, b)


def test_records_match_the_stored_ones(golden_run):
    produced = pd.read_csv(golden_run / "records.csv", keep_default_na=False)
    if UPDATE:
        GOLDEN.mkdir(exist_ok=True)
        (GOLDEN / "records.csv").write_text((golden_run / "records.csv").read_text())
    expected = pd.read_csv(GOLDEN / "records.csv", keep_default_na=False)
    assert list(produced.columns) == list(expected.columns)
    assert len(produced) == len(expected)
    for column in expected.columns:
        if expected[column].dtype.kind == "f" or produced[column].dtype.kind == "f":
            a = pd.to_numeric(expected[column], errors="coerce").to_numpy(float)
            b = pd.to_numeric(produced[column], errors="coerce").to_numpy(float)
            np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-6, equal_nan=True,
                                       err_msg=column)
        else:
            assert produced[column].tolist() == expected[column].tolist(), column


def test_skipped_match_the_stored_ones(golden_run):
    # Reasons name the image file: the test's temporary folder becomes <run>.
    produced = (golden_run / "skipped.csv").read_text().replace(str(golden_run.parent), "<run>")
    if UPDATE:
        (GOLDEN / "skipped.csv").write_text(produced)
    assert produced == (GOLDEN / "skipped.csv").read_text()


def test_summary_matches_the_stored_one(golden_run):
    produced = json.loads((golden_run / "summary.json").read_text())
    figures = {k: v for k, v in produced.items() if k not in VOLATILE}
    if UPDATE:
        (GOLDEN / "summary.json").write_text(json.dumps(figures, indent=2) + "\n")
    expected = json.loads((GOLDEN / "summary.json").read_text())
    _close(figures, expected, "summary")
    # The provenance names what it should, whatever its values.
    assert {"model_sha256", "manifest_sha256", "layer", "scorecam_channels", "seed"} <= set(
        produced["provenance"])
    assert produced["provenance"]["layer"] == "conv2"
