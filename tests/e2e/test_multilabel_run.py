"""A multi-label model audited end to end through the command line: label sets from CSV, JSON
Lines and COCO manifests, per-label figures, the maps of false positives, a failing per-label gate.

The model's weights are set by hand, so it is the same everywhere and needs no training: a
1x1 convolution ``conv`` whose two channels respond to red ("circle") and to green ("square")
pixels, global average pooling, and a sigmoid per class. Images are 32x32 gray noise with a red
disc and/or a green square, which may co-occur. Two images without a circle carry a red corner
mark that no annotation names (the model predicts "circle" from it: a false positive whose map
lies in the background), and one circle is too small to be seen (a false negative).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from PIL import Image

from audit.app.cli import main
from audit.metrics.records import read_records

ROOT = Path(__file__).resolve().parents[2]
CLASSES = ["circle", "square"]
SIZE = 32
#: Images whose circle is too small to be seen (false negative) and images with a red corner
#: mark but no circle (false positive).
TINY_CIRCLE = {8}
RED_MARK = {3, 13}


def _model(path: Path) -> None:
    import keras

    model = keras.Sequential([
        keras.Input((SIZE, SIZE, 3)),
        keras.layers.Conv2D(2, 1, activation="relu", name="conv"),
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(2, activation="sigmoid", name="labels"),
    ])
    kernel = np.array([[1.0, -1.0], [-1.0, 1.0], [-1.0, -1.0]], np.float32).reshape(1, 1, 3, 2)
    model.set_weights([kernel, np.zeros(2, np.float32), 100.0 * np.eye(2, dtype=np.float32),
                       np.full(2, -3.0, np.float32)])
    model.save(path)


def _images(folder: Path) -> list[dict]:
    """16 images; per image its labels and each label's boxes (pixel-edge corners)."""
    rng = np.random.default_rng(3)
    folder.mkdir()
    yy, xx = np.mgrid[:SIZE, :SIZE]
    entries = []
    for i in range(16):
        pixels = rng.integers(60, 100, size=(SIZE, SIZE, 3)).astype(np.uint8)
        boxes: dict[str, list[list[int]]] = {}
        if i % 4 in (0, 2):  # a red disc
            radius = 1 if i in TINY_CIRCLE else 5
            cx, cy = int(rng.integers(8, 12)), int(rng.integers(8, 24))
            pixels[(xx - cx) ** 2 + (yy - cy) ** 2 <= radius ** 2] = (230, 20, 20)
            boxes["circle"] = [[cx - radius, cy - radius, cx + radius + 1, cy + radius + 1]]
        if i % 4 in (1, 2):  # a green square
            x0, y0 = int(rng.integers(18, 22)), int(rng.integers(4, 18))
            pixels[y0:y0 + 9, x0:x0 + 9] = (20, 230, 20)
            boxes["square"] = [[x0, y0, x0 + 9, y0 + 9]]
        if i in RED_MARK:
            pixels[SIZE - 8:, :8] = (230, 20, 20)
        name = f"img{i:02d}.png"
        Image.fromarray(pixels).save(folder / name)
        entries.append({"image": f"images/{name}", "boxes": boxes})
    return entries


def _csv(entries: list[dict], path: Path) -> Path:
    rows = []
    for entry in entries:
        if not entry["boxes"]:
            rows.append((entry["image"], "", "", "", "", "", ""))
        for label, boxes in entry["boxes"].items():
            rows.extend((entry["image"], label, "", *box) for box in boxes)
    pd.DataFrame(rows, columns=["image", "label", "labels", "x_min", "y_min", "x_max",
                                "y_max"]).to_csv(path, index=False)
    return path


def _jsonl(entries: list[dict], path: Path) -> Path:
    lines = [{"image": e["image"], "labels": list(e["boxes"]),
              "boxes": [{"x_min": b[0], "y_min": b[1], "x_max": b[2], "y_max": b[3],
                         "label": label} for label, boxes in e["boxes"].items() for b in boxes]}
             for e in entries]
    path.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    return path


def _coco(entries: list[dict], path: Path) -> Path:
    ids = {name: k + 1 for k, name in enumerate(CLASSES)}
    objects = [(i, label, b) for i, e in enumerate(entries)
               for label, boxes in e["boxes"].items() for b in boxes]
    annotations = [{"id": n + 1, "image_id": i, "category_id": ids[label],
                    "bbox": [b[0], b[1], b[2] - b[0], b[3] - b[1]]}
                   for n, (i, label, b) in enumerate(objects)]
    path.write_text(json.dumps({
        "images": [{"id": i, "file_name": e["image"], "width": SIZE, "height": SIZE}
                   for i, e in enumerate(entries)],
        "annotations": annotations,
        "categories": [{"id": k, "name": name} for name, k in ids.items()]}))
    return path


def _config(tmp: Path, manifest: Path, fmt: str, **gates) -> Path:
    config = {
        "run_name": f"multilabel-{fmt}", "seed": 1, "pipeline": "multilabel.yaml",
        "model": {"path": str(tmp / "model.keras"), "class_names": CLASSES},
        "dataset": {"path": str(manifest), "format": fmt},
        "cams": {"methods": ["gradcam", "negative"], "batch_size": 6, "micro_batch": 4},
        "metrics": {"pointing_tolerance_px": 2, "bootstrap_resamples": 200, "min_n": 3},
        "gates": gates,
        "report": {"out_dir": str(tmp / "reports")},
    }
    path = tmp / f"{fmt}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict:
    tmp = tmp_path_factory.mktemp("multilabel")
    _model(tmp / "model.keras")
    entries = _images(tmp / "images")
    csv = _config(tmp, _csv(entries, tmp / "manifest.csv"), "csv",
                  per_label={"circle": {"min_recall": 0.95}, "*": {"min_precision": 0.1}},
                  min_macro_f1=0.5)
    jsonl = _config(tmp, _jsonl(entries, tmp / "manifest.jsonl"), "jsonl")
    coco = _config(tmp, _coco(entries, tmp / "coco.json"), "coco")
    codes = {"csv": main(["run", str(csv), "--out", str(tmp / "csv"), "--quiet"]),
             "jsonl": main(["run", str(jsonl), "--out", str(tmp / "jsonl"), "--quiet"]),
             "coco": main(["run", str(coco), "--out", str(tmp / "coco"), "--quiet"])}
    return {"tmp": tmp, "codes": codes}


def test_a_failing_per_label_gate_exits_1(runs):
    assert runs["codes"] == {"csv": 1, "jsonl": 0, "coco": 0}
    summary = json.loads((runs["tmp"] / "csv" / "summary.json").read_text())
    gates = summary["gates"]
    assert gates["min_recall[circle]"]["outcome"] == "fail"
    assert gates["min_recall[circle]"]["value"] == pytest.approx(7 / 8)
    assert gates["min_precision[circle]"]["passed"] and gates["min_precision[square]"]["passed"]
    assert gates["min_macro_f1"]["passed"]
    assert "min_recall[square]" not in gates


def test_per_label_figures(runs):
    summary = json.loads((runs["tmp"] / "csv" / "summary.json").read_text())
    labels = summary["multilabel"]["labels"]
    circle, square = labels["circle"], labels["square"]
    assert (circle["tp"], circle["fp"], circle["fn"]) == (7, 2, 1)
    assert (square["tp"], square["fp"], square["fn"]) == (8, 0, 0)
    assert circle["precision"]["mean"] == pytest.approx(7 / 9)
    assert circle["precision"]["method"] == "wilson" and circle["precision"]["ci"][0] < 7 / 9
    assert circle["recall"]["count"] == 7 and circle["recall"]["n"] == 8
    assert circle["f1"] == pytest.approx(14 / 17)
    assert circle["f1_ci"][0] < 14 / 17 < circle["f1_ci"][1]
    assert square["average_precision"] == pytest.approx(1.0)
    assert summary["multilabel"]["macro"]["n_labels"] == 2
    # Exact match: every image but the two with a red mark and the one with a tiny circle.
    assert summary["accuracy"] == pytest.approx(13 / 16)
    assert summary["confusion_matrix"]["matrix"] == [] and summary["per_class"] == {}
    # Negative evidence is counter-evidence: no fixation figures of its own.
    assert set(circle["fixation"]) == {"gradcam"}
    # The behavioural test per label: the model reads each label off its own objects.
    behaviour = circle["behaviour"]
    assert behaviour["n"] == 7 and behaviour["keeps_without_object"]["count"] == 0
    assert behaviour["keeps_without_background"]["count"] == 7
    assert behaviour["background_reliance"] == -1.0


def test_false_positive_maps_sit_on_the_background(runs):
    run = runs["tmp"] / "csv"
    records = read_records(run / "records.csv")
    grad = records[records["method"] == "gradcam"]
    fp = grad[(grad["target"] == "predicted") & ~grad["correct"]]
    assert sorted(fp["image"]) == [f"images/img{i:02d}.png" for i in sorted(RED_MARK)]
    assert set(fp["target_class"]) == {"circle"}
    # Scored against the image's objects (its square, or nothing), its map on the red mark.
    assert (fp["energy_in_box"].fillna(0.0) < 0.1).all()
    fixation = json.loads((run / "summary.json").read_text())["multilabel"]["labels"][
        "circle"]["fixation"]["gradcam"]
    with_objects = fp["region"].ne("").sum()
    assert fixation["false_positive"]["count"] == with_objects == fixation["false_positive"]["n"]
    # The missed circle's own map lies on it: not fixated.
    fn = grad[grad["target"] == "true"]
    assert list(fn["image"]) == [f"images/img{i:02d}.png" for i in sorted(TINY_CIRCLE)]
    assert fixation["false_negative"]["count"] == 0 and fixation["false_negative"]["n"] == 1
    # True positives are scored against their own label's box.
    tp = grad[(grad["target"] == "predicted") & grad["correct"]]
    assert (tp["energy_in_box"] > 0.9).all() and (tp["n_boxes"] == 1).all()
    assert set(tp["label_index"]) == {-1}
    both = tp[tp["label"] == "circle|square"]
    assert len(both) == 8 and set(both["predicted"]) == {"circle|square"}


def test_csv_jsonl_and_coco_label_sets_give_the_same_records(runs):
    a = read_records(runs["tmp"] / "csv" / "records.csv")
    for fmt in ("jsonl", "coco"):
        pd.testing.assert_frame_equal(a, read_records(runs["tmp"] / fmt / "records.csv"))
    scores = pd.read_csv(runs["tmp"] / "jsonl" / "label_scores.csv")
    assert len(scores) == 16 * 2 and scores["positive"].sum() == 17


def test_report_shows_the_label_table(runs):
    html = (runs["tmp"] / "csv" / "report.html").read_text()
    assert "Per label" in html and "fixated false positives" in html
    assert "background reliance" in html
    assert "Confusion matrix" not in html
    # The gallery: the false positive scored against a square, and the missed tiny circle.
    assert html.count('class="gallery-item"') == 2
    assert "false positive &#39;circle&#39;" in html and "missed &#39;circle&#39;" in html


def test_task_and_thresholds_are_resolved_from_the_head(runs):
    from audit.config import CamsSection, ModelSection
    from audit.errors import ConfigError
    from audit.stages.load_model import load_model

    path = runs["tmp"] / "model.keras"
    _, _, info = load_model(ModelSection(path=path, class_names=CLASSES,
                                         threshold={"square": 0.8}), CamsSection())
    assert info.task == "multilabel" and info.thresholds == (0.5, 0.8)
    _, _, info = load_model(ModelSection(path=path, task="single"), CamsSection())
    assert info.task == "single" and info.thresholds == ()
    with pytest.raises(ConfigError, match="did you mean 'square'"):
        load_model(ModelSection(path=path, class_names=CLASSES, threshold={"sqare": 0.8}),
                   CamsSection())


def test_the_full_audit_pipeline_refuses_a_multilabel_model(runs, capsys):
    config = yaml.safe_load((runs["tmp"] / "csv.yaml").read_text())
    config.update(pipeline="audit.yaml", gates={})
    path = runs["tmp"] / "full.yaml"
    path.write_text(yaml.safe_dump(config))
    assert main(["run", str(path), "--out", str(runs["tmp"] / "full"), "--quiet"]) == 2
    assert "stage 'behaviour' does not support multi-label models" in capsys.readouterr().err
