"""Every localisation score of one map at once, its inputs checked once.

The score stage measures each map four ways against the same region; checking the same
photo-sized map in each of :func:`~audit.metrics.energy_in_box`,
:func:`~audit.metrics.pointing_hit` and :func:`~audit.metrics.loc_iou` would scan it three times
more than the scores need. The figures are those functions' own, to the last bit.
"""

from __future__ import annotations

import math

from audit.metrics.energy import _box_area_fraction, _check_heatmap, _check_mask, _energy_in_box
from audit.metrics.localization import DEFAULT_THRESHOLD, _check_fraction, _loc_iou
from audit.metrics.pointing import DEFAULT_TOLERANCE, _check_tolerance, _pointing_hit

__all__ = ["map_scores"]


def map_scores(heatmap, box_mask, boxes, *, tolerance: float = DEFAULT_TOLERANCE,
               loc_threshold: float = DEFAULT_THRESHOLD) -> dict[str, float]:
    """Energy in box, area fraction, enrichment, pointing hit and localisation IoU of one map.

    Parameters
    ----------
    heatmap : array_like, shape (height, width)
        Finite, non-negative map.
    box_mask : array_like of bool, shape (height, width)
        The sample's region: the union of its boxes, or of its segmentation masks.
    boxes : sequence of Box, or array of shape (M, 4)
        The ground-truth boxes, for the localisation IoU (which compares boxes); may be empty.
    tolerance : float, optional
        The pointing game's tolerance, as in :func:`~audit.metrics.pointing_hit`.
    loc_threshold : float, optional
        As ``threshold`` in :func:`~audit.metrics.loc_iou`.

    Returns
    -------
    scores : dict of str to float
        ``energy_in_box``, ``box_area_fraction``, ``enrichment``, ``pointing_hit`` and
        ``loc_iou``, each equal to its own function's value (NaN where that one is NaN;
        ``loc_iou`` is NaN without boxes).

    Raises
    ------
    ValueError
        If the map is not 2-D, finite and non-negative, the mask's shape differs, or an option
        is out of range.

    Examples
    --------
    >>> import numpy as np
    >>> heatmap = np.zeros((10, 10)); heatmap[2:6, 2:6] = 1.0
    >>> mask = np.zeros((10, 10), dtype=bool); mask[2:6, 2:8] = True
    >>> scores = map_scores(heatmap, mask, [(2, 2, 8, 6)], tolerance=0)
    >>> scores["energy_in_box"], scores["enrichment"], scores["pointing_hit"]
    (1.0, 4.166666666666667, 1.0)
    >>> round(scores["loc_iou"], 4)
    0.6667
    """
    array = _check_heatmap(heatmap)
    mask = _check_mask(box_mask, array.shape)
    tolerance = _check_tolerance(tolerance)
    loc_threshold = _check_fraction(loc_threshold, "loc_threshold")
    energy = _energy_in_box(array, mask)
    fraction = _box_area_fraction(mask)
    return {
        "energy_in_box": energy,
        "box_area_fraction": fraction,
        # enrichment's definition, without computing the energy a second time.
        "enrichment": energy / fraction if not math.isnan(energy) else math.nan,
        "pointing_hit": _pointing_hit(array, mask, tolerance),
        "loc_iou": _loc_iou(array, boxes, loc_threshold) if len(boxes) else math.nan,
    }
