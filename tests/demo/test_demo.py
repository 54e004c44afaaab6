"""The demo: synthetic shapes with boxes, and the small CNN that learns their background."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from audit.demo import build_model, ensure_demo, evaluate, generate_dataset
from audit.demo.build import SIZES
from audit.demo.train import load_images

CLASSES = ["circle", "square", "triangle"]


def _files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _rows(folder: Path) -> list[dict]:
    with open(folder / "manifest.csv", newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _luma(rgb: np.ndarray) -> np.ndarray:
    return rgb[..., 0] * 0.299 + rgb[..., 1] * 0.587 + rgb[..., 2] * 0.114


# --- the generator ----------------------------------------------------------------------------

def test_same_seed_gives_identical_bytes_and_another_seed_differs(tmp_path):
    kwargs = dict(n_images=12, image_size=40, background_correlation=0.5)
    generate_dataset(tmp_path / "a", seed=7, **kwargs)
    generate_dataset(tmp_path / "b", seed=7, **kwargs)
    generate_dataset(tmp_path / "c", seed=8, **kwargs)
    a, b, c = _files(tmp_path / "a"), _files(tmp_path / "b"), _files(tmp_path / "c")
    assert a == b
    assert a.keys() == c.keys() and a["manifest.csv"] != c["manifest.csv"]
    # Nothing left behind but the three datasets.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a", "b", "c"]


def test_manifest_format(tmp_path):
    manifest = generate_dataset(tmp_path / "d", n_images=15, image_size=48, seed=1)
    assert manifest == tmp_path / "d" / "manifest.csv"
    lines = manifest.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "image,label,x_min,y_min,x_max,y_max"
    rows = _rows(tmp_path / "d")
    assert len(rows) == 15
    assert [r["image"] for r in rows] == [f"images/{i:04d}.png" for i in range(15)]
    assert sorted(p.name for p in (tmp_path / "d" / "images").iterdir()) == \
        [f"{i:04d}.png" for i in range(15)]
    assert {r["label"] for r in rows} == set(CLASSES)  # balanced: 5 of each
    for row in rows:
        x0, y0, x1, y1 = (int(row[k]) for k in ("x_min", "y_min", "x_max", "y_max"))
        assert 0 <= x0 < x1 <= 48 and 0 <= y0 < y1 <= 48
        with Image.open(tmp_path / "d" / row["image"]) as img:
            assert img.format == "PNG" and img.mode == "RGB" and img.size == (48, 48)
    info = json.loads((tmp_path / "d" / "dataset.json").read_text())
    assert info["classes"] == CLASSES and info["seed"] == 1 and info["image_size"] == 48
    assert info["background_correlation"] == 0.0 and len(info["background_style"]) == 15


def test_boxes_are_tight_around_the_object(tmp_path):
    folder = tmp_path / "d"
    generate_dataset(folder, n_images=30, image_size=64, seed=3, write_masks=True)
    for i, row in enumerate(_rows(folder)):
        x0, y0, x1, y1 = (int(row[k]) for k in ("x_min", "y_min", "x_max", "y_max"))
        mask = np.asarray(Image.open(folder / f"masks/{i:04d}.png")) > 0
        inside = np.zeros_like(mask)
        inside[y0:y1, x0:x1] = True
        # Every object pixel is in the box: outside it there is only background ...
        assert not mask[~inside].any()
        # ... and every edge of the box touches the object.
        assert mask[y0, x0:x1].any() and mask[y1 - 1, x0:x1].any()
        assert mask[y0:y1, x0].any() and mask[y0:y1, x1 - 1].any()
        # The pixels outside the box look like background: darker than the object.
        image = np.asarray(Image.open(folder / row["image"]), dtype=np.float64)
        luma = _luma(image)
        assert np.median(luma[mask]) > np.percentile(luma[~inside], 99) + 20


def test_masks_do_not_change_the_images(tmp_path):
    generate_dataset(tmp_path / "a", n_images=6, seed=4)
    generate_dataset(tmp_path / "b", n_images=6, seed=4, write_masks=True)
    a, b = _files(tmp_path / "a"), _files(tmp_path / "b")
    assert {k: v for k, v in b.items() if not k.startswith("masks/")} == a


@pytest.mark.parametrize("correlation", [0.0, 0.9, 1.0])
def test_background_correlation_is_the_share_of_own_style_backgrounds(tmp_path, correlation):
    generate_dataset(tmp_path / "d", n_images=300, image_size=16, seed=5,
                     background_correlation=correlation)
    info = json.loads((tmp_path / "d" / "dataset.json").read_text())
    labels = [r["label"] for r in _rows(tmp_path / "d")]
    matching = np.mean([s == lab for s, lab in zip(info["background_style"], labels, strict=True)])
    # Otherwise the style is uniform, so it matches by chance a third of the time.
    expected = correlation + (1 - correlation) / 3
    assert abs(matching - expected) < 0.08


def test_generator_rejects_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match="unknown shape"):
        generate_dataset(tmp_path / "x", n_images=3, seed=0, classes=("circle", "blob"))
    with pytest.raises(ValueError, match="background_correlation"):
        generate_dataset(tmp_path / "x", n_images=3, seed=0, background_correlation=1.5)
    assert not (tmp_path / "x").exists()


# --- the model --------------------------------------------------------------------------------

def test_model_is_a_cam_architecture_without_rescaling():
    model = build_model(input_size=48, n_classes=3)
    assert model.input_shape == (None, 48, 48, 3)
    names = [layer.name for layer in model.layers]
    assert names[-3:] == ["last_conv", "gap", "predictions"]
    assert type(model.get_layer("gap")).__name__ == "GlobalAveragePooling2D"
    assert model.get_layer("last_conv").output.shape[1:3] == (12, 12)
    assert not any(type(layer).__name__ == "Rescaling" for layer in model.layers)
    assert model.output_shape == (None, 3)


def test_built_demo_has_its_files_and_training_figures(demo_small_biased):
    demo = demo_small_biased
    assert demo.model_path.is_file() and demo.audit_manifest.is_file()
    assert (demo.train_dir / "manifest.csv").is_file()
    figures = json.loads(demo.model_path.with_name("model.keras.json").read_text())
    assert figures["background_correlation"] == 0.95 and figures["seed"] == 0
    assert figures["epochs"] == SIZES["small"].epochs and 0.0 <= figures["accuracy"] <= 1.0
    assert json.loads((demo.audit_dir / "dataset.json").read_text())[
        "background_correlation"] == 0.0
    # No temporary files left behind.
    root = demo.model_path.parent
    assert not [p for p in root.rglob("*") if ".tmp" in p.name]


def test_biased_model_learns_the_background(demo_small_biased, tmp_path):
    demo = demo_small_biased
    # A fresh sample of the training distribution (correlated), and the decorrelated audit set.
    size = SIZES["small"].image_size
    generate_dataset(tmp_path / "correlated", n_images=150, image_size=size, seed=99,
                     background_correlation=0.95)
    correlated = evaluate(demo.model_path, tmp_path / "correlated")
    decorrelated = evaluate(demo.model_path, demo.audit_dir)
    assert correlated > 0.9
    assert decorrelated < 0.75
    assert decorrelated < correlated - 0.2


def _cam_enrichment(model_path, dataset_dir):
    """(correct, enrichment) per sample: CAM of the predicted class, share of its energy in the
    box over the box's share of the image. For GAP + dense this CAM equals Grad-CAM's map."""
    import keras

    model = keras.models.load_model(model_path, compile=False)
    x, y, _ = load_images(dataset_dir)
    acts = keras.Model(model.input, model.get_layer("last_conv").output).predict(x, verbose=0)
    weights, bias = model.get_layer("predictions").get_weights()
    pred = np.argmax(acts.mean(axis=(1, 2)) @ weights + bias, axis=1)
    out = []
    for i, row in enumerate(_rows(Path(dataset_dir))):
        cam = np.maximum(acts[i] @ weights[:, pred[i]], 0).astype(np.float32)
        up = np.asarray(Image.fromarray(cam).resize(x.shape[2:0:-1], Image.BILINEAR))
        box = np.zeros(up.shape, bool)
        box[int(row["y_min"]):int(row["y_max"]), int(row["x_min"]):int(row["x_max"])] = True
        out.append((pred[i] == y[i], up[box].sum() / up.sum() / box.mean()))
    return np.asarray(out, dtype=float)


def test_biased_model_maps_sit_on_the_background(demo_small_biased, demo_small_unbiased):
    biased = _cam_enrichment(demo_small_biased.model_path, demo_small_biased.audit_dir)
    misclassified = biased[biased[:, 0] == 0, 1]
    assert len(misclassified) >= 10
    # Less than chance weight on the object for most errors: background fixation.
    assert np.mean(misclassified < 1.0) > 0.6 and np.median(misclassified) < 0.9
    unbiased = _cam_enrichment(demo_small_unbiased.model_path, demo_small_unbiased.audit_dir)
    assert np.median(unbiased[:, 1]) > 2.0


def test_unbiased_model_learns_the_shape(demo_small_unbiased, demo_small_biased):
    assert demo_small_unbiased.audit_manifest == demo_small_biased.audit_manifest
    assert demo_small_unbiased.model_path != demo_small_biased.model_path
    assert evaluate(demo_small_unbiased.model_path, demo_small_unbiased.audit_dir) > 0.85


def test_ensure_demo_is_cached_quiet_and_rebuilds_only_what_is_missing(
        demo_small_biased, tmp_path, capsys):
    # Work on a copy: the session's demo is shared with other tests.
    src = demo_small_biased.model_path.parent
    copy = tmp_path / "demo"
    shutil.copytree(src, copy, ignore=shutil.ignore_patterns("bc*"))
    model_bytes = (copy / "model.keras").read_bytes()
    audit_bytes = _files(copy / "audit")
    shutil.rmtree(copy / "audit")

    paths = ensure_demo(copy, size="small", seed=0, quiet=True)
    assert capsys.readouterr().out == ""
    assert paths.model_path == copy / "model.keras"
    assert _files(copy / "audit") == audit_bytes  # regenerated, identical
    assert paths.model_path.read_bytes() == model_bytes  # not retrained

    ensure_demo(copy, size="small", seed=0, quiet=False)
    assert "cached" in capsys.readouterr().out
    assert paths.info["audit_accuracy"] == demo_small_biased.info["audit_accuracy"]
