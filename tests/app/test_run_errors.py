"""Run-level problems: exit code 2 and one clear message naming the file or key; per-sample
problems: the run goes on and the sample is listed in skipped.csv with its reason."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import keras
import pandas as pd
import pytest
import yaml
from PIL import Image

from audit.app.cli import main

ROOT = Path(__file__).resolve().parents[2]
CLASSES = ["circle", "square", "triangle"]


def _config(tmp_path, model_path, manifest_path, **extra) -> Path:
    data = {"model": {"path": str(model_path), "class_names": CLASSES},
            "dataset": {"path": str(manifest_path)},
            "cams": {"methods": ["gradcam"], "batch_size": 8},
            "metrics": {"bootstrap_resamples": 100},
            "report": {"out_dir": str(tmp_path / "reports"), "gallery_size": 1}}
    for key, value in extra.items():
        data[key] = {**data.get(key, {}), **value}
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _run(capsys, *args) -> tuple[int, str]:
    code = main(["run", *map(str, args), "--quiet"])
    return code, capsys.readouterr().err


@pytest.fixture()
def small_manifest(demo_small_biased, tmp_path) -> Path:
    """The first 12 samples of the small demo's audit set, with their images copied."""
    src = Path(demo_small_biased.audit_manifest)
    frame = pd.read_csv(src).head(12)
    (tmp_path / "images").mkdir()
    for image in frame["image"]:
        shutil.copy(src.parent / image, tmp_path / "images" / Path(image).name)
    frame["image"] = "images/" + frame["image"].map(lambda p: Path(p).name)
    out = tmp_path / "manifest.csv"
    frame.to_csv(out, index=False)
    return out


def test_missing_model_file(capsys, tmp_path, small_manifest):
    code, err = _run(capsys, _config(tmp_path, tmp_path / "nope.keras", small_manifest))
    assert code == 2 and "nope.keras' does not exist" in err and ".keras" in err


def test_non_keras_model_file(capsys, tmp_path, small_manifest):
    fake = tmp_path / "model.keras"
    fake.write_text("not a model")
    code, err = _run(capsys, _config(tmp_path, fake, small_manifest))
    assert code == 2 and "not a valid .keras file" in err
    other = tmp_path / "model.pt"
    other.write_bytes(b"\0" * 10)
    code, err = _run(capsys, _config(tmp_path, other, small_manifest))
    assert code == 2 and "extension '.pt'" in err
    saved = tmp_path / "saved_model_dir"
    saved.mkdir()
    (saved / "saved_model.pb").write_bytes(b"")
    code, err = _run(capsys, _config(tmp_path, saved, small_manifest))
    assert code == 2 and "SavedModel" in err


def test_model_without_explainable_layer(capsys, tmp_path, small_manifest):
    model = keras.Sequential([keras.Input((64, 64, 3)), keras.layers.GlobalAveragePooling2D(),
                              keras.layers.Dense(3, activation="softmax")])
    path = tmp_path / "flat.keras"
    model.save(path)
    code, err = _run(capsys, _config(tmp_path, path, small_manifest))
    assert code == 2 and "nothing a class activation map can explain" in err


def test_unknown_layer(capsys, tmp_path, demo_small_biased, small_manifest):
    code, err = _run(capsys, _config(tmp_path, demo_small_biased.model_path, small_manifest,
                                     model={"layer": "conv_99"}))
    assert code == 2 and "no layer 'conv_99'" in err


def test_empty_dataset_and_missing_columns(capsys, tmp_path, demo_small_biased):
    empty = tmp_path / "empty.csv"
    empty.write_text("image,label,x_min,y_min,x_max,y_max\n")
    code, err = _run(capsys, _config(tmp_path, demo_small_biased.model_path, empty))
    assert code == 2 and "empty.csv" in err
    cols = tmp_path / "cols.csv"
    cols.write_text("picture,class\na.png,circle\n")
    code, err = _run(capsys, _config(tmp_path, demo_small_biased.model_path, cols))
    assert code == 2 and "cols.csv" in err and "image" in err


def test_unreadable_config(capsys, tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text("model: {path: [\n")
    code, err = _run(capsys, path)
    assert code == 2 and "broken.yaml: not valid YAML" in err


def test_labels_match_none_of_the_classes(capsys, tmp_path, demo_small_biased, small_manifest):
    frame = pd.read_csv(small_manifest)
    frame["label"] = "giraffe"
    frame.to_csv(small_manifest, index=False)
    code, err = _run(capsys, _config(tmp_path, demo_small_biased.model_path, small_manifest))
    assert code == 2 and "giraffe" in err


def test_bad_samples_are_skipped_and_recorded(capsys, tmp_path, demo_small_biased,
                                              small_manifest):
    frame = pd.read_csv(small_manifest)
    images = tmp_path / "images"
    # A corrupt image, a missing one, a truncated one, an unknown label, a box outside.
    (images / Path(frame.loc[0, "image"]).name).write_bytes(b"\x89PNG\r\n\x1a\nrubbish")
    (images / Path(frame.loc[1, "image"]).name).unlink()
    data = (images / Path(frame.loc[2, "image"]).name).read_bytes()
    (images / Path(frame.loc[2, "image"]).name).write_bytes(data[: len(data) // 2])
    frame.loc[3, "label"] = "hexagon"
    frame.loc[4, ["x_min", "x_max"]] = [500, 600]
    # A grayscale and an RGBA image still work.
    Image.open(images / Path(frame.loc[5, "image"]).name).convert("L").save(
        images / Path(frame.loc[5, "image"]).name)
    Image.open(images / Path(frame.loc[6, "image"]).name).convert("RGBA").save(
        images / Path(frame.loc[6, "image"]).name)
    frame.to_csv(small_manifest, index=False)
    out = tmp_path / "run"
    code = main(["run", str(_config(tmp_path, demo_small_biased.model_path, small_manifest,
                                     dataset={"max_skipped_fraction": 0.5})),
                 "--out", str(out), "--quiet"])
    assert code == 0  # 5 of the samples skipped, within max_skipped_fraction 0.5; no gate
    skipped = pd.read_csv(out / "skipped.csv")
    assert len(skipped) == 5
    reasons = " | ".join(skipped["reason"])
    assert "hexagon" in reasons
    summary = json.loads((out / "summary.json").read_text())
    assert summary["n_skipped"] == 5 and summary["n_samples"] == 7
    assert "hexagon" in (out / "report.html").read_text()
    # Above max_skipped_fraction: exit 2, results still written, status failed.
    out2 = tmp_path / "run2"
    code, err = _run(capsys, _config(tmp_path, demo_small_biased.model_path, small_manifest,
                                     dataset={"max_skipped_fraction": 0.1}), "--out", out2)
    assert code == 2 and "max_skipped_fraction" in err
    assert (out2 / "summary.json").exists() and (out2 / "skipped.csv").exists()
    assert json.loads((out2 / "status.json").read_text())["status"] == "failed"
    assert json.loads((out2 / "summary.json").read_text())["passed"] is False


def test_an_unexpected_error_exits_3_never_1(capsys, tmp_path, small_manifest, monkeypatch,
                                             demo_small_biased):
    """A defect is not a verdict: one line naming the stage, the traceback in error.log."""
    import audit.app.run
    from audit.pipeline import Stage

    def broken_aggregate(*args):
        raise ZeroDivisionError("division by zero in a figure")

    real = audit.app.run.STAGES["aggregate"]
    monkeypatch.setattr(audit.app.run, "STAGES", {
        **audit.app.run.STAGES,
        "aggregate": Stage("aggregate", broken_aggregate, inputs=real.inputs,
                           outputs=real.outputs, optional=real.optional)})
    out = tmp_path / "run"
    code, err = _run(capsys, _config(tmp_path, demo_small_biased.model_path, small_manifest),
                     "--out", out)
    assert code == 3
    assert err == ("cam-audit: internal error: stage 'aggregate' failed: ZeroDivisionError: "
                   "division by zero in a figure (traceback in the run folder's error.log)\n")
    status = json.loads((out / "status.json").read_text())
    assert status["status"] == "failed" and status["error_log"] == "error.log"
    assert status["error"] == ("StageError: stage 'aggregate' failed: ZeroDivisionError: "
                               "division by zero in a figure")
    log = (out / "error.log").read_text()
    assert "Traceback (most recent call last)" in log and "in broken_aggregate" in log
    # The records were written before the failure; the run can be resumed once mended.
    assert (out / "records.csv").is_file() and not (out / "summary.json").exists()
