"""Keeping a manifest's image and mask paths inside the dataset's folder
(``dataset.confine_paths``).

A manifest is data, often written by someone else: an absolute path, a ``../`` or a symbolic
link in it would otherwise make the audit read any image the user can read and embed it in the
report. With confinement on (the default), every image and mask path must resolve, symbolic
links followed (:func:`os.path.realpath`), inside one of the allowed roots (``images_root``;
for Pascal VOC also the VOC folder, whose masks live beside ``JPEGImages/``). A URL is confined
to a URL root: it must start with the root followed by ``/`` and have no ``..`` segment. Any
other sample is skipped with its reason; nothing is read from it.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import replace

from audit.datasets.manifest import DatasetManifest
from audit.datasets.masks import PngMask
from audit.datasets.types import Sample, SkippedSample
from audit.errors import DatasetError
from audit.files import is_url

__all__ = ["confine_manifest", "outside_roots"]


def outside_roots(path: str, roots: Sequence[str]) -> bool:
    """Whether ``path`` resolves outside every one of ``roots``.

    >>> import tempfile
    >>> root = tempfile.mkdtemp()
    >>> outside_roots(os.path.join(root, "a.png"), [root])
    False
    >>> outside_roots(os.path.join(root, "..", "a.png"), [root])
    True
    >>> outside_roots("gs://bucket/data/a.png", ["gs://bucket/data"])
    False
    >>> outside_roots("gs://bucket/data/../secret.png", ["gs://bucket/data"])
    True
    """
    if is_url(path):
        if "/../" in path or path.endswith("/.."):
            return True
        return not any(is_url(root) and path.startswith(root.rstrip("/") + "/") for root in roots)
    real = os.path.realpath(path)
    for root in roots:
        if is_url(root):
            continue
        top = os.path.realpath(root)
        if real == top or real.startswith(top.rstrip(os.sep) + os.sep):
            return False
    return True


def confine_manifest(manifest: DatasetManifest, *, roots: Sequence[str]) -> DatasetManifest:
    """The manifest with every sample whose image or mask resolves outside ``roots`` moved to
    its skipped samples.

    Raises
    ------
    DatasetError
        No sample is left.
    """
    kept: list[Sample] = []
    skipped = list(manifest.skipped)
    where = " or ".join(str(root) for root in roots)
    for sample in manifest.samples:
        escaping = [(what, path) for what, path in _paths(sample) if outside_roots(path, roots)]
        if not escaping:
            kept.append(sample)
            continue
        what, path = escaping[0]
        skipped.append(SkippedSample(
            sample.sample_id, sample.image,
            f"{what} path {path} resolves outside the dataset folder {where} (symbolic links "
            "followed); dataset.confine_paths is true, so it is not read (move the file "
            "inside, or set dataset.confine_paths: false)"))
    if not kept:
        reasons = "; ".join(s.reason for s in skipped[-3:])
        raise DatasetError(
            f"dataset manifest {manifest.path} has no usable sample: every image or mask path "
            f"resolves outside {where}. Last reasons: {reasons}")
    return replace(manifest, samples=kept, skipped=skipped)


def _paths(sample: Sample) -> list[tuple[str, str]]:
    masks = [("mask", m.path) for m in sample.masks if isinstance(m, PngMask)]
    return [("image", sample.path), *masks]
