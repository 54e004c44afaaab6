"""dataset.format: folder, the layout of keras.utils.image_dataset_from_directory."""

from __future__ import annotations

import pytest
from PIL import Image

from audit.datasets import load_manifest
from audit.errors import DatasetError


def _tree(root, files):
    for rel in files:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if rel.endswith((".png", ".jpg", ".JPG")):
            Image.new("RGB", (4, 4)).save(path, format="PNG")
        else:
            path.write_text("x")
    return root


def test_classes_are_the_sorted_subfolders_and_nested_files_count(tmp_path):
    _tree(tmp_path, ["zebra/a.png", "cat/deep/er/b.jpg", "cat/a.JPG", "cat/readme.txt",
                     "loose.png", ".hidden/x.png", "cat/.DS_Store"])
    manifest = load_manifest("folder", tmp_path)
    assert manifest.class_names == ["cat", "zebra"]
    assert [(s.sample_id, s.label) for s in manifest.samples] == [
        ("cat/a.JPG", 0), ("cat/deep/er/b.jpg", 0), ("zebra/a.png", 1)]
    assert all(not s.boxes and not s.masks for s in manifest.samples)
    assert [(s.sample_id, s.reason.split(":")[1].strip()) for s in manifest.skipped] == [
        ("cat/readme.txt", "not an image")]
    assert manifest.format == "folder"


def test_model_class_names_match_folders_by_name_or_by_sorted_index(tmp_path):
    _tree(tmp_path, ["dog/a.png", "cat/b.png"])
    named = load_manifest("folder", tmp_path, class_names=["dog", "cat"])
    assert [(s.sample_id, s.label) for s in named.samples] == [("cat/b.png", 1),
                                                               ("dog/a.png", 0)]
    # The model's default class names (no model.class_names): folder i in sorted order.
    indexed = load_manifest("folder", tmp_path, class_names=["0", "1"])
    assert [(s.sample_id, s.label) for s in indexed.samples] == [("cat/b.png", 0),
                                                                 ("dog/a.png", 1)]
    partly = load_manifest("folder", tmp_path, class_names=["dog", "horse"])
    assert [s.sample_id for s in partly.samples] == ["dog/a.png"]
    assert "cat" in partly.skipped[0].reason


def test_a_folder_without_classes_or_images_is_refused(tmp_path):
    with pytest.raises(DatasetError, match="does not exist"):
        load_manifest("folder", tmp_path / "missing")
    with pytest.raises(DatasetError, match="got no subfolder"):
        load_manifest("folder", tmp_path)
    _tree(tmp_path, ["cat/notes.txt"])
    with pytest.raises(DatasetError, match="got none with an image extension"):
        load_manifest("folder", tmp_path)


def test_csv_and_jsonl_without_box_columns_give_box_free_samples(tmp_path):
    _tree(tmp_path, ["a.png", "b.png"])
    (tmp_path / "m.csv").write_text("image,label\na.png,cat\nb.png,dog\n")
    (tmp_path / "m.jsonl").write_text('{"image": "a.png", "label": "cat"}\n'
                                      '{"image": "b.png", "label": "dog", "boxes": []}\n')
    for format in ("csv", "jsonl"):
        manifest = load_manifest(format, tmp_path / f"m.{format}", class_names=["cat", "dog"])
        assert [(s.sample_id, s.label, s.boxes) for s in manifest.samples] == [
            ("a.png", 0, ()), ("b.png", 1, ())]
        assert not manifest.skipped
