"""COCO JSON manifests: ``images``, ``annotations`` and ``categories``.

Format
------
* ``images``: ``{"id", "file_name", "width", "height"}``; ``file_name`` is resolved against the
  images folder and is the sample id. ``width``/``height`` (when positive) are used to check
  and clip boxes at load time.
* ``annotations``: ``{"id", "image_id", "category_id", "bbox": [x, y, w, h], "segmentation"}``;
  ``bbox`` becomes ``Box(x, y, x + w, y + h)``. ``bbox`` is optional (a label without a box).
  ``segmentation`` is optional: polygons ``[[x1, y1, ...], ...]`` or RLE
  ``{"counts", "size": [height, width]}``, compressed or not (see :mod:`audit.datasets.masks`;
  reading them needs ``pycocotools``). Missing, ``null`` or ``[]`` = no mask.
* ``categories``: ``{"id", "name"}``; category names are the labels matched to the model's
  classes.

An image's label is the category of its annotations. When its annotations name several
categories, the category with the **largest total box area** wins (ties: the category annotated
first) and only that category's boxes are kept: the audit asks whether the map of that class
lies on that class's objects. An image without annotations has no label and is skipped.
Annotations that refer to an unknown image are listed as skipped entries.

Multi-label models: an image's labels are **every** category its annotations name, each with
its own boxes and segmentations, and an image without annotations has none of the classes (see
:mod:`audit.datasets.label_sets`).

Masks and metadata
------------------
The image's mask is the union of the kept annotations' segmentations. When some kept
annotations have a segmentation and others none, the image is skipped (its mask would miss
objects). Every field of an ``images`` entry besides ``id``, ``file_name``, ``width`` and
``height`` (``license``, ``coco_url``, ``date_captured``, your own) goes to ``Sample.meta``:
strings as they are, other values as JSON text.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import Any

from audit.datasets.boxes import BoxError, check_box, parse_number
from audit.datasets.label_sets import build_label_set_manifest
from audit.datasets.manifest import DatasetManifest, RawEntry, build_manifest
from audit.datasets.masks import MaskError, MaskSource, PolygonMask, RleMask
from audit.datasets.objects import AnnotatedObject, entry_from_objects
from audit.datasets.types import Box, Meta
from audit.errors import DatasetError

REQUIRED_KEYS = ("images", "annotations", "categories")
#: Keys of an ``images`` entry that are not metadata.
IMAGE_KEYS = ("id", "file_name", "width", "height")


def _load_json(path: str) -> Any:
    try:
        with open(path, encoding="utf-8-sig") as handle:
            return json.load(handle)
    except FileNotFoundError:
        raise DatasetError(f"dataset manifest {path} does not exist") from None
    except IsADirectoryError:
        raise DatasetError(f"dataset manifest {path} is a folder, expected a COCO JSON file"
                           ) from None
    except json.JSONDecodeError as exc:
        raise DatasetError(
            f"dataset manifest {path} is not valid JSON: {exc.msg} at line {exc.lineno}, "
            f"column {exc.colno}"
        ) from None
    except RecursionError:
        raise DatasetError(f"dataset manifest {path} must be COCO JSON nested a few levels "
                           "deep; got JSON nested too deeply to read") from None
    except UnicodeDecodeError as exc:
        raise DatasetError(f"dataset manifest {path} is not UTF-8 text: {exc}") from None
    except OSError as exc:
        raise DatasetError(f"dataset manifest {path} cannot be read: {exc}") from None


def _is_id(value: Any) -> bool:
    """COCO ids are integers (strings are accepted); a list or an object cannot be one."""
    return isinstance(value, int | str) and not isinstance(value, bool)


def _short(value: Any, limit: int = 200) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."


def _categories(items: list[Any], path: str) -> dict[Any, str]:
    names: dict[Any, str] = {}
    for i, cat in enumerate(items):
        if not isinstance(cat, dict) or not _is_id(cat.get("id")) \
                or not isinstance(cat.get("name"), str):
            raise DatasetError(
                f"dataset manifest {path}: categories[{i}] must be an object with an integer "
                f"'id' and a string 'name'; got {_short(cat)}"
            )
        if cat["id"] in names and names[cat["id"]] != cat["name"]:
            raise DatasetError(
                f"dataset manifest {path}: category id {cat['id']!r} is defined twice, as "
                f"{names[cat['id']]!r} and as {cat['name']!r} (categories[{i}])"
            )
        names[cat["id"]] = cat["name"].strip()
    return names


def read_coco_entries(path: str, *, multilabel: bool = False) -> list[RawEntry]:
    """Parse a COCO JSON manifest into raw entries (one per image).

    Parameters
    ----------
    path : str
        The COCO JSON file.
    multilabel : bool
        An image without annotations is an image without labels, not a problem.

    Returns
    -------
    list of RawEntry

    Raises
    ------
    DatasetError
        The file is missing, not JSON, lacks a required key, or has inconsistent categories.
    """
    data = _load_json(path)
    if not isinstance(data, dict):
        raise DatasetError(
            f"dataset manifest {path}: expected a COCO JSON object with keys "
            f"{', '.join(REQUIRED_KEYS)}, got a {type(data).__name__}"
        )
    missing = [key for key in REQUIRED_KEYS if key not in data]
    if missing:
        raise DatasetError(
            f"dataset manifest {path} is missing required COCO key(s) "
            f"{', '.join(map(repr, missing))}; keys found: "
            f"{', '.join(map(repr, data)) or '(none)'}"
        )
    for key in REQUIRED_KEYS:
        if not isinstance(data[key], list):
            raise DatasetError(
                f"dataset manifest {path}: {key!r} must be a list, got {type(data[key]).__name__}"
            )
    categories = _categories(data["categories"], path)

    entries: list[RawEntry] = []
    images: dict[Any, dict[str, Any]] = {}
    order: list[Any] = []
    for i, img in enumerate(data["images"]):
        where = f"images[{i}]"
        if not isinstance(img, dict) or not _is_id(img.get("id")):
            entries.append(RawEntry(image="", label=None, where=where, problem=(
                f"an image must be an object with an integer 'id' and 'file_name'; got "
                f"{_short(img)}")))
            continue
        where = f"image id {img['id']!r}"
        name = img.get("file_name")
        if not isinstance(name, str) or not name.strip():
            entries.append(RawEntry(image="", label=None, where=where, problem=(
                f"'file_name' must be a non-empty path string, got {name!r}")))
            continue
        if img["id"] in images:
            entries.append(RawEntry(image=name.strip(), label=None, where=where, problem=(
                f"image id {img['id']!r} is listed twice in 'images' (as "
                f"{images[img['id']]['file_name']!r} and {name!r}); annotations cannot be "
                "attributed, the later one is skipped")))
            continue
        images[img["id"]] = img
        order.append(img["id"])

    annotations: dict[Any, list[dict[str, Any]]] = {image_id: [] for image_id in order}
    for j, ann in enumerate(data["annotations"]):
        if not isinstance(ann, dict) or not _is_id(ann.get("image_id")):
            entries.append(RawEntry(image="", label=None, where=f"annotations[{j}]", problem=(
                f"an annotation must be an object with an integer 'image_id' and "
                f"'category_id'; got {_short(ann)}")))
            continue
        if ann["image_id"] not in annotations:
            entries.append(RawEntry(
                image="", label=None, where=f"annotation id {ann.get('id', j)!r}", problem=(
                    f"the annotation refers to image_id {ann['image_id']!r}, which is not in "
                    "'images'")))
            continue
        annotations[ann["image_id"]].append(ann)

    for image_id in order:
        entries.append(_entry(images[image_id], annotations[image_id], categories,
                              multilabel=multilabel))
    if any(entry.masks for entry in entries):
        _require_pycocotools(path)
    return entries


def _require_pycocotools(path: str) -> None:
    try:
        import pycocotools.mask  # noqa: F401
    except ImportError as exc:
        raise DatasetError(
            f"dataset manifest {path} has segmentation masks, and decoding them needs "
            f"pycocotools, which cannot be imported ({exc}). Install it: pip install pycocotools"
        ) from None


def _entry(img: dict[str, Any], anns: list[dict[str, Any]], categories: dict[Any, str], *,
           multilabel: bool = False) -> RawEntry:
    image = img["file_name"].strip()
    where = f"image id {img['id']!r}"
    width, height = parse_number(img.get("width")), parse_number(img.get("height"))
    size = (int(height), int(width)) if width and height and width > 0 and height > 0 else None
    if not anns and multilabel:
        return RawEntry(image=image, label=None, where=where, image_size=size, label_set=(),
                        meta=Meta.from_json({k: v for k, v in img.items()
                                             if k not in IMAGE_KEYS}))
    if not anns:
        return RawEntry(image=image, label=None, where=where, image_size=size, problem=(
            "the image has no annotations, so it has no label"))
    objects: list[AnnotatedObject] = []
    for ann in anns:
        ann_where = f"annotation id {_short(ann.get('id', '?'), 60)}"
        cid = ann.get("category_id")
        if not _is_id(cid) or cid not in categories:
            return RawEntry(image=image, label=None, where=where, image_size=size, problem=(
                f"{ann_where} has category_id {_short(cid, 60)}, which is not in 'categories' "
                f"(known ids: {', '.join(map(repr, list(categories)[:10]))})"))
        box, problem = None, None
        if ann.get("bbox") is not None:
            try:
                box = _bbox(ann["bbox"], ann_where)
            except BoxError as exc:
                problem = exc.reason
        mask, mask_problem = None, None
        try:
            mask = _segmentation(ann.get("segmentation"), ann_where)
        except MaskError as exc:
            mask_problem = exc.reason
        objects.append(AnnotatedObject(categories[cid], box, problem, where=ann_where,
                                       mask=mask, mask_problem=mask_problem))
    meta = Meta.from_json({k: v for k, v in img.items() if k not in IMAGE_KEYS})
    return entry_from_objects(objects, image=image, where=where, image_size=size, meta=meta)


def _segmentation(raw: Any, where: str) -> MaskSource | None:
    """A COCO ``segmentation`` as a mask source (``None``: none); raises :class:`MaskError`."""
    if raw is None or (isinstance(raw, list) and not raw):
        return None
    if isinstance(raw, list):
        return PolygonMask(tuple(raw), where)
    if isinstance(raw, dict):
        missing = [key for key in ("counts", "size") if key not in raw]
        if missing:
            raise MaskError(f"{where}: an RLE segmentation needs 'counts' and 'size'; "
                            f"{', '.join(map(repr, missing))} missing (keys: "
                            f"{', '.join(map(repr, raw)) or 'none'})")
        return RleMask(raw["counts"], raw["size"], where)
    raise MaskError(f"{where}: segmentation must be a list of polygons or an RLE object with "
                    f"'counts' and 'size', got {type(raw).__name__} {raw!r}")


def _bbox(raw: Any, where: str) -> Box:
    """A COCO ``[x, y, width, height]`` as a :class:`Box`; raises :class:`BoxError`."""
    names = ("x", "y", "width", "height")
    if not isinstance(raw, list) or len(raw) != 4:
        raise BoxError(f"{where}: bbox must be [x, y, width, height], got {raw!r}")
    values: list[float] = []
    for name, value in zip(names, raw, strict=True):
        number = parse_number(value)
        if number is None:
            raise BoxError(f"{where}: bbox {name} is {value!r}, not a number")
        values.append(number)
    x, y, w, h = values
    for name, size in (("width", w), ("height", h)):
        if size < 0:
            raise BoxError(f"{where}: bbox {name} is negative ({size:g}); "
                           "COCO bbox is [x, y, width, height]")
        if size == 0:
            raise BoxError(f"{where}: bbox has zero area ({name} is 0)")
    return check_box(Box(x, y, x + w, y + h), where)


def load_coco(path: str | os.PathLike, *, images_root: str | os.PathLike | None = None,
              class_names: Sequence[str] | None = None, multilabel: bool = False
              ) -> DatasetManifest:
    """Load a COCO JSON manifest.

    Parameters
    ----------
    path : str or path-like
        The COCO JSON file.
    images_root : str or path-like, optional
        Folder ``file_name`` is resolved against; defaults to the JSON file's folder.
    class_names : sequence of str, optional
        The model's classes; ``None`` uses the sorted distinct category names of the images.
    multilabel : bool
        Every category of an image is one of its labels (see
        :mod:`audit.datasets.label_sets`).

    Returns
    -------
    DatasetManifest

    Raises
    ------
    DatasetError
        Run-level problems (see :func:`read_coco_entries` and
        :func:`audit.datasets.manifest.build_manifest`).
    """
    path = os.fspath(path)
    root = os.fspath(images_root) if images_root is not None else os.path.dirname(
        os.path.abspath(path))
    build = build_label_set_manifest if multilabel else build_manifest
    return build(read_coco_entries(path, multilabel=multilabel), path=path, format="coco",
                 images_root=root, class_names=class_names, one_entry_per_image=True)
