"""Label sets of a multi-label dataset in every manifest format (audit.datasets.label_sets)."""

from __future__ import annotations

import json

import pytest

from audit.datasets import Box, load_manifest
from audit.errors import DatasetError

CLASSES = ["circle", "square"]


def _boxes(sample):
    return {objects.name: objects.boxes for objects in sample.label_set}


def test_csv_labels_column_and_rows_give_each_label_its_boxes(tmp_path):
    (tmp_path / "m.csv").write_text(
        "image,label,labels,x_min,y_min,x_max,y_max,site\n"
        "a.png,circle,,1,1,5,5,A\n"
        "a.png,square,,10,10,20,20,A\n"
        "b.png,,circle|square,,,,,B\n"
        "c.png,,,,,,,B\n"
        "d.png,,square,2,2,8,8,B\n"
        "e.png,,circle|square,2,2,8,8,B\n"
        "f.png,triangle,,,,,,B\n")
    manifest = load_manifest("csv", tmp_path / "m.csv", class_names=CLASSES, multilabel=True)
    by_id = {s.sample_id: s for s in manifest.samples}
    assert _boxes(by_id["a.png"]) == {"circle": (Box(1, 1, 5, 5),),
                                      "square": (Box(10, 10, 20, 20),)}
    assert by_id["a.png"].label_name == "circle|square" and by_id["a.png"].meta["site"] == "A"
    assert _boxes(by_id["b.png"]) == {"circle": (), "square": ()}
    assert by_id["c.png"].label_set == () and by_id["c.png"].label == -1
    assert _boxes(by_id["d.png"]) == {"square": (Box(2, 2, 8, 8),)}
    reasons = {s.sample_id: s.reason for s in manifest.skipped}
    assert "belongs to no label" in reasons["e.png"]
    assert "'triangle' is not a known class" in reasons["f.png"]


def test_csv_labels_column_is_metadata_for_a_single_label_model(tmp_path):
    (tmp_path / "m.csv").write_text("image,label,labels\na.png,circle,circle|square\n")
    sample = load_manifest("csv", tmp_path / "m.csv", class_names=CLASSES).samples[0]
    assert sample.label_set is None and sample.meta["labels"] == "circle|square"


def test_csv_without_label_columns_says_which_are_expected(tmp_path):
    (tmp_path / "m.csv").write_text("image,site\na.png,A\n")
    with pytest.raises(DatasetError, match="must have a 'labels' column"):
        load_manifest("csv", tmp_path / "m.csv", class_names=CLASSES, multilabel=True)


def test_jsonl_labels_with_boxes_that_name_their_label(tmp_path):
    lines = [
        {"image": "a.png", "labels": ["circle", "square"],
         "boxes": [{"x_min": 1, "y_min": 1, "x_max": 5, "y_max": 5, "label": "circle"},
                   {"x_min": 9, "y_min": 9, "x_max": 19, "y_max": 19, "label": "square"}]},
        {"image": "b.png", "labels": [], "boxes": []},
        {"image": "c.png", "labels": ["square"], "boxes": [[0, 0, 4, 4]]},
        {"image": "d.png", "labels": "circle"},
        {"image": "e.png", "labels": ["circle", "square"], "boxes": [[0, 0, 4, 4]]},
    ]
    (tmp_path / "m.jsonl").write_text("\n".join(json.dumps(line) for line in lines))
    manifest = load_manifest("jsonl", tmp_path / "m.jsonl", class_names=CLASSES,
                             multilabel=True)
    by_id = {s.sample_id: s for s in manifest.samples}
    assert _boxes(by_id["a.png"]) == {"circle": (Box(1, 1, 5, 5),),
                                      "square": (Box(9, 9, 19, 19),)}
    assert by_id["b.png"].label_set == ()
    assert _boxes(by_id["c.png"]) == {"square": (Box(0, 0, 4, 4),)}
    reasons = {s.sample_id: s.reason for s in manifest.skipped}
    assert "'labels' must be a list" in reasons["d.png"]
    assert "belongs to no label" in reasons["e.png"]


def test_coco_every_category_is_a_label_with_its_own_boxes(tmp_path):
    data = {
        "images": [{"id": 1, "file_name": "a.png", "width": 32, "height": 32},
                   {"id": 2, "file_name": "b.png", "width": 32, "height": 32}],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 7, "bbox": [1, 1, 4, 4]},
            {"id": 2, "image_id": 1, "category_id": 8, "bbox": [10, 10, 30, 30]},
            {"id": 3, "image_id": 1, "category_id": 7, "bbox": [20, 0, 4, 4]},
        ],
        "categories": [{"id": 7, "name": "circle"}, {"id": 8, "name": "square"}],
    }
    (tmp_path / "c.json").write_text(json.dumps(data))
    manifest = load_manifest("coco", tmp_path / "c.json", class_names=CLASSES, multilabel=True)
    a, b = manifest.samples
    assert _boxes(a) == {"circle": (Box(1, 1, 5, 5), Box(20, 0, 24, 4)),
                         "square": (Box(10, 10, 32, 32),)}
    assert manifest.n_boxes_clipped == 1
    assert b.label_set == ()
    single = load_manifest("coco", tmp_path / "c.json", class_names=CLASSES)
    assert [s.label_name for s in single.samples] == ["square"]


def test_voc_every_object_class_is_a_label(tmp_path):
    annotations = tmp_path / "voc" / "Annotations"
    annotations.mkdir(parents=True)

    def obj(name, box):
        corners = "".join(f"<{k}>{v}</{k}>" for k, v in zip(("xmin", "ymin", "xmax", "ymax"),
                                                            box, strict=True))
        return f"<object><name>{name}</name><bndbox>{corners}</bndbox></object>"

    (annotations / "a.xml").write_text(
        "<annotation><filename>a.png</filename><size><width>32</width><height>32</height>"
        f"</size>{obj('circle', (2, 2, 6, 6))}{obj('square', (10, 10, 20, 20))}</annotation>")
    (annotations / "b.xml").write_text("<annotation><filename>b.png</filename></annotation>")
    manifest = load_manifest("voc", tmp_path / "voc", class_names=CLASSES, multilabel=True)
    a, b = manifest.samples
    assert _boxes(a) == {"circle": (Box(1, 1, 6, 6),), "square": (Box(9, 9, 20, 20),)}
    assert b.label_set == () and not manifest.skipped
