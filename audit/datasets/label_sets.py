"""Label sets: the manifest of a multi-label dataset, where an image may have several labels.

A multi-label model (``model.task: multilabel``, or detected: independent sigmoid outputs) is
audited on samples whose ``label_set`` holds every label of the image, each with its own objects
(:class:`~audit.datasets.types.LabelObjects`). Every format gives label sets:

* CSV: a ``labels`` column, the labels separated by ``|`` (``cat|dog``; an empty cell is an
  image with none of the classes), and/or the ``label`` column; the image's labels are the
  union over its rows. A row's box belongs to the row's ``label``, or to the row's single
  ``labels`` entry; a box on a row that names several labels and no ``label`` belongs to none
  and skips the sample.
* JSON Lines: ``"labels": ["cat", "dog"]`` (and/or ``"label"``); a box object may name its
  label (``{"x_min": .., "label": "dog"}``); a box without one belongs to the image's only
  label and skips the sample when it has several.
* COCO: every category an image's annotations name; each annotation's box and segmentation
  belong to its category. An image without annotations has no label.
* Pascal VOC: every object class of the file; each object belongs to its class.

A label's region is the union of its own objects' masks when they have them, else of their
boxes (when some of a label's objects have a mask and others none, the sample is skipped, as in
:mod:`audit.datasets.objects`). Labels are matched to the classes as in
:mod:`audit.datasets.labels`; an unknown label skips the sample. Images are grouped and
duplicates reported as in :mod:`audit.datasets.manifest` (in formats with one entry per image
any repeat is a duplicate; in CSV a row repeating another's labels and box is one).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from audit.datasets.annotated import AnnotatedObject
from audit.datasets.boxes import fit_box, format_box
from audit.datasets.labels import (
    LabelError,
    format_classes,
    is_usable_label,
    label_text,
    label_vocabulary,
    match_label,
)
from audit.datasets.manifest import (
    DatasetManifest,
    RawEntry,
    _merge_meta,
    _resolve_mask,
    resolve_image_path,
)
from audit.datasets.types import Box, LabelObjects, Meta, Sample, SampleError, SkippedSample
from audit.errors import DatasetError

__all__ = ["LABEL_SEPARATOR", "build_label_set_manifest", "entry_labels", "label_matrix",
           "split_labels"]

#: What separates the labels of a CSV ``labels`` cell.
LABEL_SEPARATOR = "|"


def split_labels(cell: str) -> tuple[str, ...]:
    """The labels of a CSV ``labels`` cell: split at ``|``, stripped, empty parts dropped.

    Examples
    --------
    >>> split_labels(" cat | dog|")
    ('cat', 'dog')
    >>> split_labels("")
    ()
    """
    return tuple(part.strip() for part in cell.split(LABEL_SEPARATOR) if part.strip())


def entry_labels(entry: RawEntry) -> list[Any]:
    """Every label an entry names, as written, in order, each once: its ``label_set``, its
    ``label`` and its objects' labels."""
    written = list(entry.label_set or ())
    if is_usable_label(entry.label):
        written.append(entry.label)
    written.extend(o.label for o in entry.objects if o.label is not None)
    return list(dict.fromkeys(written))


@dataclass
class _Group:
    first: RawEntry
    path: str
    entries: list[RawEntry] = field(default_factory=list)


def build_label_set_manifest(entries: Sequence[RawEntry], *, path: str, format: str,
                             images_root: str, class_names: Sequence[str] | None = None,
                             one_entry_per_image: bool = False) -> DatasetManifest:
    """Turn raw entries into multi-label samples (``Sample.label_set``) and skipped samples.

    Parameters
    ----------
    entries, path, format, images_root, class_names, one_entry_per_image
        As in :func:`audit.datasets.manifest.build_manifest`.

    Returns
    -------
    DatasetManifest

    Raises
    ------
    DatasetError
        No entries, labels of which none match the classes, or no usable sample at all.
    """
    if not entries:
        raise DatasetError(f"dataset manifest {path} lists no images: the dataset is empty")
    usable = [e for e in entries if e.problem is None]
    written = [label for e in usable for label in entry_labels(e)]
    vocabulary = (label_vocabulary(written) if class_names is None
                  else [str(name) for name in class_names])
    if written and all(_matches(label, vocabulary) is None for label in written):
        seen = list(dict.fromkeys(label_text(label) for label in written))
        raise DatasetError(
            f"none of the labels in dataset manifest {path} match the model's classes: "
            f"labels found ({len(seen)}): {format_classes(seen)}; the model's classes "
            f"({len(vocabulary)}): {format_classes(vocabulary) or '(none)'}. "
            "Check class_names (order and spelling) or the manifest's labels")

    groups: dict[Any, _Group] = {}
    for n, entry in enumerate(entries):
        key = ("problem", n) if entry.problem is not None else resolve_image_path(
            entry.image, images_root)
        group = groups.setdefault(key, _Group(entry, "" if entry.problem else key))
        group.entries.append(entry)

    samples: list[Sample] = []
    skipped: list[SkippedSample] = []
    n_clipped = n_duplicates = 0
    dropped_meta: dict[str, str] = {}
    for group in groups.values():
        first = group.first
        if first.problem is not None:
            skipped.append(SkippedSample(first.image or first.where, first.image,
                                         f"{first.where}: {first.problem}"))
            continue
        kept, dropped = _merge(group.entries, one_entry_per_image)
        n_duplicates += len(dropped)
        for entry, reason in dropped:
            skipped.append(SkippedSample(first.image, entry.image, f"{entry.where}: {reason}"))
        try:
            labels, clipped = _label_objects(kept, vocabulary, images_root)
        except SampleError as exc:
            skipped.append(SkippedSample(first.image, first.image, exc.reason))
            continue
        n_clipped += clipped
        boxes = tuple(box for objects in labels for box in objects.boxes)
        masks = tuple(dict.fromkeys(m for objects in labels for m in objects.masks))
        samples.append(Sample(
            sample_id=first.image, image=first.image, path=group.path,
            label=labels[0].label if labels else -1,
            label_name=LABEL_SEPARATOR.join(objects.name for objects in labels),
            boxes=boxes, masks=masks, meta=_merge_meta(kept, dropped_meta), label_set=labels))

    if not samples:
        reasons = "; ".join(s.reason for s in skipped[:3])
        raise DatasetError(
            f"dataset manifest {path} has no usable sample: all {len(skipped)} entries were "
            f"skipped. First reasons: {reasons}")
    if dropped_meta:
        samples = [replace(s, meta=Meta((k, v) for k, v in s.meta.items() if k not in dropped_meta))
                   for s in samples]
    return DatasetManifest(samples=samples, skipped=skipped, class_names=list(vocabulary),
                           path=str(path), format=format, n_boxes_clipped=n_clipped,
                           n_duplicates=n_duplicates, images_root=str(images_root),
                           dropped_meta=dropped_meta)


def _matches(label: Any, vocabulary: Sequence[str]) -> int | None:
    try:
        return match_label(label, vocabulary)
    except LabelError:
        return None


def _signature(entry: RawEntry) -> tuple:
    return (tuple(label_text(label) for label in entry_labels(entry)), entry.boxes,
            entry.masks, entry.box_problems, entry.mask_problems)


def _merge(entries: list[RawEntry], one_entry_per_image: bool
           ) -> tuple[list[RawEntry], list[tuple[RawEntry, str]]]:
    """The kept entries of one image and the dropped ones, with reasons."""
    first = entries[0]
    kept, dropped = [first], []
    seen = {_signature(first): first.where}
    for entry in entries[1:]:
        if one_entry_per_image:
            dropped.append((entry, (
                f"duplicate entry: image {entry.image!r} is listed again (first at "
                f"{first.where}); the first entry is kept and this one is ignored")))
            continue
        signature = _signature(entry)
        if signature in seen:
            dropped.append((entry, (
                f"duplicate row: image {entry.image!r} is listed again with the same labels "
                f"and box (first at {seen[signature]}); the row is ignored")))
            continue
        seen[signature] = entry.where
        kept.append(entry)
    return kept, dropped


def _label_objects(kept: list[RawEntry], vocabulary: Sequence[str], images_root: str
                   ) -> tuple[tuple[LabelObjects, ...], int]:
    """The labels of one image with their objects (in class-index order), and the boxes
    clipped; raises :class:`SampleError` with the reason the sample is skipped."""
    indices: dict[int, None] = {}
    for entry in kept:
        for label in entry_labels(entry):
            try:
                indices[match_label(label, vocabulary)] = None
            except LabelError as exc:
                raise SampleError(f"{entry.where}: {exc.reason}") from None
    size = next((e.image_size for e in kept if e.image_size is not None), None)
    problems: list[str] = []
    owned: dict[int, list[AnnotatedObject]] = {index: [] for index in indices}
    for entry in kept:
        problems.extend(entry.box_problems if not entry.objects else ())
        problems.extend(entry.mask_problems if not entry.objects else ())
        # An object that names no label belongs to the entry's own label, when it has one.
        said = [*(entry.label_set or ()), *([entry.label] if is_usable_label(entry.label)
                                            else [])]
        own = list(dict.fromkeys(match_label(label, vocabulary) for label in said))
        for obj in entry.objects:
            if obj.label is not None:
                index = match_label(obj.label, vocabulary)
            elif len(own) == 1:
                index = own[0]
            else:
                names = ", ".join(repr(vocabulary[i]) for i in own) or "none"
                problems.append(
                    f"{obj.where or entry.where}: the object belongs to no label: the entry "
                    f"names the labels {names}; give the object's label (CSV: the row's "
                    "'label'; JSON Lines: the box's \"label\")")
                continue
            owned[index].append(obj)
    labels: list[LabelObjects] = []
    n_clipped = 0
    for index in sorted(owned):
        objects = owned[index]
        boxes: list[Box] = []
        for obj in objects:
            if obj.box_problem is not None:
                problems.append(obj.box_problem)
            if obj.mask_problem is not None:
                problems.append(obj.mask_problem)
            if obj.box is None:
                continue
            fitted, changed = fit_box(obj.box, size)
            if fitted is None:
                problems.append(f"{obj.where}: box {format_box(obj.box)} lies entirely outside "
                                "the image")
                continue
            n_clipped += int(changed)
            boxes.append(fitted)
        masked = [o for o in objects if o.mask is not None]
        bare = [o for o in objects if o.mask is None and o.mask_problem is None]
        if masked and bare:
            problems.append(
                f"{bare[0].where}: the object has no mask while {masked[0].where} has one; the "
                f"region of label {vocabulary[index]!r} would not cover all its objects")
        masks = tuple(dict.fromkeys(_resolve_mask(o.mask, images_root) for o in masked))
        labels.append(LabelObjects(index, vocabulary[index], tuple(boxes), masks))
    if problems:
        raise SampleError("; ".join(problems) + " (a sample with a broken or unowned object is "
                          "skipped as a whole; fix or remove it)")
    return tuple(labels), n_clipped


def label_matrix(samples: Sequence[Sample], n_classes: int) -> np.ndarray:
    """``bool (N, n_classes)``: sample ``i`` has class ``c`` in its label set.

    Raises
    ------
    ValueError
        A sample has no label set (a single-label sample).
    """
    truth = np.zeros((len(samples), n_classes), dtype=bool)
    for i, sample in enumerate(samples):
        if sample.label_set is None:
            raise ValueError(f"sample {sample.sample_id!r} has no label set; a multi-label "
                             "model is audited on a manifest read with multilabel=True")
        for objects in sample.label_set:
            truth[i, objects.label] = True
    return truth
