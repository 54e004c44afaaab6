"""An annotated object of an image: its label, box and mask as a manifest wrote them.

Formats that annotate objects (COCO, VOC) describe each object this way; the entry of an image
keeps its objects (:class:`audit.datasets.manifest.RawEntry`) so that a multi-label dataset can
give each label its own objects (:mod:`audit.datasets.label_sets`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from audit.datasets.masks import MaskSource
from audit.datasets.types import Box

__all__ = ["AnnotatedObject"]


@dataclass(frozen=True)
class AnnotatedObject:
    """One annotated object of an image, in formats that annotate objects (COCO, VOC).

    Parameters
    ----------
    label : object
        The object's class as written.
    box : Box or None
        Its box; ``None`` when it has none or when the box is broken.
    box_problem : str or None
        Why the box is broken. Whether that skips the sample is decided once the image's label
        is known: only the objects of that label are kept.
    where : str
        The object in the manifest (``"annotation id 7"``), for reasons.
    mask : MaskSource or None
        Its mask; ``None`` when it has none or when the mask is malformed.
    mask_problem : str or None
        Why the mask is malformed (decided on like ``box_problem``).
    """

    label: Any
    box: Box | None = None
    box_problem: str | None = None
    where: str = ""
    mask: MaskSource | None = None
    mask_problem: str | None = None
