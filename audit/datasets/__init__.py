"""Dataset loaders: manifests in four formats and image folders, turned into samples and
streamed as batches.

``load_manifest(format, path)`` reads a manifest into a :class:`DatasetManifest` (samples to
audit, skipped samples with reasons, the class vocabulary). :func:`batch_specs` cuts the samples
into :class:`BatchSpec` s (nothing read, picklable) and a :class:`BatchLoader` loads one spec
into a model-ready :class:`Batch` in any thread or process; :func:`iter_batches` does both in
order. Conventions are documented in
:mod:`audit.datasets.labels` (matching labels to classes), :mod:`audit.datasets.boxes`
(checking and clipping boxes), :mod:`audit.datasets.manifest` (grouping, duplicates),
:mod:`audit.datasets.images` (pixel modes, EXIF, transparency) and
:mod:`audit.datasets.stream` (batch composition).

Samples may carry segmentation mask sources (:class:`PolygonMask`, :class:`RleMask`,
:class:`PngMask`; decoded into ``Batch.masks`` when loaded, see :mod:`audit.datasets.masks`) and
per-sample metadata (:class:`Meta`).

Per-sample problems raise a :class:`SampleError` (:class:`LabelError`, :class:`BoxError`,
:class:`MaskError`) inside the package and are recorded as :class:`SkippedSample` s; run-level
problems raise :class:`~audit.errors.DatasetError`.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence

from audit.datasets.boxes import BoxError
from audit.datasets.coco import load_coco
from audit.datasets.confine import confine_manifest
from audit.datasets.csv_manifest import load_csv
from audit.datasets.folder import load_folder
from audit.datasets.images import ImageReadError, read_image, resize_image
from audit.datasets.jsonl import load_jsonl
from audit.datasets.labels import LabelError
from audit.datasets.manifest import DatasetManifest
from audit.datasets.masks import (
    MaskError,
    MaskSource,
    PngMask,
    PolygonMask,
    RleMask,
    decode_mask,
)
from audit.datasets.preprocessing import Preprocessor
from audit.datasets.stream import BatchLoader, StreamStats, batch_specs, iter_batches, n_batches
from audit.datasets.types import (
    Batch,
    BatchSpec,
    Box,
    LabelObjects,
    Meta,
    Sample,
    SampleError,
    SkippedSample,
)
from audit.datasets.voc import load_voc
from audit.errors import DatasetError

__all__ = [
    "FORMATS",
    "Batch",
    "BatchLoader",
    "BatchSpec",
    "Box",
    "BoxError",
    "DatasetManifest",
    "ImageReadError",
    "LabelError",
    "LabelObjects",
    "MaskError",
    "MaskSource",
    "Meta",
    "PngMask",
    "PolygonMask",
    "Preprocessor",
    "RleMask",
    "Sample",
    "SampleError",
    "SkippedSample",
    "StreamStats",
    "batch_specs",
    "decode_mask",
    "iter_batches",
    "load_manifest",
    "n_batches",
    "read_image",
    "resize_image",
]

_LOADERS: dict[str, Callable[..., DatasetManifest]] = {
    "csv": load_csv,
    "jsonl": load_jsonl,
    "coco": load_coco,
    "voc": load_voc,
    "folder": load_folder,
}

#: The manifest formats :func:`load_manifest` understands.
FORMATS: tuple[str, ...] = tuple(_LOADERS)


def load_manifest(format: str, path: str | os.PathLike, *,
                  images_root: str | os.PathLike | None = None,
                  class_names: Sequence[str] | None = None,
                  confine_paths: bool = False, multilabel: bool = False) -> DatasetManifest:
    """Load a dataset manifest of the given format.

    Parameters
    ----------
    format : str
        ``"csv"``, ``"jsonl"``, ``"coco"``, ``"voc"`` or ``"folder"`` (case-insensitive).
    path : str or path-like
        The manifest file (the VOC folder for ``"voc"``; for ``"folder"`` the folder with one
        subfolder per class, see :mod:`audit.datasets.folder`).
    images_root : str or path-like, optional
        Folder relative image paths are resolved against. Defaults to the manifest's folder,
        and for VOC to the VOC folder's ``JPEGImages/``.
    class_names : sequence of str, optional
        The model's classes in output order. ``None`` derives the vocabulary from the labels:
        ``"0".."max"`` for integer labels, else the sorted distinct label names.
    confine_paths : bool
        Skip every sample whose image or mask resolves (symbolic links followed) outside
        ``images_root`` (for VOC, outside the VOC folder) (:mod:`audit.datasets.confine`).
        The audit passes ``dataset.confine_paths`` (default true).
    multilabel : bool
        Samples with label sets (``Sample.label_set``), for a multi-label model: every label
        of an image, each with its own objects (see :mod:`audit.datasets.label_sets`).

    Returns
    -------
    DatasetManifest

    Raises
    ------
    DatasetError
        Unknown format, missing or unreadable manifest, missing required columns or keys, an
        empty dataset, or labels of which none match ``class_names``.
    """
    key = format.strip().lower() if isinstance(format, str) else format
    loader = _LOADERS.get(key)
    if loader is None:
        raise DatasetError(
            f"unknown dataset format {format!r} for manifest {os.fspath(path)}; "
            f"allowed formats: {', '.join(FORMATS)}"
        )
    if multilabel and key == "folder":
        raise DatasetError(
            f"dataset.format must be csv, jsonl, coco or voc for a multi-label model (label "
            f"sets); got {format!r}")
    options = {"multilabel": True} if multilabel else {}
    manifest = loader(path, images_root=images_root, class_names=class_names, **options)
    if not confine_paths:
        return manifest
    roots = [manifest.images_root]
    if key == "voc":
        roots.append(os.fspath(path))
    return confine_manifest(manifest, roots=roots)
