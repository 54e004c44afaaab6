"""Segmentation masks and per-sample metadata, from real files written here.

Pixel counts are worked out by hand in the comments; masks are (height, width), pixel-edge
coordinates as boxes (a polygon 1,1 5,1 5,4 1,4 covers columns 1..4 of rows 1..3).
"""

from __future__ import annotations

import json
import os
import pickle
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from pycocotools import mask as coco_mask

from audit.datasets import (
    BatchLoader,
    Box,
    DatasetManifest,
    MaskError,
    Meta,
    PngMask,
    PolygonMask,
    Preprocessor,
    RleMask,
    Sample,
    SkippedSample,
    batch_specs,
    decode_mask,
    iter_batches,
    load_manifest,
)
from audit.errors import DatasetError

# pycocotools' compiled decode (2.0.x) trips a NumPy 2 deprecation about __array__(copy=...).
pytestmark = pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning")

BROKEN_MASK = " (a sample with a broken mask is skipped as a whole; fix or remove the mask)"


def rgb(path, width, height, fmt=None) -> str:
    os.makedirs(os.path.dirname(str(path)), exist_ok=True)
    Image.new("RGB", (width, height), (90, 120, 30)).save(path, fmt)
    return str(path)


def gray_png(path, array) -> str:
    os.makedirs(os.path.dirname(str(path)), exist_ok=True)
    Image.fromarray(np.asarray(array, dtype=np.uint8)).save(path)  # mode L
    return str(path)


def load_all(manifest: DatasetManifest, batch_size: int = 16):
    """Load every sample in one batch; return the batch."""
    (batch,) = (BatchLoader((4, 4), 3, Preprocessor())(spec) for spec in
                batch_specs(manifest.samples, batch_size=batch_size))
    return batch


def by_id(batch):
    return {s.sample_id: m for s, m in zip(batch.samples, batch.masks, strict=True)}


def compressed(mask: np.ndarray) -> dict:
    rle = coco_mask.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": [int(v) for v in rle["size"]], "counts": rle["counts"].decode("ascii")}


def uncompressed(mask: np.ndarray) -> dict:
    """COCO uncompressed RLE: column-major run lengths, starting with a run of zeros."""
    flat = mask.astype(np.uint8).flatten(order="F")
    changes = np.flatnonzero(np.diff(flat)) + 1
    edges = np.concatenate([[0], changes, [flat.size]])
    runs = np.diff(edges).tolist()
    if flat[0]:
        runs = [0, *runs]
    return {"size": list(mask.shape), "counts": runs}


# ===== COCO ==================================================================================


def coco_dataset(tmp_path):
    rgb(tmp_path / "a.png", 12, 10)
    rgb(tmp_path / "b.png", 6, 5)
    for name in ("c.png", "d.png", "e.png", "f.png", "g.png"):
        rgb(tmp_path / name, 6, 5)
    rle_a = np.zeros((10, 12), bool)
    rle_a[6:9, 6:10] = True  # rows 6..8, columns 6..9: 12 pixels
    rle_b = np.zeros((5, 6), bool)
    rle_b[0:2, 0:3] = True  # 6 pixels
    rle_b[4, 5] = True  # +1 (last pixel: the runs end on a run of ones)
    bad_runs = uncompressed(np.zeros((5, 6), bool))
    bad_runs["counts"] = [29]  # 29 of 30 pixels
    data = {
        "images": [
            {"id": 1, "file_name": "a.png", "width": 12, "height": 10, "license": 3,
             "coco_url": "http://x/a.png", "flickr_url": None},
            {"id": 2, "file_name": "b.png", "width": 6, "height": 5},
            {"id": 3, "file_name": "c.png"}, {"id": 4, "file_name": "d.png"},
            {"id": 5, "file_name": "e.png"}, {"id": 6, "file_name": "f.png"},
            {"id": 7, "file_name": "g.png", "site": "north"},
        ],
        "annotations": [
            # a.png: three cat objects (polygon, compressed RLE, polygon in two parts) and a
            # small dog with a broken polygon, which is not kept and so does not matter.
            {"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 1, 4, 3],
             "segmentation": [[1, 1, 5, 1, 5, 4, 1, 4]]},  # columns 1..4, rows 1..3: 12
            {"id": 2, "image_id": 1, "category_id": 1, "bbox": [6, 6, 4, 3],
             "segmentation": compressed(rle_a)},  # 12
            {"id": 3, "image_id": 1, "category_id": 1, "bbox": [3, 2, 4, 1],
             "segmentation": [[3, 2, 7, 2, 7, 3, 3, 3], [0, 9, 2, 9, 2, 10, 0, 10]]},
            # row 2, columns 3..6 (5 and 6 are new: +2) and row 9, columns 0..1 (+2)
            {"id": 4, "image_id": 1, "category_id": 7, "bbox": [0, 0, 1, 1],
             "segmentation": [[0, 0, 1, 1]]},
            {"id": 5, "image_id": 2, "category_id": 7, "bbox": [0, 0, 3, 2],
             "segmentation": uncompressed(rle_b)},
            {"id": 7, "image_id": 3, "category_id": 1, "segmentation": [[0, 0, 2, 2]]},
            {"id": 8, "image_id": 4, "category_id": 1, "bbox": [0, 0, 2, 2],
             "segmentation": compressed(np.ones((4, 6), bool))},
            {"id": 9, "image_id": 5, "category_id": 1, "bbox": [0, 0, 2, 2],
             "segmentation": [[0, 0, 2, 0, 2, 2]]},
            {"id": 10, "image_id": 5, "category_id": 1, "bbox": [3, 3, 2, 2]},
            {"id": 11, "image_id": 6, "category_id": 1, "segmentation": bad_runs},
            {"id": 12, "image_id": 7, "category_id": 1, "bbox": [1, 1, 2, 2],
             "segmentation": []},
        ],
        "categories": [{"id": 1, "name": "cat"}, {"id": 7, "name": "dog"}],
    }
    path = tmp_path / "coco.json"
    path.write_text(json.dumps(data))
    return load_manifest("coco", path, class_names=["cat", "dog"]), rle_a, rle_b


def test_coco_polygons_and_both_rle_forms(tmp_path):
    m, rle_a, rle_b = coco_dataset(tmp_path)
    assert [s.sample_id for s in m.samples] == ["a.png", "b.png", "d.png", "g.png"]
    a = m.samples[0]
    assert a.label_name == "cat" and len(a.masks) == 3
    assert a.masks[0] == PolygonMask(((1.0, 1.0, 5.0, 1.0, 5.0, 4.0, 1.0, 4.0),),
                                     "annotation id 1")
    assert isinstance(a.masks[1], RleMask) and isinstance(a.masks[1].counts, str)
    assert isinstance(m.samples[1].masks[0].counts, tuple)  # uncompressed, kept as runs
    assert m.samples[3].masks == ()  # "segmentation": [] is no mask

    batch = load_all(m)
    masks = by_id(batch)
    assert [s.sample_id for s in batch.samples] == ["a.png", "b.png", "g.png"]
    assert masks["a.png"].dtype == bool and masks["a.png"].shape == (10, 12)
    assert batch.original_sizes[0] == (10, 12)
    assert int(masks["a.png"].sum()) == 12 + 12 + 2 + 2
    expected = np.zeros((10, 12), bool)
    expected[1:4, 1:5] = True
    expected[2, 3:7] = True
    expected[9, 0:2] = True
    np.testing.assert_array_equal(masks["a.png"], expected | rle_a)
    np.testing.assert_array_equal(masks["b.png"], rle_b)
    assert int(masks["b.png"].sum()) == 7
    assert masks["g.png"] is None
    assert batch.skipped == [SkippedSample("d.png", "d.png", (
        "mask does not fit its image: annotation id 8: the RLE mask is 6x4 (width x height) "
        "but the image decodes to 6x5"))]


def test_uncompressed_rle_written_here_is_what_pycocotools_encodes(tmp_path):
    _, rle_a, rle_b = coco_dataset(tmp_path)
    for mask in (rle_a, rle_b):
        unc = uncompressed(mask)
        ours = coco_mask.frPyObjects(unc, *unc["size"])
        assert ours["counts"].decode() == compressed(mask)["counts"]


def test_coco_mask_problems_skip_the_sample_at_load(tmp_path):
    m, _, _ = coco_dataset(tmp_path)
    assert m.skipped == [
        SkippedSample("c.png", "c.png", "annotation id 7: segmentation polygon 1 has 2 point(s); "
                                        "a polygon needs at least 3" + BROKEN_MASK),
        SkippedSample("e.png", "e.png", (
            "annotation id 10: the object has no mask while annotation id 9 has one; the mask "
            "of the image would not cover all its 'cat' objects" + BROKEN_MASK)),
        SkippedSample("f.png", "f.png", (
            "annotation id 11: RLE runs add up to 29 pixels, but its size 6x5 (width x height) "
            "has 30" + BROKEN_MASK)),
    ]


def test_coco_images_fields_become_meta(tmp_path):
    m, _, _ = coco_dataset(tmp_path)
    a, b, _, g = m.samples
    assert a.meta == {"license": "3", "coco_url": "http://x/a.png", "flickr_url": "null"}
    assert list(a.meta) == ["license", "coco_url", "flickr_url"]
    assert b.meta == {} and g.meta == {"site": "north"}
    assert m.dropped_meta == {}


def test_coco_masks_need_pycocotools_at_load(tmp_path, monkeypatch):
    coco_dataset(tmp_path)
    monkeypatch.setitem(sys.modules, "pycocotools.mask", None)
    with pytest.raises(DatasetError, match=r"coco\.json has segmentation masks.*pip install "
                                           r"pycocotools"):
        load_manifest("coco", tmp_path / "coco.json")


@pytest.mark.parametrize(("segmentation", "reason"), [
    ({"counts": "abc"}, "annotation id 1: an RLE segmentation needs 'counts' and 'size'; 'size' "
                        "missing (keys: 'counts')"),
    ({"counts": [30], "size": [5]}, "annotation id 1: RLE size must be [height, width] (two "
                                    "positive integers), got [5]"),
    ({"counts": [30, -1, 1], "size": [5, 6]}, "annotation id 1: RLE counts must be a string or "
                                              "a list of non-negative integers, got [30, -1, 1]"),
    ({"counts": "0 ", "size": [5, 6]}, "annotation id 1: RLE counts string has the character "
                                       "' ' at position 1; it is not a COCO compressed RLE"),
    ({"counts": "j", "size": [5, 6]}, "annotation id 1: RLE counts string ends in the middle of "
                                      "a number; it is not a COCO compressed RLE"),
    ([[0, 0, 4, 0, 4]], "annotation id 1: segmentation polygon 1 has an odd number of "
                        "coordinates (5); expected x, y pairs"),
    ([[0, 0, 4, 0, "x", 4]], "annotation id 1: segmentation polygon 1 has coordinate 'x'; "
                             "coordinates must be finite numbers"),
    ([3, 4], "annotation id 1: segmentation polygon 1 must be a list [x1, y1, x2, y2, ...], "
             "got 3"),
    ("polygon", "annotation id 1: segmentation must be a list of polygons or an RLE object "
                "with 'counts' and 'size', got str 'polygon'"),
])
def test_coco_malformed_segmentation(tmp_path, segmentation, reason):
    data = {"images": [{"id": 1, "file_name": "a.png"}, {"id": 2, "file_name": "b.png"}],
            "annotations": [{"id": 1, "image_id": 1, "category_id": 1,
                             "segmentation": segmentation},
                            {"id": 2, "image_id": 2, "category_id": 1}],
            "categories": [{"id": 1, "name": "cat"}]}
    (tmp_path / "c.json").write_text(json.dumps(data))
    m = load_manifest("coco", tmp_path / "c.json")
    assert m.skipped == [SkippedSample("a.png", "a.png", reason + BROKEN_MASK)]


# ===== Pascal VOC ============================================================================


def voc_xml(filename, objects) -> str:
    objs = "".join(
        f"<object><name>{name}</name><bndbox><xmin>{b[0]}</xmin><ymin>{b[1]}</ymin>"
        f"<xmax>{b[2]}</xmax><ymax>{b[3]}</ymax></bndbox></object>" for name, b in objects)
    return (f"<annotation><filename>{filename}</filename><size><width>10</width>"
            f"<height>8</height></size>{objs}</annotation>")


def palette_png(path, indices: np.ndarray) -> str:
    os.makedirs(os.path.dirname(str(path)), exist_ok=True)
    height, width = indices.shape
    img = Image.frombytes("P", (width, height), indices.astype(np.uint8).tobytes())
    palette = [0, 0, 0, 128, 0, 0, 0, 128, 0, 128, 128, 0] + [0, 0, 0] * 251 + [224, 224, 192]
    img.putpalette(palette)
    img.save(path)
    return str(path)


def test_voc_segmentation_object_instances(tmp_path):
    root = tmp_path / "VOC"
    (root / "Annotations").mkdir(parents=True)
    objects = [("dog", (1, 1, 4, 3)), ("cat", (6, 1, 7, 2)), ("dog", (2, 6, 9, 8))]
    (root / "Annotations" / "001.xml").write_text(voc_xml("001.jpg", objects))
    (root / "Annotations" / "002.xml").write_text(voc_xml("002.jpg", [("cat", (1, 1, 5, 5))]))
    (root / "Annotations" / "003.xml").write_text(voc_xml("003.jpg", [("cat", (1, 1, 5, 5))]))
    for name in ("001", "002", "003"):
        rgb(root / "JPEGImages" / f"{name}.jpg", 10, 8, "JPEG")
    indices = np.zeros((8, 10), np.uint8)
    indices[0:3, 0:4] = 1  # object 1 (dog): 12 pixels ...
    indices[0:3, 4] = 255  # ... with a void band beside it: 3 pixels, not object
    indices[0:2, 5:7] = 2  # object 2 (cat): 4 pixels, another class
    indices[5:8, 1:9] = 3  # object 3 (dog): 24 pixels
    indices[5, 1:9] = 255  # its boundary, void: 8 pixels fewer
    palette_png(root / "SegmentationObject" / "001.png", indices)
    palette_png(root / "SegmentationObject" / "003.png", np.zeros((4, 4), np.uint8))

    m = load_manifest("voc", root)
    first, second, third = m.samples
    png = os.path.abspath(str(root / "SegmentationObject" / "001.png"))
    assert first.label_name == "dog"
    assert first.masks == (PngMask(png, 1), PngMask(png, 3))
    assert second.masks == () and first.meta == {} and second.meta == {}
    batch = load_all(m)
    masks = by_id(batch)
    assert int(masks["001.jpg"].sum()) == 12 + 24 - 8
    np.testing.assert_array_equal(masks["001.jpg"], (indices == 1) | (indices == 3))
    assert masks["002.jpg"] is None
    assert [s.sample_id for s in batch.samples] == ["001.jpg", "002.jpg"]
    path = os.path.abspath(str(root / "SegmentationObject" / "003.png"))
    assert batch.skipped == [SkippedSample("003.jpg", "003.jpg", (
        f"mask does not fit its image: mask file {path} is 4x4 (width x height) but the image "
        "decodes to 10x8"))]


def test_voc_without_segmentation_folder_has_no_masks(tmp_path):
    root = tmp_path / "VOC"
    (root / "Annotations").mkdir(parents=True)
    (root / "Annotations" / "a.xml").write_text(voc_xml("a.jpg", [("cat", (1, 1, 5, 5))]))
    rgb(root / "JPEGImages" / "a.jpg", 10, 8, "JPEG")
    m = load_manifest("voc", root)
    assert m.samples[0].masks == ()
    assert load_all(m).masks == [None]


# ===== CSV ===================================================================================


def test_csv_mask_column_meta_columns_and_union(tmp_path):
    rgb(tmp_path / "img" / "a.png", 8, 6)
    rgb(tmp_path / "img" / "b.png", 8, 6)
    rgb(tmp_path / "img" / "c.png", 8, 6)
    whole = np.zeros((6, 8), np.uint8)
    whole[1:3, 1:4] = 255  # 6 pixels
    whole[4, 6] = 1  # any non-zero value: +1
    gray_png(tmp_path / "masks" / "a.png", whole)
    extra = np.zeros((6, 8), np.uint8)
    extra[5, 0:8] = 9  # 8 pixels
    gray_png(tmp_path / "masks" / "c_extra.png", extra)
    (tmp_path / "m.csv").write_text(
        "image,label,x_min,y_min,x_max,y_max,Mask, Site ,note,Site\n"
        "img/a.png,cat,1,1,4,3,masks/a.png,north,first box,ignored\n"
        "img/a.png,cat,6,4,7,5,masks/a.png,north,second box,\n"
        "img/b.png,dog,1,1,2,2,,south,,\n"
        "img/c.png,cat,,,,,masks/a.png,,,\n"
        "img/c.png,cat,,,,,masks/c_extra.png,east,,\n"
    )
    m = load_manifest("csv", tmp_path / "m.csv", class_names=["cat", "dog"])
    a, b, c = m.samples
    assert a.masks == (PngMask(str(tmp_path / "masks" / "a.png")),)  # the same file once
    assert b.masks == ()
    assert c.masks == (PngMask(str(tmp_path / "masks" / "a.png")),
                       PngMask(str(tmp_path / "masks" / "c_extra.png")))
    # 'note' differs between the rows of a.png: it describes the rows, so it is dropped
    assert m.dropped_meta == {
        "note": "image 'img/a.png' has 'note' 'first box' at line 2 but 'second box' at line 3"}
    assert a.meta == {"Site": "north"} and b.meta == {"Site": "south"}
    assert c.meta == {"Site": "east"}  # the empty cell of line 5 does not count
    assert m.skipped == [] and m.n_duplicates == 0
    masks = by_id(load_all(m))
    assert int(masks["img/a.png"].sum()) == 7 and masks["img/b.png"] is None
    assert int(masks["img/c.png"].sum()) == 7 + 8
    np.testing.assert_array_equal(masks["img/c.png"], (whole > 0) | (extra > 0))


def test_csv_mask_read_problems_skip_from_the_batch(tmp_path):
    for name in ("a", "b", "c", "d"):
        rgb(tmp_path / f"{name}.png", 8, 6)
    gray_png(tmp_path / "small.png", np.ones((3, 4)))
    (tmp_path / "bad.png").write_bytes(b"not an image")
    (tmp_path / "m.csv").write_text(
        "image,label,mask\n"
        "a.png,cat,missing.png\nb.png,cat,small.png\nc.png,cat,bad.png\nd.png,cat,\n")
    m = load_manifest("csv", tmp_path / "m.csv")
    batch = load_all(m)
    assert [s.sample_id for s in batch.samples] == ["d.png"] and batch.masks == [None]
    assert batch.skipped == [
        SkippedSample("a.png", "a.png", "mask could not be read: mask file not found: "
                                        f"{tmp_path / 'missing.png'}"),
        SkippedSample("b.png", "b.png", f"mask does not fit its image: mask file "
                                        f"{tmp_path / 'small.png'} is 4x3 (width x height) but "
                                        "the image decodes to 8x6"),
        SkippedSample("c.png", "c.png", f"mask could not be read: mask file "
                                        f"{tmp_path / 'bad.png'} is not in an image format "
                                        "Pillow can read"),
    ]


def test_csv_rows_that_add_a_mask_are_not_duplicates(tmp_path):
    (tmp_path / "m.csv").write_text(
        "image,label,x_min,y_min,x_max,y_max,mask\n"
        "a.png,cat,1,1,4,4,\n"
        "a.png,cat,1,1,4,4,m.png\n"   # same box, but a new mask: kept
        "a.png,cat,1,1,4,4,m.png\n"   # nothing new: a duplicate row, as before
        "a.png,cat,,,,,\n")           # nothing new
    m = load_manifest("csv", tmp_path / "m.csv")
    (a,) = m.samples
    assert a.boxes == (Box(1, 1, 4, 4),) and a.masks == (PngMask(str(tmp_path / "m.png")),)
    assert [s.reason for s in m.skipped] == [
        "line 4: duplicate row: image 'a.png' with box (1, 1, 4, 4) is already listed at line "
        "2; the first row is kept and this one is ignored",
        "line 5: duplicate row: image 'a.png' is listed again without a box (first at line 2); "
        "the row is ignored",
    ]


# ===== JSON Lines ============================================================================


def test_jsonl_mask_and_meta(tmp_path):
    rgb(tmp_path / "a.png", 5, 4)
    rgb(tmp_path / "b.png", 5, 4)
    mask = np.zeros((4, 5), np.uint8)
    mask[1:3, 2:5] = 200  # 6 pixels
    gray_png(tmp_path / "m" / "a.png", mask)
    lines = [
        {"image": "a.png", "label": "cat", "mask": "m/a.png",
         "meta": {"site": "A", "age": 41, "seen": True, "tags": ["x", "y"]}},
        {"image": "b.png", "label": "cat", "mask": None, "meta": {}},
        {"image": "c.png", "label": "cat", "mask": ["m/a.png"]},
        {"image": "d.png", "label": "cat", "meta": ["site", "A"]},
    ]
    (tmp_path / "m.jsonl").write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    m = load_manifest("jsonl", tmp_path / "m.jsonl")
    a, b = m.samples
    assert a.masks == (PngMask(str(tmp_path / "m" / "a.png")),) and b.masks == ()
    assert a.meta == Meta({"site": "A", "age": "41", "seen": "true", "tags": '["x","y"]'})
    assert b.meta == {}
    assert m.skipped == [
        SkippedSample("c.png", "c.png", "line 3: 'mask' must be the path of a PNG file, got list "
                                        "['m/a.png']" + BROKEN_MASK),
        SkippedSample("d.png", "d.png", "line 4: 'meta' must be an object of field names to "
                                        "values, got list ['site', 'A']; the line is skipped"),
    ]
    masks = by_id(load_all(m))
    assert int(masks["a.png"].sum()) == 6 and masks["b.png"] is None


# ===== Types: Meta, mask sources, pickling ===================================================


def test_meta_is_a_frozen_hashable_mapping():
    meta = Meta([("b", "2"), ("a", "1")])
    assert list(meta) == ["b", "a"] and meta["a"] == "1" and meta.get("z") is None
    assert meta == {"a": "1", "b": "2"} == Meta({"a": "1", "b": "2"})
    assert hash(meta) == hash(Meta({"a": "1", "b": "2"}))
    assert pickle.loads(pickle.dumps(meta)) == meta
    with pytest.raises(TypeError, match="; got 'n': 3"):
        Meta({"n": 3})
    with pytest.raises(TypeError):
        meta["c"] = "3"  # type: ignore[index]
    sample = Sample("a", "a", "/a", 0, "cat", meta={"site": "A"})
    assert isinstance(sample.meta, Meta) and hash(sample) == hash(
        Sample("a", "a", "/a", 0, "cat", meta=Meta({"site": "A"})))
    assert Sample("a", "a", "/a", 0, "cat").meta == {}


def test_samples_with_masks_pickle_and_batch_through_iter_batches(tmp_path):
    m, _, _ = coco_dataset(tmp_path)
    specs = batch_specs(m.samples, batch_size=2, skipped=m.skipped)
    assert pickle.loads(pickle.dumps(specs)) == specs
    loader = BatchLoader((4, 4), 3, Preprocessor())
    streamed = list(iter_batches(m.samples, batch_size=2, input_size=(4, 4), channels=3,
                                 preprocess=Preprocessor()))
    for spec, batch in zip(specs, streamed, strict=True):
        loaded = pickle.loads(pickle.dumps(loader))(pickle.loads(pickle.dumps(spec)))
        assert loaded.samples == batch.samples
        assert len(loaded.masks) == len(loaded.samples)
        for x, y in zip(loaded.masks, batch.masks, strict=True):
            assert (x is None and y is None) or np.array_equal(x, y)


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 30), st.integers(1, 30), st.data())
def test_rle_masks_decode_to_what_was_encoded(height, width, data):
    bits = data.draw(st.lists(st.booleans(), min_size=height * width,
                              max_size=height * width))
    mask = np.array(bits, dtype=bool).reshape(height, width)
    for rle in (compressed(mask), uncompressed(mask)):
        source = RleMask(rle["counts"], rle["size"], "annotation id 1")
        np.testing.assert_array_equal(decode_mask([source], (height, width)), mask)
    text = compressed(mask)["counts"]
    with pytest.raises(MaskError, match="annotation id 2: RLE"):
        RleMask(text + "1", (height, width), "annotation id 2")  # one run too many


def test_decode_mask_without_sources_is_none():
    assert decode_mask([], (3, 3)) is None
    with pytest.raises(MaskError, match="has no polygon"):
        PolygonMask((), "annotation id 3")
