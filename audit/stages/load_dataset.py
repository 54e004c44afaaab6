"""Stage ``load_dataset``: read the manifest into samples (images are streamed later)."""

from __future__ import annotations

from audit.datasets import load_manifest
from audit.pipeline.stage import stage


@stage("load_dataset", inputs=("config", "class_names"), outputs=("manifest",),
       config_section="dataset")
def load_dataset_stage(config, class_names):
    """The dataset manifest, labels matched to the model's classes."""
    return load_manifest(config.dataset.format, config.dataset.path,
                         images_root=config.dataset.images_root, class_names=class_names)
