"""The pointing game: is the map's maximum on (or near) the object?

Zhang et al., "Top-down neural attention by excitation backprop" (arXiv 1608.00507), with the
conventions of TorchRay's reference code: the maximum is the first maximal pixel in row-major
order, and it scores a hit when a box pixel lies within ``tolerance`` pixels of it. Distances
are Euclidean distances between pixel indices, in the pixels of the map given, so pass maps
at the original image's scale (or scale the tolerance) to measure at that scale.
"""

from __future__ import annotations

import math
from numbers import Real

import numpy as np

from audit.metrics.energy import _check_heatmap, _check_mask

__all__ = ["DEFAULT_TOLERANCE", "centre_hit", "pointing_hit"]

#: The pointing game's tolerance in pixels (Zhang et al.).
DEFAULT_TOLERANCE = 15


def _check_tolerance(tolerance) -> float:
    if (
        isinstance(tolerance, bool)
        or not isinstance(tolerance, Real)
        or not math.isfinite(tolerance)
        or tolerance < 0
    ):
        raise ValueError(f"tolerance must be a finite number of pixels >= 0; got {tolerance!r}")
    return float(tolerance)


def _hit_near(mask: np.ndarray, row: int, col: int, tolerance: float) -> float:
    """1.0 when a True pixel of ``mask`` is within ``tolerance`` of (row, col), else 0.0.

    Only the window of half-size ``floor(tolerance)`` around the point can hold such a
    pixel, so the work is O(tolerance**2) whatever the image size.
    """
    reach = math.floor(tolerance)
    height, width = mask.shape
    top, bottom = max(row - reach, 0), min(row + reach + 1, height)
    left, right = max(col - reach, 0), min(col + reach + 1, width)
    rows, cols = np.nonzero(mask[top:bottom, left:right])
    if rows.size == 0:
        return 0.0
    d_row = rows + (top - row)
    d_col = cols + (left - col)
    nearest = int(np.min(d_row * d_row + d_col * d_col))
    return 1.0 if nearest <= tolerance * tolerance else 0.0


def pointing_hit(heatmap, box_mask, *, tolerance: float = DEFAULT_TOLERANCE) -> float:
    """Whether the map's maximum lies within ``tolerance`` pixels of a box pixel.

    Parameters
    ----------
    heatmap : array_like, shape (height, width)
        Finite, non-negative map.
    box_mask : array_like of bool, shape (height, width)
        The union of the ground-truth boxes.
    tolerance : float, optional
        Largest Euclidean distance, in pixels between pixel indices, from the maximum to the
        nearest box pixel that still counts as a hit (inclusive). 0 asks for the maximum to
        be inside a box.

    Returns
    -------
    hit : float
        1.0 for a hit, 0.0 for a miss, NaN when the map is all zero or the mask is empty.

    Raises
    ------
    ValueError
        If the map is not 2-D, finite and non-negative, the shapes differ, or the tolerance
        is negative or not finite.

    Notes
    -----
    On ties the maximum is the first maximal pixel in row-major order (``np.argmax`` of the
    flattened map), as in TorchRay.

    Examples
    --------
    >>> import numpy as np
    >>> heatmap = np.zeros((40, 40)); heatmap[0, 0] = 1.0
    >>> mask = np.zeros((40, 40), dtype=bool); mask[0, 15:20] = True
    >>> pointing_hit(heatmap, mask)
    1.0
    >>> pointing_hit(heatmap, mask, tolerance=14.9)
    0.0
    """
    array = _check_heatmap(heatmap)
    mask = _check_mask(box_mask, array.shape)
    return _pointing_hit(array, mask, _check_tolerance(tolerance))


def _pointing_hit(array: np.ndarray, mask: np.ndarray, tolerance: float) -> float:
    """:func:`pointing_hit` of a checked map, mask of its shape and tolerance."""
    flat_index = int(np.argmax(array))
    row, col = divmod(flat_index, array.shape[1])
    if array[row, col] == 0.0 or not mask.any():
        return math.nan
    return _hit_near(mask, row, col, tolerance)


def centre_hit(box_mask, *, tolerance: float = DEFAULT_TOLERANCE) -> float:
    """The pointing game played by the image's centre pixel: the baseline for pointing_hit.

    Parameters
    ----------
    box_mask : array_like of bool, shape (height, width)
        The union of the ground-truth boxes.
    tolerance : float, optional
        As in :func:`pointing_hit`.

    Returns
    -------
    hit : float
        1.0 when a box pixel lies within ``tolerance`` of the centre pixel
        ``((height - 1) // 2, (width - 1) // 2)``, 0.0 when not, NaN for an empty mask.

    Examples
    --------
    >>> import numpy as np
    >>> mask = np.zeros((100, 100), dtype=bool); mask[:10, :10] = True
    >>> centre_hit(mask)
    0.0
    >>> centre_hit(mask, tolerance=60)
    1.0
    """
    mask = _check_mask(box_mask)
    tolerance = _check_tolerance(tolerance)
    if not mask.any():
        return math.nan
    height, width = mask.shape
    return _hit_near(mask, (height - 1) // 2, (width - 1) // 2, tolerance)
