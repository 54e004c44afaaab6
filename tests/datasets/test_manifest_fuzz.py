"""Fuzzing the three manifest parsers (CSV, JSON Lines, COCO): whatever the file holds, the
audit either gets samples (read, or skipped with a reason) or stops with an AuditError (exit
2), never another exception (exit 3). No model: the parsers and the batch loader only."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from audit.datasets import BatchLoader, BatchSpec, load_manifest
from audit.datasets.manifest import DatasetManifest
from audit.errors import AuditError

FOLDER = Path(tempfile.mkdtemp(prefix="fuzz-manifests-"))
Image.new("RGB", (8, 6), (9, 9, 9)).save(FOLDER / "a.png")
(FOLDER / "bad.png").write_bytes(b"\x89PNG not really")

WORDS = st.sampled_from(["a.png", "bad.png", "missing.png", "../a.png", "/etc/hostname",
                         "nosuch://b/a.png", "cat", "dog", "=1+1", "", "0", "1", "-3", "1e9",
                         "nan", "\x1b[2J", "\ud800", "image", "label", "x_min", "mask"])
CELLS = st.one_of(WORDS, st.text(max_size=8))
VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-5, 10**6), st.floats(), WORDS),
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.one_of(WORDS, st.text(max_size=6)), inner,
                                            max_size=4)),
    max_leaves=12)
KEYS = st.sampled_from(["image", "label", "boxes", "mask", "segmentation", "bbox", "id",
                        "file_name", "width", "height", "image_id", "category_id", "name",
                        "images", "annotations", "categories", "meta"])
ENTRY = st.dictionaries(KEYS, VALUES, max_size=6)


def _audit(fmt: str, text: str) -> None:
    path = FOLDER / f"m.{fmt}"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        manifest = load_manifest(fmt, path, class_names=["cat", "dog"], confine_paths=True)
    except AuditError:
        return
    assert isinstance(manifest, DatasetManifest) and manifest.samples
    batch = BatchLoader((4, 4), 3, lambda x: x.astype("float32"))(
        BatchSpec(0, tuple(manifest.samples), tuple(manifest.skipped)))
    assert len(batch.samples) + len(batch.skipped) >= len(manifest.samples)


_FUZZ = settings(max_examples=50, deadline=None, derandomize=True,
                 suppress_health_check=[HealthCheck.too_slow])


@_FUZZ
@given(st.lists(st.lists(CELLS, max_size=7), min_size=0, max_size=6))
def test_csv(rows):
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerows([["image", "label", "x_min", "y_min", "x_max", "y_max", "mask"]] + rows
                     if rows and rows[0][:1] != ["="] else rows)
    _audit("csv", buffer.getvalue())


@_FUZZ
@given(st.lists(st.one_of(ENTRY.map(json.dumps), st.text(max_size=20)), max_size=6))
def test_jsonl(lines):
    _audit("jsonl", "\n".join(lines))


@_FUZZ
@given(st.fixed_dictionaries({"images": st.lists(ENTRY, max_size=3),
                              "annotations": st.lists(ENTRY, max_size=3),
                              "categories": st.lists(ENTRY, max_size=3)}) | VALUES)
def test_coco(data):
    _audit("coco", json.dumps(data))
