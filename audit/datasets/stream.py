"""Streaming samples as model-ready batches, reading images lazily in bounded memory.

Conventions
-----------
* Batch ``i`` is formed from ``samples[i * batch_size:(i + 1) * batch_size]``, always, whatever
  fails to read: a sample that cannot be used goes to ``Batch.skipped`` and the batch is smaller
  (possibly empty; it is yielded anyway). Batch indices are therefore stable across runs, and a
  run resumed with ``start_batch=k`` sees exactly the batches it would have seen.
* Images are read when their batch is requested, one at a time, and resized to the model input
  size at once: at most one original image and one batch are held in memory. Nothing is read
  ahead, and batches before ``start_batch`` are not read at all.
* Boxes are checked against the decoded image's size (after EXIF rotation): boxes partly outside
  are clipped (counted in :attr:`StreamStats.n_boxes_clipped`), and a sample with a box entirely
  outside its image is skipped with a reason (see :func:`audit.datasets.boxes.apply_image_size`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from audit.datasets.boxes import apply_image_size
from audit.datasets.images import ImageReadError, read_image, resize_image, to_channels
from audit.datasets.types import Batch, Sample, SampleError, SkippedSample


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


def iter_batches(samples: Sequence[Sample], *, batch_size: int, input_size: tuple[int, int],
                 channels: int, preprocess: Callable[[np.ndarray], np.ndarray],
                 start_batch: int = 0, reader: Callable[[str], np.ndarray] = read_image,
                 stats: StreamStats | None = None) -> Iterator[Batch]:
    """Yield model-ready batches of ``samples``, reading images lazily.

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
        same shape, e.g. :class:`audit.datasets.images.Preprocessor`.
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
        ``images`` float32 ``(n, H, W, channels)``, ``display`` uint8 RGB ``(n, H, W, 3)``,
        ``original_sizes`` ``(height, width)`` per kept sample, ``skipped`` the batch's samples
        that cannot be used.
    """
    height, width = _check_args(batch_size, input_size, channels, start_batch)
    total = n_batches(len(samples), batch_size)
    for index in range(start_batch, total):
        chunk = samples[index * batch_size:(index + 1) * batch_size]
        kept: list[Sample] = []
        skipped: list[SkippedSample] = []
        sizes: list[tuple[int, int]] = []
        display = np.zeros((len(chunk), height, width, 3), dtype=np.uint8)
        for sample in chunk:
            try:
                rgb = reader(sample.path)
            except ImageReadError as exc:
                skipped.append(SkippedSample(sample.sample_id, sample.image,
                                             f"image could not be read: {exc.reason}"))
                continue
            if stats is not None:
                stats.n_images_read += 1
            size = (int(rgb.shape[0]), int(rgb.shape[1]))
            try:
                checked, n_clipped = apply_image_size(sample, size)
            except SampleError as exc:
                skipped.append(SkippedSample(sample.sample_id, sample.image, exc.reason))
                continue
            if stats is not None:
                stats.n_boxes_clipped += n_clipped
            display[len(kept)] = resize_image(rgb, (height, width))
            del rgb
            kept.append(checked)
            sizes.append(size)
        display = display[:len(kept)]
        yield Batch(index=index, samples=kept, images=_model_input(display, channels, preprocess),
                    original_sizes=sizes, display=display, skipped=skipped)


def _check_args(batch_size: int, input_size: tuple[int, int], channels: int,
                start_batch: int) -> tuple[int, int]:
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size <= 0:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    if isinstance(start_batch, bool) or not isinstance(start_batch, int) or start_batch < 0:
        raise ValueError(f"start_batch must be a non-negative integer, got {start_batch!r}")
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 or 3, got {channels!r}")
    try:
        height, width = (int(v) for v in input_size)
    except (TypeError, ValueError):
        raise ValueError(f"input_size must be (height, width), got {input_size!r}") from None
    if height <= 0 or width <= 0:
        raise ValueError(f"input_size must be two positive integers, got {input_size!r}")
    return height, width


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
