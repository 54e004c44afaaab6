"""Shared logic that turns a manifest's raw entries into :class:`Sample` records.

Every format loader (CSV, JSON Lines, COCO, Pascal VOC) parses its file into a list of
:class:`RawEntry` (one image, one label, its boxes, and where in the file it was written) and
hands them to :func:`build_manifest`, which matches labels, groups entries of one image,
validates boxes and decides what is skipped.

Conventions
-----------
Labels
    A label is matched to the class vocabulary by **name first** (exact, after stripping
    whitespace), then as an **index**: a non-negative ``int`` or ASCII digit string in range.
    Without ``class_names`` the vocabulary is derived from the manifest: when every label is an
    integer (or integer string) it is ``["0", "1", ..., str(max)]`` so that index ``i`` is named
    ``str(i)``; otherwise it is the sorted distinct label names. ``Sample.label_name`` is always
    ``class_names[Sample.label]``.
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
    A sample with any broken box (non-numeric or NaN coordinate, inverted, zero area, entirely
    outside the image) is skipped as a whole: auditing localisation against an incomplete ground
    truth would bias every score. Boxes partly outside the image are clipped to it and counted in
    ``n_boxes_clipped``. Negative coordinates are clipped even when the image size is not known
    yet; the rest of the check happens when the size is known (declared by COCO/VOC, or when the
    image is read, see :mod:`audit.datasets.stream`).
Errors
    Per-sample problems never raise. Run-level problems raise
    :class:`~audit.errors.DatasetError` naming the manifest file.
"""

from __future__ import annotations

import math
import os
import posixpath
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from audit.datasets.types import Box, Sample, SkippedSample
from audit.errors import DatasetError
from audit.files import is_url

BOX_FIELDS = ("x_min", "y_min", "x_max", "y_max")
_INT_TEXT = re.compile(r"[+-]?[0-9]+")
_MAX_LISTED = 10


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
        Boxes that could not be parsed, one reason each; any of them skips the sample.
    image_size : tuple of int or None
        ``(height, width)`` when the manifest declares it.
    problem : str or None
        A problem that makes the whole entry unusable (malformed line, no label...). The entry
        is skipped with this reason and takes no part in grouping.
    """

    image: str
    label: Any
    where: str
    boxes: tuple[Box, ...] = ()
    box_problems: tuple[str, ...] = ()
    image_size: tuple[int, int] | None = None
    problem: str | None = None


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
    """

    samples: list[Sample]
    skipped: list[SkippedSample]
    class_names: list[str]
    path: str
    format: str
    n_boxes_clipped: int = 0
    n_duplicates: int = 0
    images_root: str = ""

    def __len__(self) -> int:
        return len(self.samples)


# ---------------------------------------------------------------------------------------------
# Labels


def _label_text(label: Any) -> str:
    return label.strip() if isinstance(label, str) else str(label)


def _is_usable_label(label: Any) -> bool:
    if isinstance(label, bool) or label is None:
        return False
    if isinstance(label, int):
        return True
    return isinstance(label, str) and bool(label.strip())


def _as_int(label: Any) -> int | None:
    """The integer a label spells (``3``, ``"3"``, ``" 03 "``, ``"-1"``), else ``None``."""
    if isinstance(label, bool):
        return None
    if isinstance(label, int):
        return label
    if isinstance(label, str) and _INT_TEXT.fullmatch(label.strip()):
        return int(label.strip())
    return None


def label_vocabulary(labels: Iterable[Any]) -> list[str]:
    """The class vocabulary implied by a manifest's labels when no class names are given.

    Parameters
    ----------
    labels : iterable
        Labels as written. Missing or unusable ones (``None``, ``""``, bools, floats) are ignored.

    Returns
    -------
    list of str
        ``["0", ..., str(max)]`` when every usable label is an integer (negative ones excluded
        from the range), otherwise the sorted distinct label names.
    """
    usable = [lab for lab in labels if _is_usable_label(lab)]
    if not usable:
        return []
    ints = [_as_int(lab) for lab in usable]
    if all(i is not None for i in ints):
        top = max(ints)  # type: ignore[type-var]
        return [str(i) for i in range(top + 1)] if top >= 0 else []
    return sorted({_label_text(lab) for lab in usable})


def format_classes(class_names: Sequence[str], limit: int = _MAX_LISTED) -> str:
    """``'a', 'b', 'c'`` listing at most ``limit`` names, then ``(and N more)``."""
    shown = ", ".join(repr(name) for name in class_names[:limit])
    rest = len(class_names) - limit
    return f"{shown} (and {rest} more)" if rest > 0 else shown


def match_label(label: Any, class_names: Sequence[str]) -> int | str:
    """Match a label to a class index.

    Parameters
    ----------
    label : object
        The label as written: a class name, an ``int`` index or a digit string.
    class_names : sequence of str
        The class vocabulary.

    Returns
    -------
    int or str
        The class index, or a reason (str) why the label matches no class.
    """
    if label is None or (isinstance(label, str) and not label.strip()):
        return "no label is given"
    if isinstance(label, bool) or isinstance(label, float) or not isinstance(label, int | str):
        return (
            f"label {label!r} ({type(label).__name__}) is neither a class name nor an integer "
            f"class index"
        )
    text = _label_text(label)
    if isinstance(label, str):
        for index, name in enumerate(class_names):
            if name == text:
                return index
    number = _as_int(label)
    if number is not None:
        if 0 <= number < len(class_names):
            return number
        return (
            f"label {text!r} is not a class name, and as a class index it is out of range: "
            f"the model has {len(class_names)} classes (indices 0..{len(class_names) - 1}): "
            f"{format_classes(class_names)}"
        )
    hint = ""
    folded = [name for name in class_names if name.casefold() == text.casefold()]
    if folded:
        hint = f" (did you mean {folded[0]!r}? names are case-sensitive)"
    return (
        f"label {text!r} is not a known class{hint}; the {len(class_names)} known classes are "
        f"{format_classes(class_names)}"
    )


# ---------------------------------------------------------------------------------------------
# Boxes


def parse_number(value: Any) -> float | None:
    """A coordinate as a float: numbers and numeric strings; ``None`` when not a number.

    NaN and infinities are returned as they are (and rejected by :func:`parse_box`).
    """
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


def parse_box(values: Sequence[Any], where: str,
              names: Sequence[str] = BOX_FIELDS) -> Box | str:
    """Parse and check four corner coordinates ``(x_min, y_min, x_max, y_max)``.

    Parameters
    ----------
    values : sequence
        Four raw coordinates (numbers or numeric strings).
    where : str
        Location of the box in the manifest, for the reason.
    names : sequence of str
        Names of the four fields, for the reason.

    Returns
    -------
    Box or str
        The box, or the reason it is invalid (non-numeric, NaN, inverted, zero area).
    """
    if len(values) != 4:
        return f"{where}: a box needs 4 coordinates {tuple(names)}, got {len(values)}: {values!r}"
    coords: list[float] = []
    for name, raw in zip(names, values, strict=True):
        number = parse_number(raw)
        if number is None:
            shown = "empty" if raw is None or (isinstance(raw, str) and not raw.strip()) \
                else f"{raw!r}, not a number"
            return f"{where}: box coordinate {name} is {shown}"
        if not math.isfinite(number):
            return f"{where}: box coordinate {name} is {raw!r}; coordinates must be finite numbers"
        coords.append(number)
    return check_box(Box(*coords), where)


def check_box(box: Box, where: str) -> Box | str:
    """The box if its corners are finite and ordered with a positive area, else a reason."""
    if not box.is_finite():
        return f"{where}: box {box.as_tuple()} has a NaN or infinite coordinate"
    for lo, hi, size in (("x_min", "x_max", "width"), ("y_min", "y_max", "height")):
        a, b = getattr(box, lo), getattr(box, hi)
        if b < a:
            return (
                f"{where}: box is inverted: {hi} ({b:g}) is smaller than {lo} ({a:g}); "
                f"expected {lo} < {hi} (corners, not {size})"
            )
        if b == a:
            return f"{where}: box has zero area: {lo} and {hi} are both {a:g} (zero {size})"
    return box


def fit_box(box: Box, image_size: tuple[int, int] | None) -> tuple[Box | None, bool]:
    """Clip a valid box to its image.

    Parameters
    ----------
    box : Box
        A box with ``x_min < x_max`` and ``y_min < y_max``.
    image_size : tuple of int or None
        ``(height, width)``; ``None`` clips negative coordinates only.

    Returns
    -------
    (Box or None, bool)
        The clipped box (``None`` when no part of it lies in the image) and whether it changed.
    """
    width = math.inf if image_size is None else float(image_size[1])
    height = math.inf if image_size is None else float(image_size[0])
    x0, y0 = max(box.x_min, 0.0), max(box.y_min, 0.0)
    x1, y1 = min(box.x_max, width), min(box.y_max, height)
    if x1 <= x0 or y1 <= y0:
        return None, True
    clipped = Box(x0, y0, x1, y1)
    return clipped, clipped != box


def fit_sample_boxes(boxes: Sequence[Box], image_size: tuple[int, int] | None,
                     where: Sequence[str] | None = None
                     ) -> tuple[tuple[Box, ...], int, list[str]]:
    """Clip a sample's boxes to its image.

    Parameters
    ----------
    boxes : sequence of Box
        Valid boxes of one sample.
    image_size : tuple of int or None
        ``(height, width)`` of the image, ``None`` when not known yet.
    where : sequence of str, optional
        Location of each box, for reasons; defaults to ``"box 1"``, ``"box 2"``...

    Returns
    -------
    (tuple of Box, int, list of str)
        The clipped boxes, how many were clipped, and one reason per box entirely outside.
    """
    kept: list[Box] = []
    problems: list[str] = []
    n_clipped = 0
    for i, box in enumerate(boxes):
        fitted, changed = fit_box(box, image_size)
        label = where[i] if where is not None else f"box {i + 1}"
        if fitted is None:
            if image_size is None:
                extent = "the image (it lies left of or above the top-left corner)"
            else:
                extent = f"the {image_size[1]}x{image_size[0]} (width x height) image"
            problems.append(
                f"{label}: box {_fmt_box(box)} lies entirely outside {extent}; the image may "
                "not be the one annotated, or the coordinates refer to another size"
            )
            continue
        n_clipped += int(changed)
        kept.append(fitted)
    return tuple(kept), n_clipped, problems


def _fmt_box(box: Box) -> str:
    return "(" + ", ".join(f"{v:g}" for v in box.as_tuple()) + ")"


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
        (see :func:`label_vocabulary`).
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

    labelled = [e for e in usable if _is_usable_label(e.label)]
    matched = {id(e): match_label(e.label, vocabulary) for e in usable}
    if labelled and not any(isinstance(matched[id(e)], int) for e in labelled):
        seen = list(dict.fromkeys(_label_text(e.label) for e in labelled))
        raise DatasetError(
            f"none of the labels in dataset manifest {path} match the model's classes: "
            f"labels found ({len(seen)}): {format_classes(seen)}; the model's classes "
            f"({len(vocabulary)}): {format_classes(vocabulary) or '(none)'}. "
            "Check class_names (order and spelling) or the manifest's label column"
        )

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
    for group in groups.values():
        first = group.first
        if first.problem is not None:
            skipped.append(SkippedSample(first.image or first.where, first.image,
                                         f"{first.where}: {first.problem}"))
            continue
        sample_id = first.image
        label = matched[id(first)]
        kept, dropped = _merge(group.entries, matched, one_entry_per_image)
        n_duplicates += len(dropped)
        for entry, reason in dropped:
            skipped.append(SkippedSample(sample_id, entry.image, f"{entry.where}: {reason}"))
        if isinstance(label, str):
            skipped.append(SkippedSample(sample_id, first.image, f"{first.where}: {label}"))
            continue
        boxes: list[Box] = []
        box_where: list[str] = []
        problems: list[str] = []
        for entry in kept:
            problems.extend(entry.box_problems)
            boxes.extend(entry.boxes)
            box_where.extend([entry.where] * len(entry.boxes))
        size = next((e.image_size for e in kept if e.image_size is not None), None)
        fitted, clipped, outside = fit_sample_boxes(boxes, size, box_where)
        problems.extend(outside)
        if problems:
            skipped.append(SkippedSample(
                sample_id, first.image,
                "; ".join(problems) + " (a sample with a broken box is skipped as a whole; "
                "fix or remove the box)"))
            continue
        n_clipped += clipped
        samples.append(Sample(sample_id=sample_id, image=first.image, path=group.path,
                              label=label, label_name=vocabulary[label], boxes=fitted))

    if not samples:
        reasons = "; ".join(s.reason for s in skipped[:3])
        raise DatasetError(
            f"dataset manifest {path} has no usable sample: all {len(skipped)} entries were "
            f"skipped. First reasons: {reasons}"
        )
    return DatasetManifest(samples=samples, skipped=skipped, class_names=list(vocabulary),
                           path=str(path), format=format, n_boxes_clipped=n_clipped,
                           n_duplicates=n_duplicates, images_root=str(images_root))


def _merge(entries: list[RawEntry], matched: dict[int, int | str], one_entry_per_image: bool
           ) -> tuple[list[RawEntry], list[tuple[RawEntry, str]]]:
    """Split the entries of one image into the kept ones and the dropped ones (with reasons)."""
    first = entries[0]
    first_label = matched[id(first)]
    kept = [first]
    dropped: list[tuple[RawEntry, str]] = []
    seen_boxes: dict[Box, str] = {box: first.where for box in first.boxes}
    for entry in entries[1:]:
        label = matched[id(entry)]
        same_label = label == first_label if isinstance(label, int) else (
            _label_text(entry.label) == _label_text(first.label))
        if not same_label:
            dropped.append((entry, (
                f"duplicated sample with a conflicting label: image {entry.image!r} is listed "
                f"with label {_label_text(entry.label)!r} here but with label "
                f"{_label_text(first.label)!r} at {first.where}; the first label is kept and "
                "this entry is ignored")))
            continue
        if one_entry_per_image:
            dropped.append((entry, (
                f"duplicate entry: image {entry.image!r} is listed again (first at "
                f"{first.where}); the first entry is kept and this one is ignored")))
            continue
        if not entry.boxes and not entry.box_problems:
            dropped.append((entry, (
                f"duplicate row: image {entry.image!r} is listed again without a box (first at "
                f"{first.where}); the row is ignored")))
            continue
        repeats = [box for box in entry.boxes if box in seen_boxes]
        if repeats and len(repeats) == len(entry.boxes) and not entry.box_problems:
            dropped.append((entry, (
                f"duplicate row: image {entry.image!r} with box {_fmt_box(repeats[0])} is "
                f"already listed at {seen_boxes[repeats[0]]}; the first row is kept and this "
                "one is ignored")))
            continue
        for box in entry.boxes:
            seen_boxes.setdefault(box, entry.where)
        kept.append(entry)
    if not first.boxes and not first.box_problems and len(kept) > 1:
        # The first row had no box but later rows give boxes: the box-less row is redundant.
        kept = kept[1:]
        dropped.insert(0, (first, (
            f"duplicate row: image {first.image!r} is listed without a box here, but "
            f"{', '.join(e.where for e in kept)} give its boxes; the box-less row is ignored")))
    return kept, dropped


def apply_image_size(sample: Sample, image_size: tuple[int, int]
                     ) -> tuple[Sample | SkippedSample, int]:
    """Check a sample's boxes against its image's actual size, clipping where needed.

    Parameters
    ----------
    sample : Sample
        A loaded sample.
    image_size : tuple of int
        ``(height, width)`` of the decoded image.

    Returns
    -------
    (Sample or SkippedSample, int)
        The sample with clipped boxes (or a skipped sample when a box lies entirely outside
        the image) and the number of boxes clipped.
    """
    if not sample.boxes:
        return sample, 0
    fitted, clipped, outside = fit_sample_boxes(sample.boxes, image_size)
    if outside:
        lost = "no box is left" if not fitted else f"{len(fitted)} of {len(sample.boxes)} " \
            "boxes are usable"
        return SkippedSample(sample.sample_id, sample.image, (
            "; ".join(outside) + f" ({lost}; a sample with a broken box is skipped as a whole)"
        )), 0
    if clipped == 0:
        return sample, 0
    return replace(sample, boxes=fitted), clipped


def dominant_label(labelled_areas: Sequence[tuple[Any, float]]) -> Any:
    """The label with the largest total box area among an image's objects.

    Used by COCO and VOC, where an image's label is the category of its objects. Objects
    without a valid box count with area 0; ties go to the label that appears first.

    Parameters
    ----------
    labelled_areas : sequence of (label, area)
        One pair per object, in file order. Must not be empty.

    Returns
    -------
    object
        The chosen label.
    """
    totals: dict[Any, float] = {}
    for label, area in labelled_areas:
        totals[label] = totals.get(label, 0.0) + (area if math.isfinite(area) else 0.0)
    best = max(totals.values())
    return next(label for label, total in totals.items() if total == best)
