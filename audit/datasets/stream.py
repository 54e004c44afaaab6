"""Batches: formed as pure descriptions, loaded into model-ready arrays, streamed in order.

Conventions
-----------
* Forming and loading are separate steps. :func:`batch_specs` cuts the samples into
  :class:`~audit.datasets.types.BatchSpec` s: cheap, picklable, nothing read. A
  :class:`BatchLoader` turns one spec into a :class:`~audit.datasets.types.Batch` by reading its
  images. The loader depends only on its fields and the spec (no hidden state, nothing cached),
  so any thread or process (a background reader thread, an Apache Beam worker) can load any
  batch, in any order, and gets the same batch. :func:`iter_batches` does both, in order, in
  this thread.
* Batch ``i`` is formed from ``samples[i * batch_size:(i + 1) * batch_size]``, always, whatever
  fails to read: a sample that cannot be used goes to ``Batch.skipped`` and the batch is smaller
  (possibly empty; it is yielded anyway). Batch indices are therefore stable across runs, and a
  run resumed at batch ``k`` sees exactly the batches it would have seen.
* Skipped samples of the manifest ride on batch 0 (``batch_specs(..., skipped=...)``), so they
  reach ``skipped.csv`` first, before any batch's own skipped samples. When there is no sample
  to audit but there are skipped ones, batch 0 is an empty batch carrying them.
* Images are read when their batch is loaded, one at a time, and resized to the model input
  size at once: at most one original image and one batch are held in memory per loader call.
  Nothing is read ahead by this module.
* Boxes are checked against the decoded image's size (after EXIF rotation): boxes partly outside
  are clipped (counted in :attr:`Batch.n_boxes_clipped <audit.datasets.types.Batch>`), and a
  sample with a box entirely outside its image is skipped with a reason (see
  :func:`audit.datasets.boxes.apply_image_size`).
* Masks are decoded right after their image (:func:`audit.datasets.masks.decode_mask`), at the
  decoded image's size; a sample whose mask is unreadable or of another size is skipped with a
  reason. A batch holds at most one mask per sample, never the sources' separate layers.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace

import numpy as np

from audit.datasets.boxes import apply_image_size
from audit.datasets.images import (
    DEFAULT_MAX_IMAGE_PIXELS,
    IMAGE_FORMATS,
    ImageReadError,
    decode_image,
    read_image,
    resize_image,
)
from audit.datasets.masks import decode_mask
from audit.datasets.preprocessing import to_channels
from audit.datasets.types import Batch, BatchSpec, Sample, SampleError, SkippedSample


@dataclass
class StreamStats:
    """Counters a caller may pass to :func:`iter_batches` to learn what streaming changed.

    Attributes
    ----------
    n_boxes_clipped : int
        Boxes clipped to their decoded image (in the batches streamed so far).
    n_images_read : int
        Image files decoded so far.
    """

    n_boxes_clipped: int = 0
    n_images_read: int = 0


def n_batches(n_samples: int, batch_size: int) -> int:
    """Number of batches :func:`iter_batches` yields for ``n_samples`` samples."""
    if batch_size <= 0:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    return math.ceil(n_samples / batch_size)


def batch_specs(samples: Sequence[Sample], *, batch_size: int,
                skipped: Sequence[SkippedSample] = ()) -> list[BatchSpec]:
    """Cut samples into batches, reading nothing.

    Parameters
    ----------
    samples : sequence of Sample
        The samples to audit, in order.
    batch_size : int
        Samples per batch (before skipping).
    skipped : sequence of SkippedSample
        Skipped samples of the manifest; batch 0 carries them.

    Returns
    -------
    list of BatchSpec
        Spec ``i`` holds ``samples[i * batch_size:(i + 1) * batch_size]``. With no samples the
        list is empty, or one empty spec 0 carrying ``skipped`` when there are skipped samples.

    Raises
    ------
    ValueError
        ``batch_size`` is not a positive integer.

    Examples
    --------
    >>> from audit.datasets.types import Sample, SkippedSample
    >>> samples = [Sample(f"{i}.png", f"{i}.png", f"/d/{i}.png", 0, "cat") for i in range(5)]
    >>> [[s.sample_id for s in spec.samples] for spec in batch_specs(samples, batch_size=2)]
    [['0.png', '1.png'], ['2.png', '3.png'], ['4.png']]
    >>> batch_specs([], batch_size=2, skipped=[SkippedSample("x.png", "x.png", "line 2: ...")])
    [BatchSpec(index=0, samples=(), skipped=(SkippedSample(sample_id='x.png', image='x.png', \
reason='line 2: ...'),))]
    """
    _check_batch_size(batch_size)
    specs = [BatchSpec(index, tuple(samples[index * batch_size:(index + 1) * batch_size]))
             for index in range(n_batches(len(samples), batch_size))]
    carried = tuple(skipped)
    if carried:
        specs[:1] = [replace(specs[0], skipped=carried) if specs else BatchSpec(0, (), carried)]
    return specs


@dataclass(frozen=True)
class BatchLoader:
    """Loads one :class:`~audit.datasets.types.BatchSpec` into a model-ready batch.

    A pure function of its fields and the spec: it keeps no state between calls, so it can be
    pickled to another process and called there, or called from a background thread while the
    model runs on the previous batch. It pickles when ``preprocess`` and ``reader`` do (a
    :class:`~audit.datasets.preprocessing.Preprocessor` and :func:`read_image` do).

    Parameters
    ----------
    input_size : tuple of int
        The model's input ``(height, width)``.
    channels : int
        The model's input channels, 1 (grayscale) or 3.
    preprocess : callable
        Maps a ``uint8`` batch ``(N, H, W, channels)`` to the model's ``float32`` input of the
        same shape, e.g. :class:`audit.datasets.preprocessing.Preprocessor`.
    reader : callable
        Reads one image path as ``uint8`` RGB ``(H, W, 3)``; raises
        :class:`~audit.datasets.images.ImageReadError` for a bad file. With the built-in
        :func:`read_image`, a JPEG at least twice the input size is decoded at a reduced
        scale (1/2, 1/4 or 1/8 by the JPEG decoder itself), never below the input size
        (:func:`~audit.datasets.images.decode_image`), then resized as any image:
        the model sees the same picture at a fraction of the decoding cost; boxes and masks
        keep referring to the full image's size.
    max_pixels : int or None
        The built-in reader's pixel budget per image (``dataset.max_image_pixels``), checked
        from the header before decoding; a larger image is skipped with its reason.
    formats : tuple of str
        The image formats the built-in reader opens (``dataset.image_formats``).

    Raises
    ------
    ValueError
        ``channels`` is not 1 or 3, or ``input_size`` is not two positive integers.
    """

    input_size: tuple[int, int]
    channels: int
    preprocess: Callable[[np.ndarray], np.ndarray]
    reader: Callable[[str], np.ndarray] = read_image
    max_pixels: int | None = DEFAULT_MAX_IMAGE_PIXELS
    formats: tuple[str, ...] = IMAGE_FORMATS

    def __post_init__(self) -> None:
        if self.channels not in (1, 3):
            raise ValueError(f"channels must be 1 or 3, got {self.channels!r}")
        try:
            height, width = (int(v) for v in self.input_size)
        except (TypeError, ValueError):
            raise ValueError(f"input_size must be (height, width), got {self.input_size!r}"
                             ) from None
        if height <= 0 or width <= 0:
            raise ValueError(f"input_size must be two positive integers, got {self.input_size!r}")
        object.__setattr__(self, "input_size", (height, width))

    def _read(self, path: str) -> tuple[np.ndarray, tuple[int, int]]:
        """The pixels of ``path`` and the full image's ``(height, width)``."""
        if self.reader is read_image:
            height, width = self.input_size
            return decode_image(path, at_least=(height, width), max_pixels=self.max_pixels,
                                formats=tuple(self.formats))
        rgb = self.reader(path)
        return rgb, (int(rgb.shape[0]), int(rgb.shape[1]))

    def __call__(self, spec: BatchSpec) -> Batch:
        """Read the images of ``spec`` and return its batch.

        Returns
        -------
        Batch
            ``images`` float32 ``(n, H, W, channels)``, ``display`` uint8 RGB
            ``(n, H, W, 3)``, ``original_sizes`` ``(height, width)`` per kept sample,
            ``masks`` per kept sample (``bool`` at the original size, or ``None``),
            ``skipped`` the spec's carried skipped samples then the batch's samples that cannot
            be used (unreadable image, a box entirely outside it, an unusable mask),
            ``n_boxes_clipped`` the boxes clipped to their image.
        """
        height, width = self.input_size
        kept: list[Sample] = []
        skipped: list[SkippedSample] = list(spec.skipped)
        sizes: list[tuple[int, int]] = []
        masks: list[np.ndarray | None] = []
        n_clipped = 0
        display = np.zeros((len(spec.samples), height, width, 3), dtype=np.uint8)
        for sample in spec.samples:
            try:
                rgb, size = self._read(sample.path)
            except ImageReadError as exc:
                skipped.append(SkippedSample(sample.sample_id, sample.image,
                                             f"image could not be read: {exc.reason}"))
                continue
            try:
                checked, clipped = apply_image_size(sample, size)
                mask = decode_mask(sample.masks, size)
            except SampleError as exc:
                skipped.append(SkippedSample(sample.sample_id, sample.image, exc.reason))
                continue
            display[len(kept)] = resize_image(rgb, (height, width))
            del rgb
            kept.append(checked)
            sizes.append(size)
            masks.append(mask)
            n_clipped += clipped
        display = display[:len(kept)]
        return Batch(index=spec.index, samples=kept,
                     images=_model_input(display, self.channels, self.preprocess),
                     original_sizes=sizes, display=display, skipped=skipped,
                     n_boxes_clipped=n_clipped, masks=masks)


def iter_batches(samples: Sequence[Sample], *, batch_size: int, input_size: tuple[int, int],
                 channels: int, preprocess: Callable[[np.ndarray], np.ndarray],
                 start_batch: int = 0, reader: Callable[[str], np.ndarray] = read_image,
                 stats: StreamStats | None = None) -> Iterator[Batch]:
    """Yield model-ready batches of ``samples``, reading images lazily.

    :func:`batch_specs` then a :class:`BatchLoader` per batch, in order, in this thread.

    Parameters
    ----------
    samples : sequence of Sample
        The samples to stream, in order.
    batch_size : int
        Samples per batch (before skipping).
    input_size : tuple of int
        The model's input ``(height, width)``.
    channels : int
        The model's input channels, 1 (grayscale) or 3.
    preprocess : callable
        Maps a ``uint8`` batch ``(N, H, W, channels)`` to the model's ``float32`` input of the
        same shape, e.g. :class:`audit.datasets.preprocessing.Preprocessor`.
    start_batch : int
        Index of the first batch to yield; earlier batches are skipped without reading images.
    reader : callable
        Reads one image path as ``uint8`` RGB ``(H, W, 3)``; raises
        :class:`~audit.datasets.images.ImageReadError` for a bad file.
    stats : StreamStats, optional
        Updated in place as batches are produced.

    Yields
    ------
    Batch
        See :meth:`BatchLoader.__call__`. Arguments are checked when the first batch is asked
        for (``ValueError``).
    """
    _check_batch_size(batch_size)
    if isinstance(start_batch, bool) or not isinstance(start_batch, int) or start_batch < 0:
        raise ValueError(f"start_batch must be a non-negative integer, got {start_batch!r}")
    load = BatchLoader(input_size, channels, preprocess,
                       reader if stats is None else _CountingReader(reader, stats))
    for spec in batch_specs(samples, batch_size=batch_size)[start_batch:]:
        batch = load(spec)
        if stats is not None:
            stats.n_boxes_clipped += batch.n_boxes_clipped
        yield batch


@dataclass(frozen=True)
class _CountingReader:
    """A reader that counts the images it decoded in ``stats.n_images_read``."""

    reader: Callable[[str], np.ndarray]
    stats: StreamStats

    def __call__(self, path: str) -> np.ndarray:
        rgb = self.reader(path)
        self.stats.n_images_read += 1
        return rgb


def _check_batch_size(batch_size: int) -> None:
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size <= 0:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")


def _model_input(display: np.ndarray, channels: int,
                 preprocess: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    n, height, width = display.shape[:3]
    if n == 0:
        return np.zeros((0, height, width, channels), dtype=np.float32)
    images = np.asarray(preprocess(to_channels(display, channels)), dtype=np.float32)
    if images.shape != (n, height, width, channels):
        raise ValueError(
            f"preprocessing returned shape {images.shape}, expected {(n, height, width, channels)}"
        )
    return images
