"""Stage ``load_dataset``: read the manifest, and describe the batches the run streams over."""

from __future__ import annotations

from audit.config import CamsSection, DatasetSection
from audit.datasets import BatchLoader, DatasetManifest, Sample, batch_specs, load_manifest
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
                             class_names=class_names, multilabel=model_info.multilabel)
    samples = manifest.samples[:dataset.limit] if dataset.limit else manifest.samples
    _check_url_schemes(samples)
    specs = batch_specs(samples, batch_size=cams.batch_size, skipped=manifest.skipped)
    loader = BatchLoader(model_info.input_size, model_info.channels, model_info.preprocessor)
    return manifest, Stream(specs, loader)


def _check_url_schemes(samples: list[Sample]) -> None:
    """Images at URLs need a file system for their scheme: say so before any batch runs."""
    first: dict[str, str] = {}
    for sample in samples:
        if is_url(sample.path):
            first.setdefault(sample.path.split("://", 1)[0].lower(), sample.path)
    for url in first.values():
        check_scheme(url, what="dataset images")
