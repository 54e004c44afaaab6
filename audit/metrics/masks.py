"""Ground-truth boxes as pixel rectangles and masks.

Boxes follow the convention of :class:`audit.datasets.types.Box`: continuous pixel-edge
coordinates ``(x_min, y_min, x_max, y_max)``; a box covers the pixel columns
``floor(x_min) .. ceil(x_max) - 1`` and the rows ``floor(y_min) .. ceil(y_max) - 1``.
Coordinates within :data:`SNAP_TOLERANCE` of a whole number are treated as that whole
number first, so that a box rescaled with floating-point noise (``4.999999999`` or
``5.000000001`` for an edge at 5) does not gain or lose a row or column of pixels.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from audit.validation import check_shape

__all__ = ["SNAP_TOLERANCE", "box_to_pixel_bounds", "boxes_to_mask"]

#: Box edges closer than this to a whole number of pixels are snapped to it.
SNAP_TOLERANCE = 1e-6


def _box_coordinates(box) -> tuple[float, float, float, float]:
    """The four coordinates of a Box (or anything with ``as_tuple``) or a 4-sequence."""
    values = box.as_tuple() if hasattr(box, "as_tuple") else box
    try:
        coords = tuple(float(v) for v in values)
    except (TypeError, ValueError):
        raise ValueError(
            f"a box must be a Box or four numbers (x_min, y_min, x_max, y_max); got {box!r}"
        ) from None
    if len(coords) != 4:
        raise ValueError(
            "a box must be a Box or four numbers (x_min, y_min, x_max, y_max); "
            f"got {len(coords)} values: {box!r}"
        )
    return coords  # type: ignore[return-value]


def _as_box_array(boxes) -> np.ndarray:
    """``boxes`` (sequence of Box / 4-sequences, or an (M, 4) array) as a float (M, 4) array.

    Raises ValueError for non-finite coordinates or a box whose maximum is below its minimum.
    """
    if isinstance(boxes, np.ndarray):
        if boxes.size == 0:
            return np.zeros((0, 4), dtype=float)
        if boxes.ndim != 2 or boxes.shape[1] != 4:
            raise ValueError(
                "boxes as an array must have shape (M, 4) holding x_min, y_min, x_max, y_max; "
                f"got shape {boxes.shape}"
            )
        if not np.issubdtype(boxes.dtype, np.number) or np.issubdtype(
            boxes.dtype, np.complexfloating
        ):
            raise ValueError(f"boxes must hold real numbers; got dtype {boxes.dtype}")
        array = boxes.astype(float)
    elif isinstance(boxes, Sequence) and not isinstance(boxes, str | bytes):
        array = np.array([_box_coordinates(b) for b in boxes], dtype=float).reshape(-1, 4)
    else:
        raise ValueError(
            "boxes must be a sequence of Box (or of 4 numbers) or an (M, 4) array; "
            f"got {type(boxes).__name__}"
        )
    if not np.all(np.isfinite(array)):
        bad = array[~np.all(np.isfinite(array), axis=1)][0]
        raise ValueError(f"box coordinates must be finite; got {tuple(bad.tolist())}")
    inverted = (array[:, 2] < array[:, 0]) | (array[:, 3] < array[:, 1])
    if np.any(inverted):
        bad = array[inverted][0]
        raise ValueError(
            "a box needs x_min <= x_max and y_min <= y_max; "
            f"got (x_min, y_min, x_max, y_max) = {tuple(bad.tolist())}"
        )
    return array


def _snap(value: float) -> float:
    nearest = round(value)
    return float(nearest) if abs(value - nearest) <= SNAP_TOLERANCE else value


def _pixel_bounds(coords, height: int, width: int) -> tuple[int, int, int, int]:
    """Clipped half-open pixel bounds ``(min_row, min_col, max_row, max_col)`` of one box."""
    x_min, y_min, x_max, y_max = (_snap(float(v)) for v in coords)
    min_col = min(max(math.floor(x_min), 0), width)
    min_row = min(max(math.floor(y_min), 0), height)
    max_col = min(max(math.ceil(x_max), min_col), width)
    max_row = min(max(math.ceil(y_max), min_row), height)
    return min_row, min_col, max_row, max_col


def box_to_pixel_bounds(box, shape) -> tuple[int, int, int, int]:
    """The pixel rectangle a box covers in an image, clipped to the image.

    Parameters
    ----------
    box : Box or sequence of 4 floats
        ``(x_min, y_min, x_max, y_max)`` in continuous pixel-edge coordinates.
    shape : tuple of int
        ``(height, width)`` of the image.

    Returns
    -------
    min_row, min_col, max_row, max_col : int
        Half-open bounds, as in ``skimage.measure.regionprops(...).bbox``: the box covers
        ``image[min_row:max_row, min_col:max_col]``. A box entirely outside the image gives
        an empty rectangle (``min_row == max_row`` or ``min_col == max_col``).

    Raises
    ------
    ValueError
        If ``shape`` is not two positive integers, a coordinate is not finite, or
        ``x_max < x_min`` or ``y_max < y_min``.

    Examples
    --------
    >>> from audit.datasets.types import Box
    >>> box_to_pixel_bounds(Box(2, 1, 5, 3), (4, 6))
    (1, 2, 3, 5)
    >>> box_to_pixel_bounds(Box(2.5, 1.2, 5.5, 3.7), (4, 5))
    (1, 2, 4, 5)
    """
    height, width = check_shape(shape)
    (coords,) = _as_box_array([box])
    return _pixel_bounds(coords, height, width)


def boxes_to_mask(boxes, shape) -> np.ndarray:
    """The union of the pixels covered by some boxes, as a boolean mask.

    Parameters
    ----------
    boxes : sequence of Box, or array of shape (M, 4)
        Boxes as ``(x_min, y_min, x_max, y_max)`` in continuous pixel-edge coordinates.
        Boxes are clipped to the image; an empty sequence gives an empty mask.
    shape : tuple of int
        ``(height, width)`` of the image.

    Returns
    -------
    mask : ndarray of bool, shape (height, width)
        True on every pixel covered by at least one box.

    Raises
    ------
    ValueError
        If ``shape`` is not two positive integers, or a box is malformed (see
        :func:`box_to_pixel_bounds`).

    Examples
    --------
    >>> from audit.datasets.types import Box
    >>> boxes_to_mask([Box(1, 0, 3, 2), Box(2, 1, 9, 2)], (3, 4)).astype(int)
    array([[0, 1, 1, 0],
           [0, 1, 1, 1],
           [0, 0, 0, 0]])
    """
    height, width = check_shape(shape)
    array = _as_box_array(boxes)
    mask = np.zeros((height, width), dtype=bool)
    for coords in array:
        min_row, min_col, max_row, max_col = _pixel_bounds(coords, height, width)
        mask[min_row:max_row, min_col:max_col] = True
    return mask
