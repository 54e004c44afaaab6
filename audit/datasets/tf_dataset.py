"""A ``tf.data.Dataset`` as a dataset the audit reads: PNG files and a JSON Lines manifest.

``audit.run(config, dataset=...)`` audits images that live in a notebook's memory. They are
written, one element at a time (memory stays bounded), into the run folder as lossless PNGs
with a ``manifest.jsonl`` beside them, and the run then reads that manifest like any other. That
choice, rather than a second kind of stream fed from the iterator, keeps three promises:

* the results are bit-for-bit those of ``cam-audit run`` on the same data, because every image
  goes through the same reader, resize and preprocessing (``audit.datasets.stream``), and
  ``<run folder>/config.yaml`` reproduces the run from the command line;
* the stages that read chosen samples again after the stream (gallery, faithfulness, sanity)
  and a resumed run find the images, which a one-shot iterator cannot give twice;
* a Beam worker reads them like any image file.

Elements are ``(image, label)`` or ``(image, label, boxes)``; a batched dataset (images of
rank 4) is read row by row. ``image`` holds pixels as a file would (``uint8``, or floats with
whole values in [0, 255]), ``(H, W)``, ``(H, W, 1)`` or ``(H, W, 3)``; ``label`` a class index or
name; ``boxes`` ``[N, 4]`` ``(x_min, y_min, x_max, y_max)`` in the image's pixels, where rows of
-1 (padding) are ignored.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from audit.errors import DatasetError
from audit.io import atomic_write_text

__all__ = ["MANIFEST_NAME", "write_tf_dataset"]

#: The manifest written beside the images.
MANIFEST_NAME = "manifest.jsonl"


def _rows(element):
    """One element of the dataset as (image, label, boxes) rows: a batch gives several."""
    if not isinstance(element, tuple | list) or len(element) not in (2, 3):
        raise DatasetError(f"dataset elements must be (image, label) or (image, label, boxes); "
                           f"got {type(element).__name__} of {_length(element)}.")
    image, label = np.asarray(element[0]), np.asarray(element[1])
    boxes = np.asarray(element[2]) if len(element) == 3 else None
    if image.ndim == 4:
        for i in range(image.shape[0]):
            yield image[i], label[i], None if boxes is None else boxes[i]
    else:
        yield image, label, boxes


def _length(element) -> str:
    return f"{len(element)} values" if isinstance(element, tuple | list) else "one value"


def _pixels(image: np.ndarray, index: int) -> np.ndarray:
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[..., 0]
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] != 3):
        raise DatasetError(f"dataset element {index}: image must be (H, W), (H, W, 1) or "
                           f"(H, W, 3); got shape {tuple(image.shape)}.")
    if image.dtype == np.uint8:
        return image
    values = image.astype(np.float64)
    if not (np.all(np.isfinite(values)) and values.min(initial=0) >= 0
            and values.max(initial=0) <= 255 and np.all(values == np.round(values))):
        raise DatasetError(
            f"dataset element {index}: image must hold pixels as an image file does (uint8, or "
            f"whole numbers in [0, 255]); got {image.dtype} values in "
            f"[{values.min():.3g}, {values.max():.3g}]. Pass the raw images: the model's "
            "preprocessing is model.preprocessing's job.")
    return values.astype(np.uint8)


def _label(label: np.ndarray, index: int):
    value = label.item() if label.ndim == 0 else None
    if isinstance(value, bytes):
        return value.decode("utf-8")
    if isinstance(value, str):
        return value
    if isinstance(value, int | np.integer) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise DatasetError(f"dataset element {index}: label must be a class index or name (a "
                       f"scalar); got {label.dtype} of shape {tuple(label.shape)}.")


def _boxes(boxes: np.ndarray | None, index: int) -> list[list[float]]:
    if boxes is None:
        return []
    boxes = np.asarray(boxes, dtype=np.float64)
    if boxes.size == 0:
        return []
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise DatasetError(f"dataset element {index}: boxes must be [N, 4] (x_min, y_min, "
                           f"x_max, y_max) in pixels; got shape {tuple(boxes.shape)}.")
    kept = boxes[~np.all(boxes == -1, axis=1)]
    return [[float(v) for v in row] for row in kept]


def write_tf_dataset(dataset, folder, *, limit: int | None = None) -> Path:
    """Write ``dataset``'s elements as ``folder/images/<index>.png`` and
    ``folder/manifest.jsonl``, one element at a time.

    Parameters
    ----------
    dataset : tf.data.Dataset or iterable
        Elements ``(image, label)`` or ``(image, label, boxes)`` (see the module's notes).
    folder : path
        Created if missing.
    limit : int, optional, keyword-only
        Write only the first ``limit`` images (``dataset.limit``).

    Returns
    -------
    pathlib.Path
        The manifest (JSON Lines; image paths relative to it).

    Raises
    ------
    DatasetError
        An element of another shape, an image that is not pixels, a label that is not a
        class, boxes that are not ``[N, 4]``, or an empty dataset.
    """
    from PIL import Image

    folder = Path(folder)
    (folder / "images").mkdir(parents=True, exist_ok=True)
    lines: list[str] = []
    elements = dataset.as_numpy_iterator() if hasattr(dataset, "as_numpy_iterator") else dataset
    for element in elements:
        for image, label, boxes in _rows(tuple(element)):
            if limit is not None and len(lines) >= limit:
                break
            index = len(lines)
            name = f"images/{index:06d}.png"
            Image.fromarray(_pixels(image, index)).save(folder / name, format="PNG")
            lines.append(json.dumps({"image": name, "label": _label(label, index),
                                     "boxes": _boxes(boxes, index)}))
        if limit is not None and len(lines) >= limit:
            break
    if not lines:
        raise DatasetError("dataset must yield at least one (image, label) element; got none.")
    return atomic_write_text(folder / MANIFEST_NAME, "".join(line + "\n" for line in lines))
