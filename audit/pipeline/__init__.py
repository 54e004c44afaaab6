"""Pipelines: ordered lists of named stages, built from YAML and run over a stream of batches."""

from audit.pipeline.build import Pipeline, load_pipeline
from audit.pipeline.stage import REGISTRY, Stage, stage

__all__ = ["REGISTRY", "Pipeline", "Stage", "load_pipeline", "stage"]
