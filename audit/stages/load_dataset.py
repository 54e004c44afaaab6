"""Stage ``load_dataset``: read the manifest, and describe the batches the run streams over."""

from __future__ import annotations

from dataclasses import replace

from audit.config import CamsSection, DatasetSection
from audit.datasets import (
    BatchLoader,
    DatasetManifest,
    Sample,
    SkippedSample,
    batch_specs,
    load_manifest,
)
from audit.errors import ConfigError
from audit.files import check_scheme, is_url
from audit.pipeline import Stream
from audit.stages.load_model import ModelInfo


def load_dataset(dataset: DatasetSection, cams: CamsSection, class_names: list[str],
                 model_info: ModelInfo) -> tuple[DatasetManifest, Stream]:
    """The manifest, labels matched to the model's classes, and the stream of batches; for a
    multi-label model (``model_info.task``) every sample has its label set
    (:mod:`audit.datasets.label_sets`).

    Returns
    -------
    manifest : DatasetManifest
    batch : Stream
        Batches of ``cams.batch_size`` samples of the first ``dataset.limit`` samples (all
        when unset), read lazily; batch 0 also carries the manifest's skipped entries.
    """
    manifest = load_manifest(dataset.format, dataset.path, images_root=dataset.images_root,
                             class_names=class_names, confine_paths=dataset.confine_paths,
                             multilabel=model_info.multilabel)
    manifest = replace(manifest, max_image_pixels=dataset.max_image_pixels,
                       image_formats=tuple(dataset.image_formats))
    samples = manifest.samples[:dataset.limit] if dataset.limit else manifest.samples
    samples, unreadable = _check_url_schemes(samples)
    if unreadable:
        left = {id(s) for s in samples}
        manifest = replace(manifest, samples=[s for s in manifest.samples if id(s) in left],
                           skipped=[*manifest.skipped, *unreadable])
    specs = batch_specs(samples, batch_size=cams.batch_size, skipped=manifest.skipped)
    loader = BatchLoader(model_info.input_size, model_info.channels, model_info.preprocessor,
                         max_pixels=manifest.max_image_pixels, formats=manifest.image_formats)
    return manifest, Stream(specs, loader)


def _check_url_schemes(samples: list[Sample]) -> tuple[list[Sample], list[SkippedSample]]:
    """Images at URLs need a file system for their scheme: the samples at a URL whose scheme
    has none here are skipped with the reason, before any batch runs; when that leaves no
    sample, the first such error is raised."""
    problems: dict[str, ConfigError | None] = {}
    kept: list[Sample] = []
    skipped: list[SkippedSample] = []
    for sample in samples:
        if not is_url(sample.path):
            kept.append(sample)
            continue
        scheme = sample.path.split("://", 1)[0].lower()
        if scheme not in problems:
            try:
                check_scheme(sample.path, what="dataset images")
                problems[scheme] = None
            except ConfigError as exc:
                problems[scheme] = exc
        problem = problems[scheme]
        if problem is None:
            kept.append(sample)
        else:
            skipped.append(SkippedSample(sample.sample_id, sample.image,
                                         f"image could not be read: {problem}"))
    if samples and not kept:
        raise next(p for p in problems.values() if p is not None)
    return kept, skipped
