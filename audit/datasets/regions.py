"""The region of a sample: where its object is, from its segmentation mask or its boxes.

Every region-based score and the behavioural test use the same region: the union of the
sample's object masks when it has them, else the union of its boxes.
"""

from __future__ import annotations

import numpy as np

from audit.datasets import LabelObjects, Sample, decode_mask
from audit.metrics import boxes_to_mask

__all__ = ["label_region_at", "region_at", "region_kind", "region_mask", "resize_region",
           "scoring_size"]


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


def scoring_size(size: tuple[int, int], max_side: int | None) -> tuple[int, int]:
    """The size a map of an image of ``size`` is scored at: the image's own, or, when its
    longer side exceeds ``max_side``, the image scaled down to that side (None: never)."""
    height, width = size
    if max_side is None or max(height, width) <= max_side:
        return height, width
    scale = max_side / max(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


def region_at(sample: Sample, mask: np.ndarray | None, original: tuple[int, int],
              size: tuple[int, int]) -> tuple[np.ndarray, list[tuple[float, float, float, float]]]:
    """The sample's region and boxes at ``size`` (its image being ``original``): the mask
    resized by nearest neighbour, the boxes scaled."""
    sy, sx = size[0] / original[0], size[1] / original[1]
    boxes = [b.scaled(sx, sy).as_tuple() for b in sample.boxes]
    if mask is not None:
        return resize_region(np.asarray(mask, dtype=bool), size), boxes
    if boxes:
        return boxes_to_mask(boxes, size), boxes
    return np.zeros(size, dtype=bool), boxes


def label_region_at(objects: LabelObjects, original: tuple[int, int], size: tuple[int, int]
                    ) -> tuple[np.ndarray, list[tuple[float, float, float, float]], str]:
    """The region of one label of a multi-label sample at ``size`` (its image being
    ``original``): the union of the label's own masks (decoded here, resized by nearest
    neighbour) when it has them, else of its boxes; with its boxes scaled and its kind
    (``"mask"``, ``"box"`` or ``""``)."""
    sy, sx = size[0] / original[0], size[1] / original[1]
    boxes = [b.scaled(sx, sy).as_tuple() for b in objects.boxes]
    mask = decode_mask(objects.masks, original) if objects.masks else None
    if mask is not None:
        return resize_region(mask, size), boxes, "mask"
    if boxes:
        return boxes_to_mask(boxes, size), boxes, "box"
    return np.zeros(size, dtype=bool), boxes, ""
