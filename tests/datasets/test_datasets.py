"""Dataset loaders (CSV, JSON Lines, COCO, VOC), shared manifest logic, and batch streaming."""

from __future__ import annotations

import doctest
import importlib
import json
import math
import os
import re

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from audit.datasets import (
    FORMATS,
    Box,
    BoxError,
    DatasetManifest,
    ImageReadError,
    LabelError,
    Preprocessor,
    Sample,
    SampleError,
    SkippedSample,
    StreamStats,
    iter_batches,
    load_manifest,
    n_batches,
    read_image,
)
from audit.datasets.boxes import apply_image_size, check_box, fit_box, parse_box
from audit.datasets.labels import label_vocabulary, match_label
from audit.datasets.manifest import RawEntry, build_manifest
from audit.datasets.objects import dominant_label
from audit.errors import DatasetError

CLASSES = ["cat", "dog", "bird"]
HEADER = "image,label,x_min,y_min,x_max,y_max\n"


def png(path, size=(40, 30), color=(120, 60, 30)) -> str:
    """Write a real PNG of ``size`` = (width, height)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    Image.new("RGB", size, color).save(path)
    return str(path)


def write(path, text: str) -> str:
    path.write_text(text, encoding="utf-8")
    return str(path)


def csv_manifest(tmp_path, body: str, **kwargs) -> DatasetManifest:
    return load_manifest("csv", write(tmp_path / "m.csv", HEADER + body), **kwargs)


def reasons(manifest: DatasetManifest) -> str:
    return "\n".join(s.reason for s in manifest.skipped)


# ===== CSV ===================================================================================


def test_csv_boxes_no_box_and_order(tmp_path):
    m = csv_manifest(tmp_path, (
        "b.png,dog,1,2,10,12\n"
        "a.png,cat,,,,\n"
        "b.png,dog,20,5,30,25\n"
        "c.png,1,0,0,4,4\n"
    ), class_names=CLASSES)
    assert [s.sample_id for s in m.samples] == ["b.png", "a.png", "c.png"]
    b, a, c = m.samples
    assert b.boxes == (Box(1, 2, 10, 12), Box(20, 5, 30, 25))
    assert (b.label, b.label_name) == (1, "dog")
    assert a.boxes == () and a.label == 0
    assert (c.label, c.label_name) == (1, "dog")  # index label
    assert b.path == os.path.join(str(tmp_path), "b.png")
    assert m.skipped == [] and m.n_boxes_clipped == 0 and m.n_duplicates == 0
    assert (m.format, m.class_names, m.path) == ("csv", CLASSES, str(tmp_path / "m.csv"))


def test_csv_without_class_names_uses_sorted_names(tmp_path):
    m = csv_manifest(tmp_path, "a.png,zebra,,,,\nb.png,ant,,,,\nc.png,zebra,,,,\n")
    assert m.class_names == ["ant", "zebra"]
    assert [s.label for s in m.samples] == [1, 0, 1]


def test_csv_index_labels_without_class_names(tmp_path):
    m = csv_manifest(tmp_path, "a.png,2,,,,\nb.png,0,,,,\n")
    assert m.class_names == ["0", "1", "2"]
    assert [(s.label, s.label_name) for s in m.samples] == [(2, "2"), (0, "0")]


def test_csv_classification_only_header_bom_and_case(tmp_path):
    path = tmp_path / "m.csv"
    path.write_bytes("\ufeff Image , LABEL ,note\na.png,cat,hello\n".encode())
    m = load_manifest("CSV", path, class_names=CLASSES)
    assert m.samples[0].boxes == () and m.samples[0].label == 0


def test_csv_images_root_and_absolute_paths(tmp_path):
    absolute = str(tmp_path / "elsewhere" / "x.png")
    m = csv_manifest(tmp_path, f"a.png,cat,,,,\n{absolute},dog,,,,\n",
                     images_root=tmp_path / "imgs", class_names=CLASSES)
    assert m.samples[0].path == os.path.join(str(tmp_path / "imgs"), "a.png")
    assert m.samples[1].path == absolute
    assert m.images_root == str(tmp_path / "imgs")


def test_csv_unknown_label_names_label_and_classes(tmp_path):
    m = csv_manifest(tmp_path, "a.png,cat,,,,\nb.png,horse,,,,\nc.png,Dog,,,,\n",
                     class_names=CLASSES)
    assert [s.sample_id for s in m.samples] == ["a.png"]
    horse, dog = m.skipped
    assert horse == SkippedSample("b.png", "b.png", horse.reason)
    assert "line 3" in horse.reason and "'horse'" in horse.reason
    assert "'cat', 'dog', 'bird'" in horse.reason
    assert "did you mean 'dog'" in dog.reason


def test_unknown_label_lists_at_most_ten_classes(tmp_path):
    classes = [f"class{i}" for i in range(25)]
    m = csv_manifest(tmp_path, "a.png,class3,,,,\nb.png,nope,,,,\n", class_names=classes)
    reason = m.skipped[0].reason
    assert "'class9'" in reason and "'class10'" not in reason and "(and 15 more)" in reason


def test_csv_index_out_of_range(tmp_path):
    m = csv_manifest(tmp_path, "a.png,cat,,,,\nb.png,7,,,,\n", class_names=CLASSES)
    assert "out of range" in m.skipped[0].reason and "0..2" in m.skipped[0].reason


def test_csv_missing_label(tmp_path):
    m = csv_manifest(tmp_path, "a.png,cat,,,,\nb.png,,,,,\n", class_names=CLASSES)
    assert "no label" in m.skipped[0].reason


@pytest.mark.parametrize(("row", "words"), [
    ("b.png,cat,1,2,nan,5", ["line 3", "x_max", "finite"]),
    ("b.png,cat,1,2,abc,5", ["line 3", "x_max", "'abc', not a number"]),
    ("b.png,cat,1,2,,5", ["line 3", "x_max is empty"]),
    ("b.png,cat,10,2,5,8", ["line 3", "inverted", "x_max (5) is smaller than x_min (10)"]),
    ("b.png,cat,1,9,5,2", ["line 3", "inverted", "y_max"]),
    ("b.png,cat,3,2,3,8", ["line 3", "zero area", "zero width"]),
    ("b.png,cat,1,4,5,4", ["line 3", "zero area", "zero height"]),
    ("b.png,cat,-9,-9,-1,-2", ["line 3", "entirely outside"]),
])
def test_csv_bad_box_skips_the_sample(tmp_path, row, words):
    m = csv_manifest(tmp_path, f"a.png,cat,1,1,4,4\n{row}\nb.png,cat,1,1,3,3\n",
                     class_names=CLASSES)
    assert [s.sample_id for s in m.samples] == ["a.png"]
    (skipped,) = m.skipped
    assert skipped.sample_id == "b.png"
    for word in words:
        assert word in skipped.reason


def test_csv_partly_negative_box_is_clipped_and_counted(tmp_path):
    m = csv_manifest(tmp_path, "a.png,cat,-5,2,10,8\n", class_names=CLASSES)
    assert m.samples[0].boxes == (Box(0, 2, 10, 8),)
    assert m.n_boxes_clipped == 1


def test_csv_conflicting_duplicate_keeps_first_label(tmp_path):
    m = csv_manifest(tmp_path, "a.png,cat,1,1,5,5\nb.png,dog,,,,\na.png,dog,2,2,6,6\n",
                     class_names=CLASSES)
    a = m.samples[0]
    assert (a.label_name, a.boxes) == ("cat", (Box(1, 1, 5, 5),))
    (dup,) = m.skipped
    assert dup.sample_id == "a.png"
    assert "line 4" in dup.reason and "'dog'" in dup.reason and "'cat'" in dup.reason
    assert "line 2" in dup.reason and "conflicting label" in dup.reason
    assert m.n_duplicates == 1


def test_csv_identical_duplicate_row_is_counted_and_skipped(tmp_path):
    m = csv_manifest(tmp_path, "a.png,cat,1,1,5,5\na.png,cat,2,2,8,8\na.png,cat,1,1,5,5\n",
                     class_names=CLASSES)
    assert m.samples[0].boxes == (Box(1, 1, 5, 5), Box(2, 2, 8, 8))
    assert m.n_duplicates == 1
    (dup,) = m.skipped
    assert "duplicate row" in dup.reason and "line 4" in dup.reason and "line 2" in dup.reason


def test_csv_duplicate_no_box_rows(tmp_path):
    m = csv_manifest(tmp_path, "a.png,cat,,,,\na.png,cat,,,,\n", class_names=CLASSES)
    assert len(m.samples) == 1 and m.n_duplicates == 1
    assert "line 3" in m.skipped[0].reason


def test_csv_box_less_row_next_to_boxed_rows_is_dropped_with_reason(tmp_path):
    m = csv_manifest(tmp_path, "a.png,cat,,,,\na.png,cat,1,1,5,5\n", class_names=CLASSES)
    assert m.samples[0].boxes == (Box(1, 1, 5, 5),)
    assert "line 2" in m.skipped[0].reason and "without a box" in m.skipped[0].reason


def test_csv_same_file_written_two_ways_is_a_duplicate(tmp_path):
    m = csv_manifest(tmp_path, "a.png,cat,,,,\n./a.png,cat,,,,\n", class_names=CLASSES)
    assert [s.sample_id for s in m.samples] == ["a.png"]
    assert m.n_duplicates == 1


def test_csv_malformed_rows(tmp_path):
    m = csv_manifest(tmp_path, "a.png,cat,,,,\nb,png,cat,1,2,3,4\n,cat,,,,\n",
                     class_names=CLASSES)
    assert len(m.samples) == 1
    fields, empty = m.skipped
    assert "line 3" in fields.reason and "7 fields" in fields.reason
    assert "line 4" in empty.reason and "image field is empty" in empty.reason


def test_csv_line_numbers_count_quoted_newlines(tmp_path):
    m = csv_manifest(tmp_path, '"a\nb.png",cat,,,,\nc.png,horse,,,,\n', class_names=CLASSES)
    assert "line 4" in m.skipped[0].reason


def test_csv_missing_file(tmp_path):
    with pytest.raises(DatasetError, match=r"nope\.csv.*does not exist"):
        load_manifest("csv", tmp_path / "nope.csv")


def test_csv_folder_instead_of_file(tmp_path):
    with pytest.raises(DatasetError, match="folder"):
        load_manifest("csv", tmp_path)


def test_csv_missing_columns_names_missing_and_found(tmp_path):
    path = write(tmp_path / "m.csv", "file,class\na.png,cat\n")
    with pytest.raises(DatasetError) as info:
        load_manifest("csv", path)
    message = str(info.value)
    assert "m.csv" in message and "'image', 'label'" in message and "'file', 'class'" in message


def test_csv_partial_box_columns(tmp_path):
    path = write(tmp_path / "m.csv", "image,label,x_min,y_min\na.png,cat,1,2\n")
    with pytest.raises(DatasetError, match="'x_max', 'y_max'"):
        load_manifest("csv", path)


@pytest.mark.parametrize("text", ["", "\n\n", HEADER])
def test_csv_empty(tmp_path, text):
    with pytest.raises(DatasetError, match=r"m\.csv.*(empty|no images)"):
        load_manifest("csv", write(tmp_path / "m.csv", text))


def test_csv_not_utf8(tmp_path):
    (tmp_path / "m.csv").write_bytes(HEADER.encode() + b"\xff\xfe\xfa.png,cat,,,,\n")
    with pytest.raises(DatasetError, match=r"m\.csv.*UTF-8"):
        load_manifest("csv", tmp_path / "m.csv")


def test_no_label_matches_the_model(tmp_path):
    with pytest.raises(DatasetError) as info:
        csv_manifest(tmp_path, "a.png,car,,,,\nb.png,bus,,,,\n", class_names=CLASSES)
    message = str(info.value)
    assert "m.csv" in message and "'car', 'bus'" in message and "'cat', 'dog', 'bird'" in message


def test_all_samples_skipped_is_a_run_level_error(tmp_path):
    with pytest.raises(DatasetError, match=r"m\.csv.*no usable sample.*inverted"):
        csv_manifest(tmp_path, "a.png,cat,9,1,2,4\n", class_names=CLASSES)


def test_unknown_format_lists_allowed(tmp_path):
    with pytest.raises(DatasetError, match="csv, jsonl, coco, voc") as info:
        load_manifest("yaml", tmp_path / "m.yaml")
    assert "m.yaml" in str(info.value)
    assert FORMATS == ("csv", "jsonl", "coco", "voc", "folder")


# ===== JSON Lines ============================================================================


def jsonl(tmp_path, lines: list, **kwargs) -> DatasetManifest:
    text = "\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n"
    return load_manifest("jsonl", write(tmp_path / "m.jsonl", text), **kwargs)


def test_jsonl_boxes_lists_dicts_and_none(tmp_path):
    m = jsonl(tmp_path, [
        {"image": "a.png", "label": "cat", "boxes": [[1, 2, 5, 6], {"x_min": 0, "y_min": 0,
                                                                     "x_max": 3, "y_max": 3}]},
        {"image": "b.png", "label": 2},
        "",
        {"image": "c.png", "label": "dog", "boxes": None},
        {"image": "d.png", "label": "1", "boxes": []},
    ], class_names=CLASSES)
    a, b, c, d = m.samples
    assert a.boxes == (Box(1, 2, 5, 6), Box(0, 0, 3, 3))
    assert (b.label, b.label_name, b.boxes) == (2, "bird", ())
    assert c.boxes == () and d.label == 1
    assert m.format == "jsonl"


def test_jsonl_malformed_lines_are_skipped_with_line_number(tmp_path):
    m = jsonl(tmp_path, [
        {"image": "a.png", "label": "cat"},
        '{"image": "b.png", "label": ',
        "[1, 2]",
        {"image": "c.png"},
        {"image": 5, "label": "cat"},
        {"image": "d.png", "label": "cat", "boxes": [[1, 2, 3]]},
        {"image": "e.png", "label": "cat", "boxes": [{"x_min": 1}]},
        {"image": "f.png", "label": "cat", "boxes": "1,2,3,4"},
        {"image": "g.png", "label": "cat", "boxes": [[1, 1, "nan", 4]]},
    ], class_names=CLASSES)
    assert [s.sample_id for s in m.samples] == ["a.png"]
    by_line = {s.reason.split(":")[0].split(",")[0]: s for s in m.skipped}
    assert "not valid JSON" in by_line["line 2"].reason
    assert by_line["line 2"].sample_id == "line 2"
    assert "JSON object" in by_line["line 3"].reason
    assert "no 'label'" in by_line["line 4"].reason
    assert "non-empty path" in by_line["line 5"].reason
    assert "4 coordinates" in by_line["line 6"].reason
    assert "'y_min'" in by_line["line 7"].reason
    assert "must be a list" in by_line["line 8"].reason
    assert "x_max" in by_line["line 9"].reason and "box 1" in by_line["line 9"].reason


def test_jsonl_repeated_image_is_a_duplicate(tmp_path):
    m = jsonl(tmp_path, [
        {"image": "a.png", "label": "cat", "boxes": [[1, 1, 4, 4]]},
        {"image": "a.png", "label": "cat", "boxes": [[1, 1, 4, 4]]},
        {"image": "a.png", "label": "dog"},
    ], class_names=CLASSES)
    assert len(m.samples) == 1 and m.n_duplicates == 2
    same, other = m.skipped
    assert "duplicate entry" in same.reason and "line 1" in same.reason
    assert "conflicting label" in other.reason and "line 3" in other.reason


def test_jsonl_no_line_has_required_key(tmp_path):
    with pytest.raises(DatasetError) as info:
        jsonl(tmp_path, [{"file": "a.png", "class": "cat"}])
    message = str(info.value)
    assert "m.jsonl" in message and "'image', 'label'" in message and "'file', 'class'" in message


def test_jsonl_missing_and_empty(tmp_path):
    with pytest.raises(DatasetError, match="does not exist"):
        load_manifest("jsonl", tmp_path / "x.jsonl")
    with pytest.raises(DatasetError, match=r"m\.jsonl.*empty"):
        load_manifest("jsonl", write(tmp_path / "m.jsonl", "\n"))


# ===== COCO ==================================================================================


def coco(tmp_path, data: dict, **kwargs) -> DatasetManifest:
    return load_manifest("coco", write(tmp_path / "coco.json", json.dumps(data)), **kwargs)


COCO_CATS = [{"id": 1, "name": "cat"}, {"id": 7, "name": "dog"}]


def test_coco_boxes_labels_and_vocabulary(tmp_path):
    m = coco(tmp_path, {
        "images": [{"id": 10, "file_name": "x/a.jpg", "width": 100, "height": 80},
                   {"id": 11, "file_name": "b.jpg", "width": 50, "height": 50}],
        "annotations": [
            {"id": 1, "image_id": 10, "category_id": 7, "bbox": [10, 20, 30, 40]},
            {"id": 2, "image_id": 10, "category_id": 7, "bbox": [0, 0, 5, 5]},
            {"id": 3, "image_id": 11, "category_id": 1},
        ],
        "categories": COCO_CATS,
    })
    assert m.class_names == ["cat", "dog"]
    a, b = m.samples
    assert (a.sample_id, a.label_name, a.label) == ("x/a.jpg", "dog", 1)
    assert a.boxes == (Box(10, 20, 40, 60), Box(0, 0, 5, 5))
    assert (b.label_name, b.boxes) == ("cat", ())
    assert a.path == os.path.join(str(tmp_path), "x", "a.jpg")


def test_coco_several_categories_largest_total_area_wins(tmp_path):
    m = coco(tmp_path, {
        "images": [{"id": 1, "file_name": "a.jpg", "width": 100, "height": 100}],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 30, 30]},   # 900
            {"id": 2, "image_id": 1, "category_id": 7, "bbox": [50, 50, 20, 20]},  # 400
            {"id": 3, "image_id": 1, "category_id": 7, "bbox": [0, 50, 25, 25]},   # 625
        ],
        "categories": COCO_CATS,
    }, class_names=["cat", "dog"])
    (a,) = m.samples
    assert a.label_name == "dog"
    assert a.boxes == (Box(50, 50, 70, 70), Box(0, 50, 25, 75))


def test_coco_per_image_problems(tmp_path):
    m = coco(tmp_path, {
        "images": [
            {"id": 1, "file_name": "ok.jpg", "width": 40, "height": 40},
            {"id": 2, "file_name": "nolabel.jpg"},
            {"id": 3, "file_name": "badcat.jpg"},
            {"id": 4, "file_name": "zero.jpg"},
            {"id": 5, "file_name": "clip.jpg", "width": 40, "height": 40},
            {"id": 6, "file_name": "out.jpg", "width": 40, "height": 40},
            {"id": 7},
            {"id": 1, "file_name": "again.jpg"},
        ],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 1, 5, 5]},
            {"id": 2, "image_id": 3, "category_id": 99, "bbox": [1, 1, 5, 5]},
            {"id": 3, "image_id": 4, "category_id": 1, "bbox": [1, 1, 0, 5]},
            {"id": 4, "image_id": 5, "category_id": 1, "bbox": [30, 30, 20, 5]},
            {"id": 5, "image_id": 6, "category_id": 1, "bbox": [45, 1, 5, 5]},
            {"id": 6, "image_id": 404, "category_id": 1, "bbox": [1, 1, 5, 5]},
        ],
        "categories": COCO_CATS,
    }, class_names=["cat", "dog"])
    assert [s.sample_id for s in m.samples] == ["ok.jpg", "clip.jpg"]
    assert m.samples[1].boxes == (Box(30, 30, 40, 35),) and m.n_boxes_clipped == 1
    text = {s.sample_id: s.reason for s in m.skipped}
    assert "no annotations" in text["nolabel.jpg"] and "no label" in text["nolabel.jpg"]
    assert "category_id 99" in text["badcat.jpg"]
    assert "zero area" in text["zero.jpg"] and "annotation id 3" in text["zero.jpg"]
    assert "entirely outside" in text["out.jpg"] and "40x40" in text["out.jpg"]
    assert "image_id 404" in text["annotation id 6"]
    assert "'file_name'" in text["image id 7"]
    assert "listed twice" in text["again.jpg"]


def test_coco_run_level_errors(tmp_path):
    with pytest.raises(DatasetError) as info:
        coco(tmp_path, {"images": [], "anns": []})
    message = str(info.value)
    assert "coco.json" in message and "'annotations', 'categories'" in message
    assert "'images', 'anns'" in message
    (tmp_path / "bad.json").write_text('{"images": [,]}')
    with pytest.raises(DatasetError, match=r"bad\.json.*not valid JSON.*line 1"):
        load_manifest("coco", tmp_path / "bad.json")
    with pytest.raises(DatasetError, match=r"coco\.json.*empty"):
        coco(tmp_path, {"images": [], "annotations": [], "categories": []})
    with pytest.raises(DatasetError, match="none of the labels"):
        coco(tmp_path, {"images": [{"id": 1, "file_name": "a.jpg"}],
                        "annotations": [{"id": 1, "image_id": 1, "category_id": 1}],
                        "categories": COCO_CATS}, class_names=["car"])


# ===== Pascal VOC ============================================================================


def voc_xml(filename, objects, size=(100, 80)) -> str:
    objs = "".join(
        f"<object><name>{name}</name><bndbox><xmin>{b[0]}</xmin><ymin>{b[1]}</ymin>"
        f"<xmax>{b[2]}</xmax><ymax>{b[3]}</ymax></bndbox></object>"
        for name, b in objects)
    return (f"<annotation><filename>{filename}</filename><size><width>{size[0]}</width>"
            f"<height>{size[1]}</height><depth>3</depth></size>{objs}</annotation>")


def voc_folder(tmp_path, files: dict[str, str]):
    root = tmp_path / "VOC"
    (root / "Annotations").mkdir(parents=True)
    (root / "JPEGImages").mkdir()
    for name, text in files.items():
        (root / "Annotations" / name).write_text(text)
    return root


def test_voc_one_based_inclusive_boxes_and_default_images_root(tmp_path):
    root = voc_folder(tmp_path, {
        "002.xml": voc_xml("002.jpg", [("dog", (1, 1, 100, 80)), ("dog", (5, 5, 5, 9))]),
        "001.xml": voc_xml("001.jpg", [("cat", (11, 21, 30, 40))]),
    })
    m = load_manifest("voc", root)
    assert m.class_names == ["cat", "dog"]
    first, second = m.samples
    assert (first.sample_id, first.label_name) == ("001.jpg", "cat")
    assert first.boxes == (Box(10, 20, 30, 40),)
    assert second.boxes == (Box(0, 0, 100, 80), Box(4, 4, 5, 9))
    assert first.path == os.path.join(str(root), "JPEGImages", "001.jpg")
    assert m.n_boxes_clipped == 0


def test_voc_largest_area_and_per_sample_problems(tmp_path):
    root = voc_folder(tmp_path, {
        "a.xml": voc_xml("a.jpg", [("cat", (1, 1, 10, 10)), ("dog", (1, 1, 50, 50)),
                                   ("dog", (60, 60, 70, 70))]),
        "broken.xml": "<annotation><filename>b.jpg</filename>",
        "empty.xml": voc_xml("e.jpg", []),
        "inverted.xml": voc_xml("i.jpg", [("cat", (30, 1, 10, 10))]),
        "nan.xml": voc_xml("n.jpg", [("cat", (1, 1, "x", 10))]),
        "out.xml": voc_xml("o.jpg", [("cat", (150, 1, 160, 10))]),
        "noname.xml": "<annotation><size><width>4</width></size></annotation>",
    })
    m = load_manifest("voc", root, class_names=["cat", "dog"])
    (a,) = m.samples
    assert a.label_name == "dog" and a.boxes == (Box(0, 0, 50, 50), Box(59, 59, 70, 70))
    text = {s.sample_id: s.reason for s in m.skipped}
    assert "does not parse" in text[os.path.join("Annotations", "broken.xml")]
    assert "no <object>" in text["e.jpg"]
    assert "inverted" in text["i.jpg"] and "Annotations" in text["i.jpg"]
    assert "<xmax>" in text["n.jpg"] and "not a number" in text["n.jpg"]
    assert "entirely outside" in text["o.jpg"]
    assert "no <filename>" in text[os.path.join("Annotations", "noname.xml")]


def test_voc_folder_of_xml_files_and_images_root(tmp_path):
    root = voc_folder(tmp_path, {"a.xml": voc_xml("a.jpg", [("cat", (1, 1, 5, 5))])})
    m = load_manifest("voc", root / "Annotations", images_root=tmp_path / "pics")
    assert m.samples[0].path == os.path.join(str(tmp_path / "pics"), "a.jpg")


def test_voc_run_level_errors(tmp_path):
    with pytest.raises(DatasetError, match="does not exist"):
        load_manifest("voc", tmp_path / "nope")
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "readme.txt").write_text("x")
    with pytest.raises(DatasetError, match=r"other.*no Annotations/.*readme\.txt"):
        load_manifest("voc", tmp_path / "other")
    with pytest.raises(DatasetError, match="a file"):
        load_manifest("voc", tmp_path / "other" / "readme.txt")
    root = voc_folder(tmp_path, {})
    with pytest.raises(DatasetError, match="no .xml file"):
        load_manifest("voc", root)


# ===== Streaming =============================================================================


class CountingReader:
    """Wraps read_image and records which paths were read, in order."""

    def __init__(self):
        self.paths: list[str] = []

    def __call__(self, path: str) -> np.ndarray:
        self.paths.append(path)
        return read_image(path)


def make_samples(tmp_path, n: int, missing=(), size=(40, 30)) -> list[Sample]:
    samples = []
    for i in range(n):
        path = str(tmp_path / f"s{i}.png")
        if i not in missing:
            png(path, size=size, color=(i * 10 % 256, 50, 100))
        samples.append(Sample(f"s{i}.png", f"s{i}.png", path, i % 3, CLASSES[i % 3],
                              (Box(1, 1, 10, 10),)))
    return samples


def stream(samples, **kwargs):
    options = {"batch_size": 4, "input_size": (8, 16), "channels": 3,
               "preprocess": Preprocessor(rescale=1 / 255)}
    options.update(kwargs)
    return iter_batches(samples, **options)


def test_stream_batches_are_model_ready(tmp_path):
    samples = make_samples(tmp_path, 6)
    batches = list(stream(samples))
    assert [b.index for b in batches] == [0, 1]
    first = batches[0]
    assert first.samples == samples[:4] and len(first) == 4
    assert first.images.dtype == np.float32 and first.images.shape == (4, 8, 16, 3)
    assert first.display.dtype == np.uint8 and first.display.shape == (4, 8, 16, 3)
    assert first.original_sizes == [(30, 40)] * 4
    np.testing.assert_allclose(first.images, first.display / 255, atol=1e-6)
    assert first.display[1, 0, 0].tolist() == [10, 50, 100]
    assert len(batches[1]) == 2


def test_stream_grayscale_model(tmp_path):
    (batch,) = stream(make_samples(tmp_path, 2), channels=1,
                      preprocess=Preprocessor(channels=1))
    assert batch.images.shape == (2, 8, 16, 1) and batch.display.shape == (2, 8, 16, 3)


def test_stream_composition_is_stable_with_unreadable_images(tmp_path):
    samples = make_samples(tmp_path, 10, missing={1, 4, 5, 6, 7})
    batches = list(stream(samples))
    assert [b.index for b in batches] == [0, 1, 2]
    assert [s.sample_id for s in batches[0].samples] == ["s0.png", "s2.png", "s3.png"]
    assert [s.sample_id for s in batches[0].skipped] == ["s1.png"]
    assert "not found" in batches[0].skipped[0].reason
    empty = batches[1]
    assert len(empty) == 0 and len(empty.skipped) == 4
    assert empty.images.shape == (0, 8, 16, 3) and empty.display.shape == (0, 8, 16, 3)
    assert [s.sample_id for s in batches[2].samples] == ["s8.png", "s9.png"]
    assert len(batches[0].original_sizes) == len(batches[0].samples)
    assert n_batches(len(samples), 4) == 3


def test_stream_start_batch_skips_without_reading(tmp_path):
    samples = make_samples(tmp_path, 10)
    reader = CountingReader()
    resumed = list(stream(samples, start_batch=1, reader=reader))
    assert [b.index for b in resumed] == [1, 2]
    assert reader.paths == [s.path for s in samples[4:]]
    full = list(stream(samples))
    for a, b in zip(full[1:], resumed, strict=True):
        assert a.samples == b.samples
        np.testing.assert_array_equal(a.images, b.images)
    assert list(stream(samples, start_batch=3)) == []


def test_stream_reads_lazily_one_batch_at_a_time(tmp_path):
    samples = make_samples(tmp_path, 9)
    reader = CountingReader()
    batches = stream(samples, batch_size=3, reader=reader)
    assert reader.paths == []  # nothing read before the first batch is asked for
    next(batches)
    assert len(reader.paths) == 3
    next(batches)
    assert len(reader.paths) == 6


def test_stream_boxes_checked_against_the_decoded_image(tmp_path):
    png(tmp_path / "a.png", size=(20, 10))
    png(tmp_path / "b.png", size=(20, 10))
    png(tmp_path / "c.png", size=(20, 10))
    samples = [
        Sample("a.png", "a.png", str(tmp_path / "a.png"), 0, "cat", (Box(15, 5, 30, 12),)),
        Sample("b.png", "b.png", str(tmp_path / "b.png"), 0, "cat",
               (Box(1, 1, 4, 4), Box(25, 1, 30, 5))),
        Sample("c.png", "c.png", str(tmp_path / "c.png"), 0, "cat", ()),
    ]
    stats = StreamStats()
    (batch,) = stream(samples, stats=stats)
    assert [s.sample_id for s in batch.samples] == ["a.png", "c.png"]
    assert batch.samples[0].boxes == (Box(15, 5, 20, 10),)
    assert stats.n_boxes_clipped == 1 and stats.n_images_read == 3
    (skip,) = batch.skipped
    assert skip.sample_id == "b.png" and "entirely outside" in skip.reason
    assert "20x10" in skip.reason and "1 of 2 boxes" in skip.reason


def test_stream_exif_rotation_sets_original_size(tmp_path):
    img = Image.new("RGB", (40, 20), (200, 0, 0))
    exif = Image.Exif()
    exif[0x0112] = 6
    img.save(tmp_path / "r.jpg", exif=exif)
    sample = Sample("r.jpg", "r.jpg", str(tmp_path / "r.jpg"), 0, "cat", (Box(0, 30, 20, 40),))
    (batch,) = stream([sample])
    assert batch.original_sizes == [(40, 20)]
    assert batch.samples == [sample]  # box valid in the displayed (rotated) orientation


def test_stream_corrupt_image_is_skipped(tmp_path):
    (tmp_path / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    sample = Sample("bad.png", "bad.png", str(tmp_path / "bad.png"), 0, "cat")
    (batch,) = stream([sample])
    assert len(batch) == 0 and "bad.png" in batch.skipped[0].reason


@pytest.mark.parametrize("kwargs", [{"batch_size": 0}, {"start_batch": -1}, {"channels": 2},
                                    {"input_size": (0, 4)}, {"input_size": "big"}])
def test_stream_rejects_bad_arguments(tmp_path, kwargs):
    with pytest.raises(ValueError):
        next(stream([], **kwargs))


def test_stream_checks_preprocess_output_shape(tmp_path):
    with pytest.raises(ValueError, match="preprocessing returned shape"):
        next(stream(make_samples(tmp_path, 1), preprocess=lambda x: x[..., :2]))


def test_read_error_is_not_raised_by_the_stream(tmp_path):
    def broken(path):
        raise ImageReadError(f"image {path} is broken")

    (batch,) = stream(make_samples(tmp_path, 2), reader=broken)
    assert [s.reason for s in batch.skipped] == [
        f"image could not be read: image {s.path} is broken" for s in make_samples(tmp_path, 2)]


# ===== Properties of the shared manifest logic ===============================================

finite = st.floats(-1000, 1000, allow_nan=False, allow_infinity=False)
sizes = st.tuples(st.integers(1, 500), st.integers(1, 500))


@settings(max_examples=200, deadline=None)
@given(finite, finite, finite, finite)
def test_parse_box_accepts_exactly_ordered_corners(x0, y0, x1, y1):
    if x0 < x1 and y0 < y1:
        assert parse_box([x0, y0, str(x1), y1], "line 2") == Box(x0, y0, x1, y1)
        return
    with pytest.raises(BoxError) as info:
        parse_box([x0, y0, str(x1), y1], "line 2")
    assert info.value.reason.startswith("line 2: box ")
    assert isinstance(info.value, SampleError) and isinstance(info.value, ValueError)
    if x1 < x0:
        assert info.value.reason == (
            f"line 2: box is inverted: x_max ({x1:g}) is smaller than x_min ({x0:g}); "
            "expected x_min < x_max (corners, not width)")
    elif x1 == x0:
        assert info.value.reason == (
            f"line 2: box has zero area: x_min and x_max are both {x0:g} (zero width)")


@settings(max_examples=50, deadline=None)
@given(st.sampled_from(["nan", "inf", "-inf", "", "1,5", "abc", None, True, [1]]),
       st.integers(0, 3))
def test_parse_box_rejects_non_numbers(bad, position):
    values: list = [1, 2, 3, 4]
    values[position] = bad
    with pytest.raises(BoxError) as info:
        parse_box(values, "line 9")
    name = ("x_min", "y_min", "x_max", "y_max")[position]
    expected = {
        "nan": f"line 9: box coordinate {name} is 'nan'; coordinates must be finite numbers",
        "": f"line 9: box coordinate {name} is empty",
        None: f"line 9: box coordinate {name} is empty",
        "abc": f"line 9: box coordinate {name} is 'abc', not a number",
        True: f"line 9: box coordinate {name} is True, not a number",
    }
    if isinstance(bad, str | bool) or bad is None:
        if bad in expected:
            assert info.value.reason == expected[bad]
    assert info.value.reason.startswith(f"line 9: box coordinate {name} is ")


@settings(max_examples=300, deadline=None)
@given(finite, finite, st.floats(0.001, 800), st.floats(0.001, 800), sizes)
def test_fit_box_clips_into_the_image(x0, y0, w, h, size):
    box = Box(x0, y0, x0 + w, y0 + h)
    assert check_box(box, "x") == box
    fitted, changed = fit_box(box, size)
    height, width = size
    overlaps = box.x_min < width and box.x_max > 0 and box.y_min < height and box.y_max > 0
    if not overlaps:
        assert fitted is None
        return
    assert fitted is not None
    assert 0 <= fitted.x_min < fitted.x_max <= width
    assert 0 <= fitted.y_min < fitted.y_max <= height
    assert box.x_min <= fitted.x_min and fitted.x_max <= box.x_max
    assert box.y_min <= fitted.y_min and fitted.y_max <= box.y_max
    inside = box.x_min >= 0 and box.y_min >= 0 and box.x_max <= width and box.y_max <= height
    assert changed == (not inside)
    assert (fitted == box) == inside
    assert fit_box(fitted, size) == (fitted, False)  # idempotent


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(finite, finite, st.floats(0.5, 300), st.floats(0.5, 300)),
                max_size=5), sizes)
def test_apply_image_size_keeps_or_skips_whole_sample(raw, size):
    boxes = tuple(Box(x, y, x + w, y + h) for x, y, w, h in raw)
    sample = Sample("a", "a", "a", 0, "cat", boxes)
    fits = [fit_box(b, size) for b in boxes]
    if any(f is None for f, _ in fits):
        with pytest.raises(BoxError) as info:
            apply_image_size(sample, size)
        n_inside = sum(f is not None for f, _ in fits)
        lost = "no box is left" if not n_inside else f"{n_inside} of {len(boxes)} boxes are usable"
        assert "entirely outside" in info.value.reason
        assert info.value.reason.endswith(
            f" ({lost}; a sample with a broken box is skipped as a whole)")
    else:
        result, n_clipped = apply_image_size(sample, size)
        assert isinstance(result, Sample)
        assert result.boxes == tuple(f for f, _ in fits)
        assert n_clipped == sum(changed for _, changed in fits)


names = st.text(st.characters(codec="ascii", categories=["L", "N", "P"]), min_size=1,
                max_size=8)


@settings(max_examples=200, deadline=None)
@given(st.lists(names, min_size=1, max_size=15, unique=True), st.data())
def test_match_label_by_name_then_index(class_names, data):
    i = data.draw(st.integers(0, len(class_names) - 1))
    assert match_label(class_names[i], class_names) == i
    assert match_label(f"  {class_names[i]} ", class_names) == i
    if str(i) not in class_names:
        assert match_label(i, class_names) == i
        assert match_label(str(i), class_names) == i
    n = len(class_names)
    for bad in (n, -1):
        if str(bad) not in class_names:
            with pytest.raises(LabelError, match="out of range"):
                match_label(bad, class_names)
    with pytest.raises(LabelError) as info:
        match_label(True, class_names)
    assert info.value.reason == (
        "label True (bool) is neither a class name nor an integer class index")
    with pytest.raises(LabelError, match=r"^label 1\.0 \(float\) is neither"):
        match_label(1.0, class_names)
    with pytest.raises(LabelError) as info:
        match_label(None, class_names)
    assert info.value.reason == "no label is given"
    unknown = data.draw(names.filter(  # neither a name nor an integer spelling ("-0", "+3")
        lambda s: s not in class_names and not re.fullmatch(r"[+-]?[0-9]+", s.strip())))
    with pytest.raises(LabelError) as info:
        match_label(unknown, class_names)
    assert repr(unknown) in info.value.reason


@settings(max_examples=100, deadline=None)
@given(st.lists(st.one_of(st.integers(0, 30), st.integers(0, 30).map(str)), min_size=1))
def test_index_vocabulary_names_each_index(labels):
    vocab = label_vocabulary(labels)
    assert len(vocab) == max(int(x) for x in labels) + 1
    for label in labels:
        index = match_label(label, vocab)
        assert index == int(label) and vocab[index] == str(int(label))


@settings(max_examples=100, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.sampled_from("abcde"), st.sampled_from(["cat", "dog", "emu"])),
                min_size=1, max_size=20))
def test_grouping_keeps_first_appearance_and_first_label(tmp_path, rows):
    entries = [RawEntry(image=f"{img}.png", label=lab, where=f"line {n + 2}")
               for n, (img, lab) in enumerate(rows)]
    first: dict[str, str] = {}
    for img, lab in rows:
        first.setdefault(f"{img}.png", lab)
    if all(lab == "emu" for lab in first.values()):
        with pytest.raises(DatasetError):
            build_manifest(entries, path="m.csv", format="csv", images_root=str(tmp_path),
                           class_names=["cat", "dog"])
        return
    m = build_manifest(entries, path="m.csv", format="csv", images_root=str(tmp_path),
                       class_names=["cat", "dog"])
    expected = [(img, lab) for img, lab in first.items() if lab != "emu"]
    assert [(s.sample_id, s.label_name) for s in m.samples] == expected
    # every entry is either the first one of a kept sample or accounted for in skipped
    assert len(m.samples) + len(m.skipped) == len(entries)
    assert m.n_duplicates == len(entries) - len(first)


def test_dominant_label_ties_go_to_first():
    assert dominant_label([("a", 4.0), ("b", 3.0), ("b", 1.0)]) == "a"
    assert dominant_label([("a", 1.0), ("b", 2.0)]) == "b"
    assert dominant_label([("a", math.nan), ("b", 0.0)]) == "a"


@pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")
@pytest.mark.parametrize("module", ["audit.datasets.labels", "audit.datasets.boxes",
                                    "audit.datasets.stream", "audit.datasets.masks",
                                    "audit.datasets.types"])
def test_docstring_examples(module):
    result = doctest.testmod(importlib.import_module(module))
    assert result.attempted > 0 and result.failed == 0
