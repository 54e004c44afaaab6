"""dataset.confine_paths (audit.datasets.confine): image and mask paths stay inside the
dataset's folder, symbolic links followed."""

from __future__ import annotations

import os

import pytest
from PIL import Image

from audit.datasets import load_manifest
from audit.errors import DatasetError


def _png(path, size=(8, 6)):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, (1, 2, 3)).save(path)


def test_paths_escaping_images_root_are_skipped_with_their_reason(tmp_path):
    root = tmp_path / "data"
    _png(root / "in.png")
    _png(tmp_path / "outside.png")
    _png(tmp_path / "outside2.png")
    os.symlink(tmp_path / "outside.png", root / "link.png")
    _png(root / "m.png")
    (root / "m.csv").write_text(
        "image,label,mask\n"
        "in.png,cat,\n"
        f"{tmp_path / 'outside.png'},cat,\n"
        "../outside2.png,cat,\n"
        "link.png,cat,\n"
        "in2.png,cat,../outside.png\n")
    _png(root / "in2.png")
    manifest = load_manifest("csv", root / "m.csv", class_names=["cat"], confine_paths=True)
    assert [s.sample_id for s in manifest.samples] == ["in.png"]
    reasons = {s.sample_id: s.reason for s in manifest.skipped}
    assert set(reasons) == {str(tmp_path / "outside.png"), "../outside2.png", "link.png",
                            "in2.png"}
    assert reasons["link.png"].startswith(f"image path {root / 'link.png'} resolves outside "
                                          f"the dataset folder {root}")
    assert reasons["in2.png"].startswith("mask path ")
    assert "dataset.confine_paths" in reasons["in2.png"]
    # off: read anywhere (the previous behaviour)
    free = load_manifest("csv", root / "m.csv", class_names=["cat"], confine_paths=False)
    assert len(free.samples) == 5


def test_nothing_left_inside_is_a_dataset_error(tmp_path):
    _png(tmp_path / "a.png")
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "m.csv").write_text("image,label\n../a.png,cat\n")
    with pytest.raises(DatasetError, match="resolves outside"):
        load_manifest("csv", tmp_path / "d" / "m.csv", class_names=["cat"], confine_paths=True)


def test_a_wrong_manifest_path_never_echoes_the_file(tmp_path):
    secret = tmp_path / "id_rsa"
    secret.write_text("-----BEGIN OPENSSH PRIVATE KEY----- s3cr3t\n" + "x" * 100 + "\n")
    for fmt in ("csv", "jsonl", "coco"):
        try:
            load_manifest(fmt, secret, class_names=["cat"])
        except DatasetError as exc:
            assert "s3cr3t" not in str(exc) and "BEGIN" not in str(exc), (fmt, str(exc))
