"""Boxes: parsing the coordinates a manifest writes, checking them, and clipping them to images.

Conventions
-----------
Boxes are continuous pixel-edge corners in the original image (see :mod:`audit.datasets.types`).

* A box is **broken** when a coordinate is not a number, NaN or infinite, or when it is inverted
  or has zero area. :func:`parse_box` and :func:`check_box` raise :class:`BoxError` for it.
* A box **partly outside** its image is clipped to it (:func:`fit_box`) and counted.
* A box **entirely outside** its image is broken: :func:`fit_sample_boxes` raises
  :class:`BoxesOutsideError` listing every such box of the sample.
* A sample with any broken box is skipped as a whole: auditing localisation against an
  incomplete ground truth would bias every score. Negative coordinates are clipped even when the
  image size is not known yet; the rest of the check happens when the size is known (declared by
  COCO/VOC, or when the image is read: :func:`apply_image_size`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from audit.datasets.types import Box, Sample, SampleError

BOX_FIELDS = ("x_min", "y_min", "x_max", "y_max")


class BoxError(SampleError):
    """A broken box: its reason starts with the box's place in the manifest."""


class BoxesOutsideError(BoxError):
    """Boxes of one sample that lie entirely outside its image.

    Parameters
    ----------
    outside : sequence of str
        One reason per box entirely outside, in box order.
    n_inside : int
        How many of the sample's boxes are (at least partly) inside the image.
    """

    def __init__(self, outside: Sequence[str], n_inside: int) -> None:
        super().__init__("; ".join(outside))
        self.outside = tuple(outside)
        self.n_inside = n_inside

    def __reduce__(self):
        return type(self), (self.outside, self.n_inside)


def parse_number(value: Any) -> float | None:
    """A coordinate as a float: numbers and numeric strings; ``None`` when not a number.

    NaN and infinities are returned as they are (and rejected by :func:`parse_box`).

    Examples
    --------
    >>> parse_number(" 2.5 "), parse_number(3), parse_number("x"), parse_number(True)
    (2.5, 3.0, None, None)
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


def parse_box(values: Sequence[Any], where: str, names: Sequence[str] = BOX_FIELDS) -> Box:
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
    Box

    Raises
    ------
    BoxError
        Not four values, a coordinate not a finite number, an inverted box or zero area.

    Examples
    --------
    >>> parse_box(["1", 2, 5, "6.5"], "line 2")
    Box(x_min=1.0, y_min=2.0, x_max=5.0, y_max=6.5)
    >>> parse_box([1, 2, "", 6], "line 3")
    Traceback (most recent call last):
    ...
    audit.datasets.boxes.BoxError: line 3: box coordinate x_max is empty
    """
    if len(values) != 4:
        raise BoxError(
            f"{where}: a box needs 4 coordinates {tuple(names)}, got {len(values)}: {values!r}")
    coords: list[float] = []
    for name, raw in zip(names, values, strict=True):
        number = parse_number(raw)
        if number is None:
            shown = "empty" if raw is None or (isinstance(raw, str) and not raw.strip()) \
                else f"{raw!r}, not a number"
            raise BoxError(f"{where}: box coordinate {name} is {shown}")
        if not math.isfinite(number):
            raise BoxError(
                f"{where}: box coordinate {name} is {raw!r}; coordinates must be finite numbers")
        coords.append(number)
    return check_box(Box(*coords), where)


def check_box(box: Box, where: str) -> Box:
    """The box itself when its corners are finite and ordered with a positive area.

    Raises
    ------
    BoxError
        A NaN or infinite corner, an inverted box, or zero width or height.

    Examples
    --------
    >>> check_box(Box(3, 1, 3, 4), "line 5")
    Traceback (most recent call last):
    ...
    audit.datasets.boxes.BoxError: line 5: box has zero area: x_min and x_max are both 3 \
(zero width)
    """
    if not box.is_finite():
        raise BoxError(f"{where}: box {box.as_tuple()} has a NaN or infinite coordinate")
    for lo, hi, size in (("x_min", "x_max", "width"), ("y_min", "y_max", "height")):
        a, b = getattr(box, lo), getattr(box, hi)
        if b < a:
            raise BoxError(
                f"{where}: box is inverted: {hi} ({b:g}) is smaller than {lo} ({a:g}); "
                f"expected {lo} < {hi} (corners, not {size})"
            )
        if b == a:
            raise BoxError(
                f"{where}: box has zero area: {lo} and {hi} are both {a:g} (zero {size})")
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

    Examples
    --------
    >>> fit_box(Box(-2, 1, 5, 30), (20, 10))
    (Box(x_min=0.0, y_min=1, x_max=5, y_max=20.0), True)
    >>> fit_box(Box(12, 1, 15, 3), (20, 10))
    (None, True)
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
                     where: Sequence[str] | None = None) -> tuple[tuple[Box, ...], int]:
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
    (tuple of Box, int)
        The clipped boxes and how many were clipped.

    Raises
    ------
    BoxesOutsideError
        Some boxes lie entirely outside the image; it lists one reason per such box.
    """
    kept: list[Box] = []
    outside: list[str] = []
    n_clipped = 0
    for i, box in enumerate(boxes):
        fitted, changed = fit_box(box, image_size)
        label = where[i] if where is not None else f"box {i + 1}"
        if fitted is None:
            if image_size is None:
                extent = "the image (it lies left of or above the top-left corner)"
            else:
                extent = f"the {image_size[1]}x{image_size[0]} (width x height) image"
            outside.append(
                f"{label}: box {format_box(box)} lies entirely outside {extent}; the image may "
                "not be the one annotated, or the coordinates refer to another size"
            )
            continue
        n_clipped += int(changed)
        kept.append(fitted)
    if outside:
        raise BoxesOutsideError(outside, n_inside=len(kept))
    return tuple(kept), n_clipped


def apply_image_size(sample: Sample, image_size: tuple[int, int]) -> tuple[Sample, int]:
    """Check a sample's boxes against its image's actual size, clipping where needed.

    Parameters
    ----------
    sample : Sample
        A loaded sample.
    image_size : tuple of int
        ``(height, width)`` of the decoded image.

    Returns
    -------
    (Sample, int)
        The sample with clipped boxes (the same object when nothing changed) and the number of
        boxes clipped.

    Raises
    ------
    BoxError
        A box lies entirely outside the image; the reason says how many boxes are usable.
    """
    if not sample.boxes:
        return sample, 0
    try:
        fitted, clipped = fit_sample_boxes(sample.boxes, image_size)
    except BoxesOutsideError as exc:
        lost = "no box is left" if not exc.n_inside else f"{exc.n_inside} of " \
            f"{len(sample.boxes)} boxes are usable"
        raise BoxError(
            "; ".join(exc.outside) + f" ({lost}; a sample with a broken box is skipped as a whole)"
        ) from None
    if clipped == 0:
        return sample, 0
    if sample.label_set:  # a multi-label sample's labels hold the same boxes: clip them too
        labels = tuple(replace(objects, boxes=tuple(fit_box(box, image_size)[0]
                                                    for box in objects.boxes))
                       for objects in sample.label_set)
        return replace(sample, boxes=fitted, label_set=labels), clipped
    return replace(sample, boxes=fitted), clipped


def format_box(box: Box) -> str:
    """``(x_min, y_min, x_max, y_max)`` with ``%g`` numbers, for reasons.

    Examples
    --------
    >>> format_box(Box(1, 2.5, 10, 12))
    '(1, 2.5, 10, 12)'
    """
    return "(" + ", ".join(f"{v:g}" for v in box.as_tuple()) + ")"
