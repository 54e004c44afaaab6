"""Typed records that flow out of every dataset loader.

Coordinates convention
----------------------
A :class:`Box` holds continuous pixel-edge coordinates in the *original* image:
``0 <= x_min < x_max <= width`` and ``0 <= y_min < y_max <= height``. A box covers the
pixel columns ``floor(x_min) .. ceil(x_max) - 1`` and the rows likewise, so a box drawn
around whole pixels (``x_min=2, x_max=5``) covers columns 2, 3 and 4. Loaders convert their
format's convention into this one (COCO ``[x, y, w, h]``; Pascal VOC's 1-based inclusive
corners).

Masks and metadata
------------------
``Sample.masks`` holds mask *sources* (see :mod:`audit.datasets.masks`), decoded into
``Batch.masks`` when the batch is loaded: ``bool`` ``(height, width)`` at the original image
size, the union of the sample's objects, or ``None`` for a sample without mask.
``Sample.meta`` is a :class:`Meta`: the manifest's extra per-sample fields as text (extra CSV
columns, the ``meta`` object of JSON Lines, the extra fields of a COCO ``images`` entry).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from audit.datasets.masks import MaskSource
from audit.datasets.sample_error import SampleError  # noqa: F401 (re-exported)


@dataclass(frozen=True)
class Box:
    """An axis-aligned bounding box in original-image pixel-edge coordinates."""

    x_min: float
    y_min: float
    x_max: float
    y_max: float

    def as_tuple(self) -> tuple[float, float, float, float]:
        return (self.x_min, self.y_min, self.x_max, self.y_max)

    def is_finite(self) -> bool:
        return all(math.isfinite(v) for v in self.as_tuple())

    @property
    def area(self) -> float:
        return max(0.0, self.x_max - self.x_min) * max(0.0, self.y_max - self.y_min)

    def scaled(self, sx: float, sy: float) -> Box:
        """The box in an image resized by ``sx`` horizontally and ``sy`` vertically."""
        return Box(self.x_min * sx, self.y_min * sy, self.x_max * sx, self.y_max * sy)


class Meta(Mapping[str, str]):
    """Per-sample metadata: field names to text, in the manifest's order. Immutable, hashable.

    Parameters
    ----------
    items : mapping or iterable of (str, str)
        The fields; keys and values must be strings (see :meth:`from_json` for other values).

    Examples
    --------
    >>> meta = Meta({"site": "A", "scanner": "X1"})
    >>> meta["site"], dict(meta), meta == {"scanner": "X1", "site": "A"}
    ('A', {'site': 'A', 'scanner': 'X1'}, True)
    >>> Meta.from_json({"site": "A", "age": 41, "seen": True, "note": None, "tags": ["a"]})
    Meta({'site': 'A', 'age': '41', 'seen': 'true', 'note': 'null', 'tags': '["a"]'})
    """

    __slots__ = ("_items",)

    def __init__(self, items: Mapping[str, str] | Iterable[tuple[str, str]] = ()) -> None:
        pairs = dict(items)
        for key, value in pairs.items():
            if not isinstance(key, str) or not isinstance(value, str):
                raise TypeError(f"metadata keys and values must be strings; got "
                                f"{key!r}: {value!r}")
        self._items: tuple[tuple[str, str], ...] = tuple(pairs.items())

    @classmethod
    def from_json(cls, fields: Mapping[str, Any]) -> Meta:
        """Metadata from JSON values: strings as they are, anything else as its JSON text."""
        return cls((str(key), value if isinstance(value, str) else
                    json.dumps(value, ensure_ascii=False, separators=(",", ":")))
                   for key, value in fields.items())

    def __getitem__(self, key: str) -> str:
        for name, value in self._items:
            if name == key:
                return value
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return (name for name, _ in self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __hash__(self) -> int:
        return hash(frozenset(self._items))

    def __repr__(self) -> str:
        return f"Meta({dict(self._items)!r})"

    def __reduce__(self):
        return type(self), (self._items,)


#: The metadata of a sample without extra fields.
NO_META = Meta()


@dataclass(frozen=True)
class LabelObjects:
    """One label of a multi-label sample and its own objects: the label's region is the union
    of its masks when it has them, else of its boxes (neither: no region to score against).

    ``label`` is the model's output index, ``name`` the class name.
    """

    label: int
    name: str
    boxes: tuple[Box, ...] = ()
    masks: tuple[MaskSource, ...] = ()


@dataclass(frozen=True)
class Sample:
    """One labelled image of a dataset, as the manifest describes it (nothing loaded yet).

    ``label`` is the model's output index of the true class; ``label_name`` the class name
    as the manifest wrote it (or the index as text). ``image`` is the path as written in
    the manifest; ``path`` is where it resolves on disk. ``masks`` are the sources of the
    sample's segmentation mask, one per object (decoded when the image is read; see
    :mod:`audit.datasets.masks`); ``meta`` its extra fields (a plain ``dict`` given here is
    turned into a :class:`Meta`).

    ``label_set`` is ``None`` for a single-label sample. A sample of a multi-label dataset
    (:mod:`audit.datasets.label_sets`) has its labels there, each with its own objects (an
    empty tuple: an image with none of the classes); its ``label`` is then its first label's
    index (``-1`` without labels), ``label_name`` its label names joined by ``|``, and
    ``boxes`` and ``masks`` those of all its labels.
    """

    sample_id: str
    image: str
    path: str
    label: int
    label_name: str
    boxes: tuple[Box, ...] = ()
    masks: tuple[MaskSource, ...] = ()
    meta: Meta = NO_META
    label_set: tuple[LabelObjects, ...] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.meta, Meta):
            object.__setattr__(self, "meta", Meta(self.meta))
        if not isinstance(self.masks, tuple):
            object.__setattr__(self, "masks", tuple(self.masks))


@dataclass(frozen=True)
class SkippedSample:
    """A sample that could not be audited, with a reason a person understands."""

    sample_id: str
    image: str
    reason: str


@dataclass(frozen=True)
class BatchSpec:
    """What batch ``index`` holds, before anything is read: cheap to make, pickle and send.

    ``samples`` are the run's ``samples[index * batch_size:(index + 1) * batch_size]``.
    ``skipped`` are skipped samples carried in from the manifest (batch 0 carries them all), so
    that they reach the output before the batch's own skipped samples.
    """

    index: int
    samples: tuple[Sample, ...]
    skipped: tuple[SkippedSample, ...] = ()

    def __len__(self) -> int:
        return len(self.samples)


@dataclass
class Batch:
    """A batch of loaded samples, ready for the model.

    ``images`` is float32 ``(N, H, W, C)`` at the model's input size, preprocessed as the
    model expects. ``original_sizes[i]`` is ``(height, width)`` of sample ``i``'s image
    file; its boxes stay in that original scale. ``display`` holds the same images as
    uint8 RGB at model input size, for overlays in the report. ``skipped`` lists the
    skipped samples carried by the batch's :class:`BatchSpec`, then the batch's own samples
    that could not be used; ``n_boxes_clipped`` counts the boxes clipped to their decoded
    image in this batch. ``masks[i]`` is sample ``i``'s segmentation mask, ``bool`` at its
    original size ``original_sizes[i]`` (the union of its objects), or ``None`` when the
    sample has no mask (``None`` for every sample when not given).
    """

    index: int
    samples: list[Sample]
    images: np.ndarray
    original_sizes: list[tuple[int, int]]
    display: np.ndarray | None = None
    skipped: list[SkippedSample] = field(default_factory=list)
    n_boxes_clipped: int = 0
    masks: list[np.ndarray | None] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.masks:
            self.masks = [None] * len(self.samples)

    def __len__(self) -> int:
        return len(self.samples)
