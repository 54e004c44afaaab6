"""A small pipeline core: stages with named inputs and outputs, put in order by their data, run
before, over and after a stream of items, with checkpoints in a run folder.

It knows nothing about auditing: the audit's stages are listed in :mod:`audit.stages` and the
audit run is put together in :mod:`audit.app.run`.

Engines run the stream: :class:`LocalEngine` in this process; ``audit.pipeline.beam.BeamEngine``
(import it explicitly: it needs Apache Beam) as an Apache Beam job, with the same results.
"""

from audit.pipeline.errors import BadInput, PipelineError, RunFolderError, StageError
from audit.pipeline.pipeline import Pipeline, build_pipeline, load_pipeline
from audit.pipeline.run_folder import Checkpoint, RunFolder
from audit.pipeline.runner import (
    Collector,
    LocalEngine,
    run_batch,
    run_pipeline,
    run_stage,
)
from audit.pipeline.shards import Shard, ShardSet
from audit.pipeline.stage import PARAMS, Counts, Stage
from audit.pipeline.stream import Stream

__all__ = ["PARAMS", "BadInput", "Checkpoint", "Collector", "Counts", "LocalEngine", "Pipeline",
           "PipelineError", "RunFolder", "RunFolderError", "Shard", "ShardSet", "Stage",
           "StageError", "Stream", "build_pipeline", "load_pipeline", "run_batch", "run_pipeline",
           "run_stage"]
