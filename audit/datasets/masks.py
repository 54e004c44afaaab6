"""Segmentation masks: where a sample's mask comes from, and decoding it when its image is read.

A :class:`~audit.datasets.types.Sample` carries *mask sources*, one per annotated object (or
per CSV row / JSON Lines entry), never decoded pixels: a manifest of any size stays small, and
a batch's masks are decoded when its images are read
(:class:`~audit.datasets.stream.BatchLoader`), then dropped with the batch.

Conventions
-----------
* A decoded mask is ``bool`` ``(height, width)`` at the **original** image size (the size of
  the decoded image, after EXIF rotation, the same scale as the boxes): ``True`` on the object.
  A sample's mask is the union of all its sources (:func:`decode_mask`); a sample without
  sources has no mask (``None``).
* :class:`PolygonMask`: COCO ``segmentation`` polygons ``[[x1, y1, x2, y2, ...], ...]`` in
  pixel-edge coordinates (the polygon ``0,0 4,0 4,4 0,4`` covers pixels 0..3 of rows 0..3, like
  ``Box(0, 0, 4, 4)``). Each polygon needs at least 3 points. Rasterised with
  ``pycocotools.mask`` (``frPyObjects``, ``merge``, ``decode``) at the decoded image's size.
* :class:`RleMask`: COCO run-length encoding ``{"counts": ..., "size": [height, width]}``,
  compressed (``counts`` a string) or uncompressed (``counts`` a list of run lengths, column
  major, starting with a run of zeros). The runs must add up to ``height * width`` (checked on
  construction: pycocotools does not check it) and ``size`` must be the decoded image's size.
* :class:`PngMask`: a PNG file. With ``instance=None`` (a ``mask`` column in CSV, a ``mask``
  field in JSON Lines) every **non-zero** pixel is the object (any non-zero colour channel for
  RGB files; for palette files the palette index counts, so 255 is object too). With
  ``instance=i`` (Pascal VOC ``SegmentationObject/<id>.png``, a palette PNG of instance
  indices) the pixels equal to ``i`` are the object; 0 is background and 255 the
  boundary/void band, which is **not** object. The PNG must have the decoded image's size;
  EXIF orientation is not applied to masks.
* Problems found in the manifest (a polygon with fewer than 3 points, runs that do not add
  up, a malformed ``segmentation``) raise :class:`MaskError` on construction, and the sample is
  skipped at load time. Problems found when reading (a missing or unreadable mask file, a mask
  whose size is not the image's) raise :class:`MaskError` in :func:`decode_mask`, and the
  sample is skipped from its batch. Either way the reason names the file or the annotation.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image, UnidentifiedImageError

from audit.datasets.sample_error import SampleError

#: Pixel value of the boundary/void band of Pascal VOC segmentation PNGs: never object.
VOC_VOID = 255


class MaskError(SampleError):
    """A mask that cannot be used: malformed, unreadable, or not of its image's size."""


@dataclass(frozen=True)
class PolygonMask:
    """COCO polygons of one object, in pixel-edge coordinates.

    Parameters
    ----------
    polygons : sequence of sequence of float
        ``[[x1, y1, x2, y2, ...], ...]``; the object is their union.
    where : str
        The annotation, for reasons (``"annotation id 7"``).

    Raises
    ------
    MaskError
        No polygon, a polygon with fewer than 3 points or an odd number of coordinates, or a
        coordinate that is not a finite number.
    """

    polygons: tuple[tuple[float, ...], ...]
    where: str

    def __post_init__(self) -> None:
        if not self.polygons:
            raise MaskError(f"{self.where}: segmentation has no polygon")
        polygons = []
        for j, polygon in enumerate(self.polygons, start=1):
            if not isinstance(polygon, Sequence) or isinstance(polygon, str):
                raise MaskError(f"{self.where}: segmentation polygon {j} must be a list "
                                f"[x1, y1, x2, y2, ...], got {polygon!r}")
            coords = []
            for value in polygon:
                if isinstance(value, bool) or not isinstance(value, int | float) \
                        or not math.isfinite(value):
                    raise MaskError(f"{self.where}: segmentation polygon {j} has coordinate "
                                    f"{value!r}; coordinates must be finite numbers")
                coords.append(float(value))
            if len(coords) % 2:
                raise MaskError(f"{self.where}: segmentation polygon {j} has an odd number of "
                                f"coordinates ({len(coords)}); expected x, y pairs")
            if len(coords) < 6:
                raise MaskError(f"{self.where}: segmentation polygon {j} has {len(coords) // 2} "
                                "point(s); a polygon needs at least 3")
            polygons.append(tuple(coords))
        object.__setattr__(self, "polygons", tuple(polygons))


@dataclass(frozen=True)
class RleMask:
    """A COCO run-length encoded mask of one object.

    Parameters
    ----------
    counts : str or sequence of int
        Compressed (string) or uncompressed (run lengths) counts.
    size : tuple of int
        ``(height, width)`` the runs cover.
    where : str
        The annotation, for reasons.

    Raises
    ------
    MaskError
        ``size`` is not two positive integers, ``counts`` is malformed, or the runs do not add
        up to ``height * width``.
    """

    counts: str | tuple[int, ...]
    size: tuple[int, int]
    where: str

    def __post_init__(self) -> None:
        size = tuple(self.size) if isinstance(self.size, Sequence) else ()
        if len(size) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0
                                     for v in size):
            raise MaskError(f"{self.where}: RLE size must be [height, width] (two positive "
                            f"integers), got {self.size!r}")
        object.__setattr__(self, "size", size)
        if isinstance(self.counts, str):
            runs = _compressed_runs(self.counts, self.where)
        elif isinstance(self.counts, Sequence) and all(
                isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in self.counts):
            runs = list(self.counts)
            object.__setattr__(self, "counts", tuple(runs))
        else:
            raise MaskError(f"{self.where}: RLE counts must be a string or a list of "
                            f"non-negative integers, got {_short(self.counts)}")
        height, width = size
        if sum(runs) != height * width:
            raise MaskError(f"{self.where}: RLE runs add up to {sum(runs)} pixels, but its size "
                            f"{width}x{height} (width x height) has {height * width}")


@dataclass(frozen=True)
class PngMask:
    """A mask PNG file.

    Parameters
    ----------
    path : str
        The PNG file (resolved against the images folder when the manifest is built).
    instance : int or None
        ``None``: non-zero pixels are the object. ``i``: pixels equal to ``i`` (Pascal VOC
        ``SegmentationObject``, 255 = void, never object).
    """

    path: str
    instance: int | None = None


#: Where a sample's mask comes from.
MaskSource = PolygonMask | RleMask | PngMask


def decode_mask(sources: Sequence[MaskSource], image_size: tuple[int, int]
                ) -> np.ndarray | None:
    """The union of a sample's mask sources at its decoded image's size.

    Parameters
    ----------
    sources : sequence of MaskSource
        The sample's mask sources.
    image_size : tuple of int
        ``(height, width)`` of the decoded image.

    Returns
    -------
    numpy.ndarray or None
        ``bool`` ``(height, width)``; ``None`` when there is no source.

    Raises
    ------
    MaskError
        A mask file is missing or unreadable, or a mask's size is not the image's.

    Examples
    --------
    >>> mask = decode_mask([PolygonMask(((1, 1, 3, 1, 3, 4, 1, 4),), "annotation id 1"),
    ...                     RleMask((0, 2, 28), (5, 6), "annotation id 2")], (5, 6))
    >>> mask.astype(int)
    array([[1, 0, 0, 0, 0, 0],
           [1, 1, 1, 0, 0, 0],
           [0, 1, 1, 0, 0, 0],
           [0, 1, 1, 0, 0, 0],
           [0, 0, 0, 0, 0, 0]])
    """
    if not sources:
        return None
    height, width = (int(v) for v in image_size)
    union = np.zeros((height, width), dtype=bool)
    rles: list[Any] = []
    pngs: dict[str, np.ndarray] = {}
    for source in sources:
        if isinstance(source, PngMask):
            if source.path not in pngs:
                pngs[source.path] = _read_png(source.path, (height, width))
            values = pngs[source.path]
            if source.instance is None:
                union |= values != 0 if values.ndim == 2 else np.any(values != 0, axis=-1)
            else:
                if values.ndim != 2:
                    raise MaskError(
                        f"mask could not be read: mask file {source.path} has colour pixels; an "
                        "instance mask (Pascal VOC SegmentationObject) must be a palette or "
                        "grayscale PNG of instance indices")
                if source.instance != VOC_VOID:
                    union |= values == source.instance
        else:
            rles.extend(_coco_rles(source, (height, width)))
    if rles:
        from pycocotools import mask as coco_mask

        union |= coco_mask.decode(coco_mask.merge(rles)).astype(bool)
    return union


def _coco_rles(source: PolygonMask | RleMask, size: tuple[int, int]) -> list[Any]:
    """pycocotools RLE objects of one COCO source, at the image's size."""
    from pycocotools import mask as coco_mask

    height, width = size
    if isinstance(source, PolygonMask):
        return list(coco_mask.frPyObjects([list(p) for p in source.polygons], height, width))
    if source.size != size:
        raise MaskError(
            f"mask does not fit its image: {source.where}: the RLE mask is "
            f"{source.size[1]}x{source.size[0]} (width x height) but the image decodes to "
            f"{width}x{height}")
    if isinstance(source.counts, str):
        return [{"size": [height, width], "counts": source.counts.encode("ascii")}]
    return [coco_mask.frPyObjects({"size": [height, width], "counts": list(source.counts)},
                                  height, width)]


def _read_png(path: str, size: tuple[int, int]) -> np.ndarray:
    """The stored pixel values of a mask file: ``(H, W)``, or ``(H, W, 3)`` for colour files."""
    try:
        with Image.open(path, formats=["PNG"]) as img:
            if (img.height, img.width) != tuple(size):  # from the header: nothing decoded yet
                raise MaskError(
                    f"mask does not fit its image: mask file {path} is {img.width}x{img.height} "
                    f"(width x height) but the image decodes to {size[1]}x{size[0]}")
            img.load()
            if img.mode in ("RGB", "RGBA", "RGBX", "CMYK", "YCbCr", "LAB", "HSV"):
                values = np.asarray(img.convert("RGB"))
            elif img.mode in ("LA", "La", "PA"):
                values = np.asarray(img.getchannel(0))
            else:  # P (palette indices), L, 1, I, I;16, F
                values = np.asarray(img)
    except MaskError:
        raise
    except FileNotFoundError as exc:
        raise MaskError(f"mask could not be read: mask file not found: {path}") from exc
    except IsADirectoryError as exc:
        raise MaskError(f"mask could not be read: mask path is a folder, not a file: {path}"
                        ) from exc
    except UnidentifiedImageError as exc:
        raise MaskError(f"mask could not be read: mask file {path} is not in an image format "
                        "Pillow can read") from exc
    except Exception as exc:  # noqa: BLE001 - every decoder failure is a per-sample problem
        raise MaskError(f"mask could not be read: mask file {path} is unreadable, truncated or "
                        f"corrupt ({type(exc).__name__}: {exc})") from exc
    if values.shape[:2] != size:
        raise MaskError(
            f"mask does not fit its image: mask file {path} is {values.shape[1]}x"
            f"{values.shape[0]} (width x height) but the image decodes to {size[1]}x{size[0]}")
    return values


def _compressed_runs(text: str, where: str) -> list[int]:
    """The run lengths of a COCO compressed RLE string (pycocotools' ``rleFrString``)."""
    runs: list[int] = []
    p, n = 0, len(text)
    while p < n:
        x = k = 0
        more = True
        while more:
            c = ord(text[p]) - 48 if p < n else -1
            if not 0 <= c <= 63:
                problem = "ends in the middle of a number" if p >= n else \
                    f"has the character {text[p]!r} at position {p}"
                raise MaskError(f"{where}: RLE counts string {problem}; it is not a COCO "
                                "compressed RLE")
            x |= (c & 0x1F) << (5 * k)
            more = bool(c & 0x20)
            p += 1
            k += 1
            if not more and c & 0x10:
                x |= -1 << (5 * k)
        if len(runs) > 2:
            x += runs[-2]
        if x < 0:
            raise MaskError(f"{where}: RLE counts string decodes to a negative run length "
                            f"({x}); it is not a COCO compressed RLE")
        runs.append(x)
    return runs


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."
