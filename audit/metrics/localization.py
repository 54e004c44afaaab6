"""Weakly supervised localisation: the box around the map's largest hot region versus the truth.

The protocol of the Grad-CAM paper (Selvaraju et al., arXiv 1610.02391, section 4.1): keep
the pixels at or above a fraction of the map's maximum, take the largest connected region,
draw its bounding box and compare it with the ground-truth boxes by intersection over union.
"""

from __future__ import annotations

import math
from numbers import Real

import numpy as np
from skimage.measure import label

from audit.metrics.energy import _check_heatmap
from audit.metrics.masks import _as_box_array, _pixel_bounds

__all__ = ["DEFAULT_MIN_IOU", "DEFAULT_THRESHOLD", "loc_correct", "loc_iou"]

#: Fraction of the map's maximum a pixel needs to be kept (Grad-CAM paper: 15%).
DEFAULT_THRESHOLD = 0.15
#: IoU a localisation needs to count as correct.
DEFAULT_MIN_IOU = 0.5


def _check_fraction(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, Real) or not 0 <= value <= 1:
        raise ValueError(f"{name} must be a number in [0, 1]; got {value!r}")
    return float(value)


def _rect_iou(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    """IoU of the pixel sets of two half-open rectangles (min_row, min_col, max_row, max_col)."""
    rows = min(a[2], b[2]) - max(a[0], b[0])
    cols = min(a[3], b[3]) - max(a[1], b[1])
    intersection = max(rows, 0) * max(cols, 0)
    area_a = (a[2] - a[0]) * (a[3] - a[1])
    area_b = (b[2] - b[0]) * (b[3] - b[1])
    union = area_a + area_b - intersection
    return intersection / union


def _largest_component_bounds(array: np.ndarray, threshold: float) -> tuple[int, int, int, int]:
    """Half-open bounding box of the largest 8-connected region with H >= threshold * max(H).

    Ties between equally large regions go to the one holding the map's maximum (the first
    maximal pixel in row-major order); when none of them holds it, to the one whose first
    pixel comes first in row-major order. The map's maximum is positive here.
    """
    peak_index = int(np.argmax(array))
    kept = array >= threshold * array.flat[peak_index]
    # Label only the kept pixels' bounding rectangle: cropping keeps the row-major order of
    # the pixels in it, so the regions, their numbering and the tie-break are those of the
    # whole map, for a fraction of the work on a photo-sized map.
    top, left, bottom, right = _true_bounds(kept)
    labels, count = label(kept[top:bottom, left:right], connectivity=2, return_num=True)
    if count == 1:  # one region: the rectangle is its bounding box
        return top, left, bottom, right
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0  # background
    tied = np.flatnonzero(sizes == sizes.max())
    peak_row, peak_col = divmod(peak_index, array.shape[1])
    peak_label = int(labels[peak_row - top, peak_col - left])
    # skimage numbers regions in row-major order of their first pixel, so tied[0] is the
    # region that starts first.
    chosen = peak_label if peak_label in tied else int(tied[0])
    r0, c0, r1, c1 = _true_bounds(labels == chosen)
    return top + r0, left + c0, top + r1, left + c1


def _true_bounds(mask: np.ndarray) -> tuple[int, int, int, int]:
    """Half-open bounds of a non-empty boolean mask's true pixels, from its row and column
    projections (no coordinate list of its pixels is built)."""
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    return int(rows[0]), int(cols[0]), int(rows[-1]) + 1, int(cols[-1]) + 1


def loc_iou(heatmap, boxes, *, threshold: float = DEFAULT_THRESHOLD) -> float:
    """IoU between the box around the map's largest hot region and the best-matching true box.

    Parameters
    ----------
    heatmap : array_like, shape (height, width)
        Finite, non-negative map.
    boxes : sequence of Box, or array of shape (M, 4)
        Ground-truth boxes ``(x_min, y_min, x_max, y_max)`` in the map's pixel-edge
        coordinates (see :mod:`audit.metrics.masks`); clipped to the map.
    threshold : float, optional
        Pixels with ``H >= threshold * max(H)`` are kept.

    Returns
    -------
    iou : float
        In ``[0, 1]``: the largest IoU over the ground-truth boxes. NaN when the map is all
        zero, or when there are no boxes (or none overlaps the image).

    Raises
    ------
    ValueError
        If the map is not 2-D, finite and non-negative, a box is malformed, or the threshold
        is outside ``[0, 1]``.

    Notes
    -----
    The kept pixels are split into regions with 8-connectivity
    (``skimage.measure.label(..., connectivity=2)``) and the largest region by pixel count is
    taken. Ties go to the region holding the map's maximum (the first maximal pixel in
    row-major order); if none of the tied regions holds it, to the tied region whose first
    pixel comes first in row-major order. The IoU is that of the pixel sets of the two
    rectangles: the region's bounding box and the pixels a ground-truth box covers.

    Examples
    --------
    >>> import numpy as np
    >>> heatmap = np.zeros((10, 10)); heatmap[2:6, 2:6] = 1.0
    >>> loc_iou(heatmap, [(2, 2, 6, 6)])
    1.0
    >>> loc_iou(heatmap, [(4, 2, 8, 6), (0, 0, 1, 1)])
    0.3333333333333333
    """
    array = _check_heatmap(heatmap)
    return _loc_iou(array, boxes, _check_fraction(threshold, "threshold"))


def _loc_iou(array: np.ndarray, boxes, threshold: float) -> float:
    """:func:`loc_iou` of a checked map and threshold (the boxes are checked here)."""
    height, width = array.shape
    truth = [_pixel_bounds(coords, height, width) for coords in _as_box_array(boxes)]
    truth = [b for b in truth if b[2] > b[0] and b[3] > b[1]]
    if not truth or float(array.max()) == 0.0:
        return math.nan
    predicted = _largest_component_bounds(array, threshold)
    return max(_rect_iou(predicted, b) for b in truth)


def loc_correct(iou: float, *, min_iou: float = DEFAULT_MIN_IOU) -> float:
    """Whether a localisation counts as correct: ``iou >= min_iou``.

    Parameters
    ----------
    iou : float
        A :func:`loc_iou` value in ``[0, 1]``, or NaN.
    min_iou : float, optional
        Smallest IoU that counts as correct.

    Returns
    -------
    correct : float
        1.0 or 0.0; NaN when ``iou`` is NaN.

    Raises
    ------
    ValueError
        If ``iou`` is neither NaN nor in ``[0, 1]``, or ``min_iou`` is outside ``[0, 1]``.

    Examples
    --------
    >>> loc_correct(0.5)
    1.0
    >>> loc_correct(0.49)
    0.0
    >>> loc_correct(float("nan"))
    nan
    """
    min_iou = _check_fraction(min_iou, "min_iou")
    if isinstance(iou, Real) and not isinstance(iou, bool) and math.isnan(iou):
        return math.nan
    iou = _check_fraction(iou, "iou")
    return 1.0 if iou >= min_iou else 0.0
