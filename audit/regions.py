"""The region of a sample: where its object is, from its segmentation mask or its boxes.

Every region-based score and the behavioural test use the same region: the union of the
sample's object masks when it has them, else the union of its boxes.
"""

from __future__ import annotations

import numpy as np

from audit.datasets import Sample
from audit.metrics import boxes_to_mask

__all__ = ["region_kind", "region_mask", "resize_region"]


def region_kind(sample: Sample, mask: np.ndarray | None) -> str:
    """``"mask"``, ``"box"`` or ``""`` (no annotation to score against)."""
    if mask is not None:
        return "mask"
    return "box" if sample.boxes else ""


def region_mask(sample: Sample, mask: np.ndarray | None, size: tuple[int, int]) -> np.ndarray:
    """The sample's region as a bool array of the original image's ``size`` (all False when
    the sample has no annotation)."""
    if mask is not None:
        return np.asarray(mask, dtype=bool)
    if sample.boxes:
        return boxes_to_mask([b.as_tuple() for b in sample.boxes], size)
    return np.zeros(size, dtype=bool)


def resize_region(region: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``region`` resized to ``size`` (height, width) by nearest neighbour."""
    from PIL import Image

    if region.shape == tuple(size):
        return region
    image = Image.fromarray(region.astype(np.uint8) * 255)
    return np.asarray(image.resize((size[1], size[0]), Image.NEAREST)) > 127
