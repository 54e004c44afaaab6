"""JSON Lines manifests: one JSON object per image.

Format
------
``{"image": "cats/1.png", "label": "cat", "boxes": [[x_min, y_min, x_max, y_max], ...],
"mask": "masks/1.png", "meta": {"site": "A"}}``

* ``boxes`` is optional (missing, ``null`` or ``[]`` = no box); each box is a list of four corner
  coordinates or an object ``{"x_min": .., "y_min": .., "x_max": .., "y_max": ..}``.
* ``label`` is a class name or an integer class index.
* ``mask`` is optional: the path of a PNG mask, resolved like ``image``; its non-zero pixels are
  the object (see :mod:`audit.datasets.masks`). Missing, ``null`` or ``""`` = no mask; any other
  non-string skips the sample.
* ``meta`` is optional: an object of per-sample fields, ``Sample.meta``. Strings are kept as
  they are, other values as their JSON text (``3`` -> ``"3"``, ``true`` -> ``"true"``,
  ``null`` -> ``"null"``). A ``meta`` that is not an object skips the line.
* Blank lines are ignored. A line that is not a JSON object, or lacks ``image`` or ``label``, is
  skipped with its line number (1-based). When *no* line has a required key the manifest is
  taken to be in another layout and the run stops with an error naming the keys found.
* Each image is listed once; a repeated image is a duplicate (the first entry is kept).
* Multi-label models: ``"labels": ["cat", "dog"]`` lists the image's labels (``[]``: none of
  the classes) and ``label`` becomes optional (one of the two is required); a box object may
  name its label, ``{"x_min": .., "label": "dog"}`` (see :mod:`audit.datasets.label_sets`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from audit.datasets.annotated import AnnotatedObject
from audit.datasets.boxes import BOX_FIELDS, BoxError, parse_box
from audit.datasets.label_sets import build_label_set_manifest
from audit.datasets.manifest import DatasetManifest, RawEntry, build_manifest
from audit.datasets.masks import PngMask
from audit.datasets.types import NO_META, Box, Meta
from audit.errors import DatasetError

REQUIRED_KEYS = ("image", "label")


def read_jsonl_entries(path: str, *, multilabel: bool = False) -> list[RawEntry]:
    """Parse a JSON Lines manifest into raw entries (one per non-blank line).

    Parameters
    ----------
    path : str
        The ``.jsonl`` file.
    multilabel : bool
        Read ``labels`` (label sets) and accept objects without ``label``.

    Returns
    -------
    list of RawEntry

    Raises
    ------
    DatasetError
        The file is missing or unreadable, or no line has a required key.
    """
    entries: list[RawEntry] = []
    keys_seen: dict[str, None] = {}
    has_key = dict.fromkeys(REQUIRED_KEYS, False)
    n_objects = 0
    try:
        with open(path, encoding="utf-8-sig") as handle:
            for number, text in enumerate(handle, start=1):
                if not text.strip():
                    continue
                where = f"line {number}"
                try:
                    obj = json.loads(text)
                except json.JSONDecodeError as exc:
                    entries.append(RawEntry(image="", label=None, where=where, problem=(
                        f"not valid JSON ({exc.msg} at column {exc.colno}); the line is "
                        "skipped")))
                    continue
                except RecursionError:
                    entries.append(RawEntry(image="", label=None, where=where, problem=(
                        "JSON nested too deeply to read (an entry is a flat object); the line "
                        "is skipped")))
                    continue
                if not isinstance(obj, dict):
                    entries.append(RawEntry(image="", label=None, where=where, problem=(
                        f"expected a JSON object {{\"image\": ..., \"label\": ...}}, got a "
                        f"{type(obj).__name__}; the line is skipped")))
                    continue
                n_objects += 1
                keys_seen.update(dict.fromkeys(obj))
                for key in REQUIRED_KEYS:
                    has_key[key] = has_key[key] or key in obj or (
                        multilabel and key == "label" and "labels" in obj)
                entries.append(_label_set_entry(obj, where) if multilabel
                               else _entry(obj, where))
    except FileNotFoundError:
        raise DatasetError(f"dataset manifest {path} does not exist") from None
    except IsADirectoryError:
        raise DatasetError(f"dataset manifest {path} is a folder, expected a JSON Lines file"
                           ) from None
    except UnicodeDecodeError as exc:
        raise DatasetError(f"dataset manifest {path} is not UTF-8 text: {exc}") from None
    except OSError as exc:
        raise DatasetError(f"dataset manifest {path} cannot be read: {exc}") from None
    missing = [key for key, present in has_key.items() if not present]
    if n_objects and missing:
        raise DatasetError(
            f"dataset manifest {path}: no line has the required key(s) "
            f"{', '.join(map(repr, missing))}; keys found: "
            f"{', '.join(map(repr, keys_seen)) or '(none)'}. Expected objects like "
            '{"image": "a.png", "label": "cat", "boxes": [[x_min, y_min, x_max, y_max]]}'
        )
    return entries


def _entry(obj: dict[str, Any], where: str) -> RawEntry:
    image = obj.get("image")
    if "image" not in obj:
        return RawEntry(image="", label=None, where=where, problem=(
            f"the object has no 'image' key (keys: {', '.join(map(repr, obj)) or 'none'}); "
            "the line is skipped"))
    if not isinstance(image, str) or not image.strip():
        return RawEntry(image="", label=None, where=where, problem=(
            f"'image' must be a non-empty path string, got {image!r}; the line is skipped"))
    image = image.strip()
    if "label" not in obj:
        return RawEntry(image=image, label=None, where=where, problem=(
            f"the object for image {image!r} has no 'label' key; the line is skipped"))
    label = obj["label"]
    meta = obj.get("meta")
    if meta is not None and not isinstance(meta, dict):
        return RawEntry(image=image, label=None, where=where, problem=(
            f"'meta' must be an object of field names to values, got {type(meta).__name__} "
            f"{meta!r}; the line is skipped"))
    mask = obj.get("mask")
    found: dict[str, Any] = {"meta": Meta.from_json(meta) if meta else NO_META}
    if isinstance(mask, str) and mask.strip():
        found["masks"] = (PngMask(mask.strip()),)
    elif mask is not None and not isinstance(mask, str):
        found["mask_problems"] = (
            f"{where}: 'mask' must be the path of a PNG file, got {type(mask).__name__} "
            f"{mask!r}",)
    raw_boxes = obj.get("boxes")
    if raw_boxes is None:
        return RawEntry(image=image, label=label, where=where, **found)
    if not isinstance(raw_boxes, list):
        return RawEntry(image=image, label=label, where=where, box_problems=(
            f"{where}: 'boxes' must be a list of boxes, got {type(raw_boxes).__name__} "
            f"{raw_boxes!r}",), **found)
    boxes: list[Box] = []
    problems: list[str] = []
    for i, raw in enumerate(raw_boxes):
        try:
            boxes.append(_parse_one(raw, f"{where}, box {i + 1}"))
        except BoxError as exc:
            problems.append(exc.reason)
    return RawEntry(image=image, label=label, where=where, boxes=tuple(boxes),
                    box_problems=tuple(problems), **found)


def _label_set_entry(obj: dict[str, Any], where: str) -> RawEntry:
    """The entry of a multi-label model: ``labels`` and/or ``label``; boxes may name theirs."""
    labels = obj.get("labels")
    if labels is not None and (not isinstance(labels, list)
                               or not all(isinstance(v, str | int) for v in labels)):
        return RawEntry(image=str(obj.get("image", "")), label=None, where=where, problem=(
            f"'labels' must be a list of class names or indices; got {labels!r}"[:240]
            + "; the line is skipped"))
    if "labels" not in obj and "label" not in obj and isinstance(obj.get("image"), str):
        return RawEntry(image=obj["image"].strip(), label=None, where=where, problem=(
            f"the object for image {obj['image']!r} has neither 'labels' nor 'label'; the "
            "line is skipped"))
    entry = _entry({**obj, "label": obj.get("label")}, where)
    if entry.problem is not None:
        return entry
    raw_boxes = obj.get("boxes") if isinstance(obj.get("boxes"), list) else []
    objects = []
    for i, raw in enumerate(raw_boxes):
        label = raw.get("label") if isinstance(raw, dict) else None
        box_where = f"{where}, box {i + 1}"
        try:
            box = _parse_one({k: v for k, v in raw.items() if k != "label"}
                             if isinstance(raw, dict) else raw, box_where)
            objects.append(AnnotatedObject(label, box, where=box_where))
        except BoxError as exc:
            objects.append(AnnotatedObject(label, box_problem=exc.reason, where=box_where))
    return replace(entry, label_set=tuple(labels) if labels is not None else None,
                   objects=tuple(objects), box_problems=entry.box_problems if not raw_boxes
                   else ())


def _parse_one(raw: Any, where: str) -> Box:
    """One box of ``boxes``: a list of corners or an object; raises :class:`BoxError`."""
    if isinstance(raw, dict):
        missing = [k for k in BOX_FIELDS if k not in raw]
        if missing:
            raise BoxError(f"{where}: box object lacks {', '.join(map(repr, missing))} "
                           f"(keys: {', '.join(map(repr, raw)) or 'none'})")
        return parse_box([raw[k] for k in BOX_FIELDS], where)
    if isinstance(raw, list):
        return parse_box(raw, where)
    raise BoxError(f"{where}: a box must be [x_min, y_min, x_max, y_max] or an object with "
                   f"those keys, got {raw!r}")


def load_jsonl(path: str | os.PathLike, *, images_root: str | os.PathLike | None = None,
               class_names: Sequence[str] | None = None, multilabel: bool = False
               ) -> DatasetManifest:
    """Load a JSON Lines manifest.

    Parameters
    ----------
    path : str or path-like
        The ``.jsonl`` file.
    images_root : str or path-like, optional
        Folder relative image paths are resolved against; defaults to the file's folder.
    class_names : sequence of str, optional
        The model's classes (see :func:`audit.datasets.labels.match_label`).
    multilabel : bool
        Samples with label sets, for a multi-label model (see
        :mod:`audit.datasets.label_sets`).

    Returns
    -------
    DatasetManifest

    Raises
    ------
    DatasetError
        Run-level problems (see :func:`audit.datasets.manifest.build_manifest`).
    """
    path = os.fspath(path)
    root = os.fspath(images_root) if images_root is not None else os.path.dirname(
        os.path.abspath(path))
    build = build_label_set_manifest if multilabel else build_manifest
    return build(read_jsonl_entries(path, multilabel=multilabel), path=path, format="jsonl",
                 images_root=root, class_names=class_names, one_entry_per_image=True)
