"""Building a manifest: turning a format's raw entries into :class:`Sample` records.

Every format loader (CSV, JSON Lines, COCO, Pascal VOC) parses its file into a list of
:class:`RawEntry` (one image, one label, its boxes, and where in the file it was written) and
hands them to :func:`build_manifest`, which matches labels (:mod:`audit.datasets.labels`),
groups entries of one image, checks boxes (:mod:`audit.datasets.boxes`) and decides what is
skipped.

Conventions
-----------
Labels
    See :mod:`audit.datasets.labels` (name first, then index; the derived vocabulary).
Samples and ids
    Entries naming the same image file (after resolving against ``images_root``) form one
    sample; ``sample_id`` is the image path as first written. Samples keep the order in which
    their image first appears.
Duplicates
    An image listed again with a *different label* keeps the first label; the later entry is
    skipped with a reason. A repeated *identical* entry (same image, label and box) is not merged
    silently: it is counted in ``n_duplicates`` and listed in ``skipped`` with a reason, and the
    first one is kept. A sample whose entries were only partly dropped therefore appears both in
    ``samples`` and, for the dropped entry, in ``skipped``. In formats with one entry per image
    (JSON Lines, COCO, VOC) any repeat of an image is a duplicate.
Boxes
    See :mod:`audit.datasets.boxes`: a sample with any broken box (non-numeric or NaN coordinate,
    inverted, zero area, entirely outside the image) is skipped as a whole; boxes partly outside
    the image are clipped to it and counted in ``n_boxes_clipped``.
Masks
    See :mod:`audit.datasets.masks`. A sample's mask sources are those of its kept entries
    (identical sources once); PNG paths are resolved against ``images_root`` like images. A
    sample with a malformed mask is skipped as a whole (after the box checks: a sample with a
    broken box is reported for its boxes). In CSV a row that brings a new mask is not a
    duplicate even when its box repeats or is empty.
Objects
    In formats that annotate objects (COCO, VOC) an image's label is chosen from its objects;
    see :mod:`audit.datasets.objects`.
Metadata
    ``Sample.meta`` merges the ``meta`` of the sample's kept entries (in CSV, its rows). An empty
    value counts as not given: the sample's value is the one non-empty value its rows give, or
    ``""``. A field whose rows of one image give *different* non-empty values describes the rows
    (the boxes), not the image: it is left out of every sample's ``meta`` and listed in
    ``DatasetManifest.dropped_meta`` with the first disagreement. This never skips a sample, so
    a manifest behaves the same with or without extra columns.
Errors
    Per-sample problems raise a :class:`~audit.datasets.types.SampleError` inside this package
    and become :class:`~audit.datasets.types.SkippedSample` records here; they never leave
    :func:`build_manifest`. Run-level problems raise :class:`~audit.errors.DatasetError` naming
    the manifest file.
"""

from __future__ import annotations

import os
import posixpath
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from audit.datasets.annotated import AnnotatedObject
from audit.datasets.boxes import BoxesOutsideError, fit_sample_boxes, format_box
from audit.datasets.images import DEFAULT_MAX_IMAGE_PIXELS, IMAGE_FORMATS
from audit.datasets.labels import (
    LabelError,
    format_classes,
    is_usable_label,
    label_text,
    label_vocabulary,
    match_label,
)
from audit.datasets.masks import MaskSource, PngMask
from audit.datasets.types import NO_META, Box, Meta, Sample, SkippedSample
from audit.errors import DatasetError
from audit.files import is_url


@dataclass(frozen=True)
class RawEntry:
    """One image entry of a manifest, as parsed by a format loader and not yet validated.

    Parameters
    ----------
    image : str
        The image path as written in the manifest.
    label : object
        The label as written (class name, index, or ``None`` when missing).
    where : str
        Where the entry is in the manifest, for messages (``"line 4"``, ``"image id 7"``).
    boxes : tuple of Box
        Boxes parsed successfully (original-image pixel-edge coordinates).
    box_problems : tuple of str
        The reasons of the boxes that could not be parsed (the :class:`BoxError` s caught by
        the format reader); any of them skips the sample once its entries are grouped.
    image_size : tuple of int or None
        ``(height, width)`` when the manifest declares it.
    problem : str or None
        A problem that makes the whole entry unusable (malformed line, no label...). The entry
        is skipped with this reason and takes no part in grouping.
    masks : tuple of MaskSource
        Mask sources of the entry's objects (PNG paths as written in the manifest).
    mask_problems : tuple of str
        The reasons of the masks that could not be parsed (caught
        :class:`~audit.datasets.masks.MaskError` s); any of them skips the sample.
    meta : Meta
        The entry's extra fields, as text.
    label_set : tuple or None
        The image's labels as written (a CSV ``labels`` cell split at ``|``, a JSON Lines
        ``labels`` list, the classes of a COCO or VOC image's objects); ``None`` when the
        manifest gives none. Read only for a multi-label model.
    objects : tuple of AnnotatedObject
        The entry's objects, each with its own label (``None``: not said), for a multi-label
        model (see :mod:`audit.datasets.label_sets`).
    """

    image: str
    label: Any
    where: str
    boxes: tuple[Box, ...] = ()
    box_problems: tuple[str, ...] = ()
    image_size: tuple[int, int] | None = None
    problem: str | None = None
    masks: tuple[MaskSource, ...] = ()
    mask_problems: tuple[str, ...] = ()
    meta: Meta = NO_META
    label_set: tuple[Any, ...] | None = None
    objects: tuple[AnnotatedObject, ...] = ()


@dataclass
class DatasetManifest:
    """A loaded dataset manifest: the samples to audit and the ones that cannot be.

    Attributes
    ----------
    samples : list of Sample
        Samples to audit, in first-appearance order.
    skipped : list of SkippedSample
        Samples (or single entries of a sample) that cannot be audited, with reasons.
    class_names : list of str
        The label vocabulary: ``class_names[sample.label]`` is the sample's class name.
    path : str
        The manifest file (or VOC folder).
    format : str
        ``"csv"``, ``"jsonl"``, ``"coco"`` or ``"voc"``.
    n_boxes_clipped : int
        Boxes partly outside their image, clipped to it.
    n_duplicates : int
        Repeated entries (identical rows, or an image listed again) that were dropped.
    images_root : str
        The folder relative image paths were resolved against.
    dropped_meta : dict of str to str
        Metadata fields left out of every sample because the entries of one image disagree on
        them, each with the first disagreement (see the module's conventions).
    max_image_pixels : int or None
        The pixel budget of one image (``dataset.max_image_pixels``), for every reader of the
        samples (the stream, and the stages that read a few samples again).
    image_formats : tuple of str
        The image formats read (``dataset.image_formats``).
    """

    samples: list[Sample]
    skipped: list[SkippedSample]
    class_names: list[str]
    path: str
    format: str
    n_boxes_clipped: int = 0
    n_duplicates: int = 0
    images_root: str = ""
    dropped_meta: dict[str, str] = field(default_factory=dict)
    max_image_pixels: int | None = DEFAULT_MAX_IMAGE_PIXELS
    image_formats: tuple[str, ...] = IMAGE_FORMATS

    def __len__(self) -> int:
        return len(self.samples)


# ---------------------------------------------------------------------------------------------
# Building the manifest


def resolve_image_path(image: str, images_root: str) -> str:
    """Where an image path written in a manifest lives on disk (absolute paths kept); URLs
    (``gs://...``, see :mod:`audit.files`) are kept, and a relative path under a URL root is
    joined with ``/``."""
    if is_url(image):
        return image
    if os.path.isabs(image):
        return os.path.normpath(image)
    if is_url(images_root):
        return images_root.rstrip("/") + "/" + posixpath.normpath(image.replace(os.sep, "/"))
    return os.path.normpath(os.path.join(images_root, image))


@dataclass
class _Group:
    first: RawEntry
    path: str
    entries: list[RawEntry] = field(default_factory=list)


def build_manifest(entries: Sequence[RawEntry], *, path: str, format: str, images_root: str,
                   class_names: Sequence[str] | None = None,
                   one_entry_per_image: bool = False) -> DatasetManifest:
    """Turn raw entries into samples and skipped samples; raise on run-level problems.

    Parameters
    ----------
    entries : sequence of RawEntry
        The manifest's entries in file order.
    path : str
        The manifest, for error messages.
    format : str
        The format name recorded in the result.
    images_root : str
        Folder relative image paths are resolved against.
    class_names : sequence of str, optional
        The model's classes. ``None`` derives the vocabulary from the labels
        (see :func:`audit.datasets.labels.label_vocabulary`).
    one_entry_per_image : bool
        ``True`` when the format lists each image once (JSON Lines, COCO, VOC): any repeat of an
        image is a duplicate. ``False`` (CSV) merges the rows of one image into one sample.

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
    if class_names is None:
        vocabulary = label_vocabulary(e.label for e in usable)
    else:
        vocabulary = [str(name) for name in class_names]
        if not vocabulary:
            raise DatasetError(f"no class names given to load dataset manifest {path}")

    labelled = [e for e in usable if is_usable_label(e.label)]
    matched = {id(e): _class_index(e.label, vocabulary) for e in usable}
    if labelled and all(matched[id(e)] is None for e in labelled):
        seen = list(dict.fromkeys(label_text(e.label) for e in labelled))
        raise DatasetError(
            f"none of the labels in dataset manifest {path} match the model's classes: "
            f"labels found ({len(seen)}): {format_classes(seen)}; the model's classes "
            f"({len(vocabulary)}): {format_classes(vocabulary) or '(none)'}. "
            "Check class_names (order and spelling) or the manifest's label column"
        )

    entries = [_refuse_surrogates(e) for e in entries]
    groups: dict[Any, _Group] = {}
    for n, entry in enumerate(entries):
        if entry.problem is not None:
            groups[("problem", n)] = _Group(entry, "", [entry])
            continue
        resolved = resolve_image_path(entry.image, images_root)
        group = groups.setdefault(resolved, _Group(entry, resolved))
        group.entries.append(entry)

    samples: list[Sample] = []
    skipped: list[SkippedSample] = []
    n_clipped = 0
    n_duplicates = 0
    dropped_meta: dict[str, str] = {}
    for group in groups.values():
        first = group.first
        if first.problem is not None:
            skipped.append(SkippedSample(first.image or first.where, first.image,
                                         f"{first.where}: {first.problem}"))
            continue
        sample_id = first.image
        kept, dropped = _merge(group.entries, matched, one_entry_per_image)
        n_duplicates += len(dropped)
        for entry, reason in dropped:
            skipped.append(SkippedSample(sample_id, entry.image, f"{entry.where}: {reason}"))
        try:
            label = match_label(first.label, vocabulary)
        except LabelError as exc:
            skipped.append(SkippedSample(sample_id, first.image, f"{first.where}: {exc.reason}"))
            continue
        boxes: list[Box] = []
        box_where: list[str] = []
        problems: list[str] = []
        for entry in kept:
            problems.extend(entry.box_problems)
            boxes.extend(entry.boxes)
            box_where.extend([entry.where] * len(entry.boxes))
        size = next((e.image_size for e in kept if e.image_size is not None), None)
        fitted, clipped = (), 0
        try:
            fitted, clipped = fit_sample_boxes(boxes, size, box_where)
        except BoxesOutsideError as exc:
            problems.extend(exc.outside)
        if problems:
            skipped.append(SkippedSample(
                sample_id, first.image,
                "; ".join(problems) + " (a sample with a broken box is skipped as a whole; "
                "fix or remove the box)"))
            continue
        mask_problems = [reason for entry in kept for reason in entry.mask_problems]
        if mask_problems:
            skipped.append(SkippedSample(
                sample_id, first.image,
                "; ".join(mask_problems) + " (a sample with a broken mask is skipped as a "
                "whole; fix or remove the mask)"))
            continue
        masks = tuple(dict.fromkeys(_resolve_mask(source, images_root)
                                    for entry in kept for source in entry.masks))
        n_clipped += clipped
        samples.append(Sample(sample_id=sample_id, image=first.image, path=group.path,
                              label=label, label_name=vocabulary[label], boxes=fitted,
                              masks=masks, meta=_merge_meta(kept, dropped_meta)))

    if not samples:
        reasons = "; ".join(s.reason for s in skipped[:3])
        raise DatasetError(
            f"dataset manifest {path} has no usable sample: all {len(skipped)} entries were "
            f"skipped. First reasons: {reasons}"
        )
    if dropped_meta:
        samples = [replace(s, meta=Meta((k, v) for k, v in s.meta.items() if k not in dropped_meta))
                   for s in samples]
    return DatasetManifest(samples=samples, skipped=skipped, class_names=list(vocabulary),
                           path=str(path), format=format, n_boxes_clipped=n_clipped,
                           n_duplicates=n_duplicates, images_root=str(images_root),
                           dropped_meta=dropped_meta)


_SURROGATE = re.compile("[\ud800-\udfff]")


def _refuse_surrogates(entry: RawEntry) -> RawEntry:
    """An entry whose text holds a lone surrogate (JSON's ``"\\ud800"``: not a character, so
    no file can have that name and no file can record it) is a problem entry."""
    texts = [("image", entry.image), ("label", entry.label),
             *((f"field {k!r}", v) for k, v in entry.meta.items())]
    for what, text in texts:
        if isinstance(text, str) and _SURROGATE.search(text):
            shown = _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)[:100]
            return replace(entry, image=_SURROGATE.sub("?", entry.image), problem=(
                f"{what} '{shown}' holds a lone surrogate (an invalid \\u escape), which is "
                "not a character; the entry is skipped"), meta=NO_META,
                label=None)
    return entry


def _resolve_mask(source: MaskSource, images_root: str) -> MaskSource:
    if isinstance(source, PngMask):
        return replace(source, path=resolve_image_path(source.path, images_root))
    return source


def _merge_meta(kept: Sequence[RawEntry], dropped: dict[str, str]) -> Meta:
    """The metadata of one sample's kept entries; records disagreeing fields in ``dropped``."""
    values: dict[str, str] = {}
    given_at: dict[str, str] = {}
    for entry in kept:
        for key, value in entry.meta.items():
            known = values.setdefault(key, "")
            if not value:
                continue
            if not known:
                values[key], given_at[key] = value, entry.where
            elif value != known and key not in dropped:
                dropped[key] = (f"image {entry.image!r} has {key!r} {known!r} at {given_at[key]} "
                                f"but {value!r} at {entry.where}")
    return Meta(values)


def _class_index(label: Any, vocabulary: Sequence[str]) -> int | None:
    """The class index of a label, ``None`` when it matches no class."""
    try:
        return match_label(label, vocabulary)
    except LabelError:
        return None


def _merge(entries: list[RawEntry], matched: dict[int, int | None], one_entry_per_image: bool
           ) -> tuple[list[RawEntry], list[tuple[RawEntry, str]]]:
    """Split the entries of one image into the kept ones and the dropped ones (with reasons).

    ``matched`` maps ``id(entry)`` to its class index (``None``: no class); labels that match no
    class are compared as text.
    """
    first = entries[0]
    first_label = matched[id(first)]
    kept = [first]
    dropped: list[tuple[RawEntry, str]] = []
    seen_boxes: dict[Box, str] = {box: first.where for box in first.boxes}
    seen_masks = set(first.masks)
    for entry in entries[1:]:
        label = matched[id(entry)]
        same_label = label == first_label if label is not None else (
            label_text(entry.label) == label_text(first.label))
        if not same_label:
            dropped.append((entry, (
                f"duplicated sample with a conflicting label: image {entry.image!r} is listed "
                f"with label {label_text(entry.label)!r} here but with label "
                f"{label_text(first.label)!r} at {first.where}; the first label is kept and "
                "this entry is ignored")))
            continue
        if one_entry_per_image:
            dropped.append((entry, (
                f"duplicate entry: image {entry.image!r} is listed again (first at "
                f"{first.where}); the first entry is kept and this one is ignored")))
            continue
        adds_mask = bool(entry.mask_problems) or any(m not in seen_masks for m in entry.masks)
        if not entry.boxes and not entry.box_problems and not adds_mask:
            dropped.append((entry, (
                f"duplicate row: image {entry.image!r} is listed again without a box (first at "
                f"{first.where}); the row is ignored")))
            continue
        repeats = [box for box in entry.boxes if box in seen_boxes]
        if repeats and len(repeats) == len(entry.boxes) and not entry.box_problems \
                and not adds_mask:
            dropped.append((entry, (
                f"duplicate row: image {entry.image!r} with box {format_box(repeats[0])} is "
                f"already listed at {seen_boxes[repeats[0]]}; the first row is kept and this "
                "one is ignored")))
            continue
        if repeats:  # kept for a new box or mask: its repeated boxes are not counted twice
            entry = replace(entry, boxes=tuple(b for b in entry.boxes if b not in seen_boxes))
        for box in entry.boxes:
            seen_boxes.setdefault(box, entry.where)
        seen_masks.update(entry.masks)
        kept.append(entry)
    if not first.boxes and not first.box_problems and not first.masks \
            and not first.mask_problems and any(e.boxes or e.box_problems for e in kept[1:]):
        # The first row had no box but later rows give boxes: the box-less row is redundant.
        kept = kept[1:]
        dropped.insert(0, (first, (
            f"duplicate row: image {first.image!r} is listed without a box here, but "
            f"{', '.join(e.where for e in kept)} give its boxes; the box-less row is ignored")))
    return kept, dropped
