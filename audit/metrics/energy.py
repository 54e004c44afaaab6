"""How much of a map's energy falls on the object: energy in box, area fraction, enrichment.

``H`` is a non-negative heatmap (a CAM upsampled to the image), ``B`` the union of the
sample's ground-truth boxes as a boolean mask of the same shape (see
:func:`audit.metrics.masks.boxes_to_mask`) and ``Omega`` all pixels.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["box_area_fraction", "energy_in_box", "enrichment"]


def _check_heatmap(heatmap, name: str = "heatmap") -> np.ndarray:
    """``heatmap`` as a float64 2-D array that is finite and non-negative, or a ValueError."""
    array = np.asarray(heatmap)
    if (
        array.dtype == object
        or not (np.issubdtype(array.dtype, np.number) or array.dtype == bool)
        or np.issubdtype(array.dtype, np.complexfloating)
    ):
        raise ValueError(f"{name} must hold real numbers; got dtype {array.dtype}")
    if array.ndim != 2:
        raise ValueError(
            f"{name} must be a 2-D (height, width) array; got {array.ndim}-D shape {array.shape}"
        )
    if array.size == 0:
        raise ValueError(f"{name} must have at least one pixel; got shape {array.shape}")
    array = array.astype(np.float64, copy=False)
    if not np.all(np.isfinite(array)):
        count = int(np.count_nonzero(~np.isfinite(array)))
        raise ValueError(f"{name} must be finite; got {count} NaN or infinite value(s)")
    minimum = float(array.min())
    if minimum < 0:
        raise ValueError(
            f"{name} must be non-negative (apply the ReLU first); got a minimum of {minimum!r}"
        )
    return array


def _check_mask(box_mask, shape: tuple[int, ...] | None = None) -> np.ndarray:
    """``box_mask`` as a 2-D bool array (of ``shape`` when given), or a ValueError.

    Boolean arrays are taken as they are; numeric arrays must hold only 0 and 1.
    """
    array = np.asarray(box_mask)
    if array.dtype != bool:
        if not np.issubdtype(array.dtype, np.number) or np.issubdtype(
            array.dtype, np.complexfloating
        ):
            raise ValueError(f"box_mask must be a boolean array; got dtype {array.dtype}")
        if not np.all((array == 0) | (array == 1)):
            raise ValueError(
                f"box_mask must be boolean (or hold only 0 and 1); got dtype {array.dtype} "
                "with other values"
            )
        array = array.astype(bool)
    if array.ndim != 2:
        raise ValueError(
            f"box_mask must be a 2-D (height, width) array; got {array.ndim}-D shape {array.shape}"
        )
    if array.size == 0:
        raise ValueError(f"box_mask must have at least one pixel; got shape {array.shape}")
    if shape is not None and array.shape != tuple(shape):
        raise ValueError(
            f"heatmap and box_mask must have the same shape; got heatmap {tuple(shape)} "
            f"and box_mask {array.shape}"
        )
    return array


def energy_in_box(heatmap, box_mask) -> float:
    """Share of a heatmap's energy that lies inside the boxes: ``sum(H * B) / sum(H)``.

    The energy-based pointing game of Score-CAM (Wang et al., arXiv 1910.01279, section 4.3);
    for non-negative maps the same as Quantus' Relevance Mass Accuracy.

    Parameters
    ----------
    heatmap : array_like, shape (height, width)
        Finite, non-negative map.
    box_mask : array_like of bool, shape (height, width)
        The union of the ground-truth boxes.

    Returns
    -------
    energy : float
        In ``[0, 1]``; NaN when the map is all zero (degenerate) or the mask is empty.

    Raises
    ------
    ValueError
        If the map is not 2-D, finite and non-negative, or the shapes differ.

    Examples
    --------
    >>> import numpy as np
    >>> heatmap = np.array([[0.0, 1.0], [1.0, 2.0]])
    >>> mask = np.array([[False, False], [False, True]])
    >>> energy_in_box(heatmap, mask)
    0.5
    >>> energy_in_box(np.zeros((2, 2)), mask)
    nan
    """
    array = _check_heatmap(heatmap)
    return _energy_in_box(array, _check_mask(box_mask, array.shape))


def _energy_in_box(array: np.ndarray, mask: np.ndarray) -> float:
    """:func:`energy_in_box` of a checked float64 map and bool mask of its shape."""
    peak = float(array.max())
    if peak == 0.0 or not mask.any():
        return math.nan
    # Divide by the peak first: the sums then stay within [1, H * W] (no overflow, no
    # underflow), and scaling the map by a constant changes nothing.
    scaled = array / peak
    return float(scaled[mask].sum() / scaled.sum())


def box_area_fraction(box_mask) -> float:
    """Share of the image the boxes cover: ``|B| / |Omega|``.

    Parameters
    ----------
    box_mask : array_like of bool, shape (height, width)
        The union of the ground-truth boxes.

    Returns
    -------
    fraction : float
        In ``(0, 1]``; NaN for an empty mask (no box on the image).

    Examples
    --------
    >>> import numpy as np
    >>> box_area_fraction(np.array([[True, False], [False, False]]))
    0.25
    """
    return _box_area_fraction(_check_mask(box_mask))


def _box_area_fraction(mask: np.ndarray) -> float:
    """:func:`box_area_fraction` of a checked bool mask."""
    covered = int(np.count_nonzero(mask))
    if covered == 0:
        return math.nan
    return covered / mask.size


def enrichment(heatmap, box_mask) -> float:
    """How much more energy the boxes hold than their area: ``energy_in_box / box_area_fraction``.

    A uniform map scores 1.0 (chance); below 1 the map puts less weight on the object than
    on the same area elsewhere, above 1 more.

    Parameters
    ----------
    heatmap : array_like, shape (height, width)
        Finite, non-negative map.
    box_mask : array_like of bool, shape (height, width)
        The union of the ground-truth boxes.

    Returns
    -------
    enrichment : float
        In ``[0, 1 / box_area_fraction]``; NaN when the map is all zero or the mask is empty.

    Raises
    ------
    ValueError
        If the map is not 2-D, finite and non-negative, or the shapes differ.

    Examples
    --------
    >>> import numpy as np
    >>> mask = np.array([[True, False], [False, False]])
    >>> enrichment(np.ones((2, 2)), mask)
    1.0
    >>> enrichment(np.array([[3.0, 1.0], [0.0, 0.0]]), mask)
    3.0
    """
    energy = energy_in_box(heatmap, box_mask)
    if math.isnan(energy):
        return math.nan
    return energy / box_area_fraction(box_mask)
