"""Objects: the entry of an image in formats that annotate objects (COCO, Pascal VOC).

Conventions
-----------
* An image's label is the object class with the **largest total box area**
  (:func:`dominant_label`); objects without a valid box count with area 0; ties go to the class
  that appears first. Only that class's objects are kept (:func:`entry_from_objects`): the audit
  asks whether the map of that class lies on that class's objects.
* A broken box or mask of a kept object skips the sample (when the manifest is built); one of
  another class does not.
* When some kept objects have a mask and others none, the sample is skipped: its mask would not
  cover all its objects.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from audit.datasets.annotated import AnnotatedObject
from audit.datasets.labels import label_text
from audit.datasets.manifest import RawEntry
from audit.datasets.types import NO_META, Meta

__all__ = ["AnnotatedObject", "dominant_label", "entry_from_objects"]


def entry_from_objects(objects: Sequence[AnnotatedObject], *, image: str, where: str,
                       image_size: tuple[int, int] | None = None, meta: Meta = NO_META
                       ) -> RawEntry:
    """The entry of an image given its objects: the dominant label and that label's objects.

    Parameters
    ----------
    objects : sequence of AnnotatedObject
        The image's objects in file order; must not be empty.
    image, where, image_size
        As in :class:`RawEntry`.

    meta : Meta
        The image's extra fields.

    Returns
    -------
    RawEntry
        Labelled with :func:`dominant_label` (broken or missing boxes count with area 0), with
        the boxes, masks and their problems of the objects of that label only; every object's
        label in ``label_set`` and every object in ``objects``, for a multi-label model (see
        :mod:`audit.datasets.label_sets`). When some of
        these objects have a mask and others none, a mask problem names the first without.
    """
    label = dominant_label([(o.label, o.box.area if o.box is not None else 0.0)
                            for o in objects])
    kept = [o for o in objects if o.label == label]
    mask_problems = [o.mask_problem for o in kept if o.mask_problem is not None]
    masked = [o for o in kept if o.mask is not None or o.mask_problem is not None]
    bare = [o for o in kept if o.mask is None and o.mask_problem is None]
    if masked and bare:
        mask_problems.append(
            f"{bare[0].where}: the object has no mask while {masked[0].where} has one; the "
            f"mask of the image would not cover all its {label_text(label)!r} objects")
    return RawEntry(image=image, label=label, where=where,
                    label_set=tuple(dict.fromkeys(o.label for o in objects)),
                    objects=tuple(objects),
                    boxes=tuple(o.box for o in kept if o.box is not None),
                    box_problems=tuple(o.box_problem for o in kept if o.box_problem is not None),
                    image_size=image_size, masks=tuple(o.mask for o in kept if o.mask is not None),
                    mask_problems=tuple(mask_problems), meta=meta)


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
