"""An engine that runs a pipeline's per-batch stages on Apache Beam: the DirectRunner on one
machine, or Dataflow, Flink, Spark on a cluster, with the same results as the local engine.

Like the rest of :mod:`audit.pipeline`, it knows no stage: it runs whatever per-batch segment a
pipeline has, and the caller supplies what is specific to the pipeline (what a failed item
becomes, which counters to report).

The job
-------
::

    the stream's specs, in shard files ─► Create(shard names) ─► read: (index, spec)
      ─► Reshuffle ─► RunInference (one item a call) ─► staging/items/<index>.pkl
                         └─ dead letter (the item raised) ─► staging/items/<index>.failed.pkl

* An element is one item of the stream: a spec (a picklable description, e.g. which samples
  form batch 7) keyed by its index. Items are formed on the driver exactly as the local engine
  forms them, so every model call sees the same inputs and the results are bit-identical.
* The worker is a Beam ``ModelHandler``: ``load_model`` builds the worker's catalog once per
  worker (process, or machine with ``share_model_across_processes``): it runs again the stages
  marked ``per_worker`` (a loaded model is not shipped) on their inputs; every other value the
  per-batch stages read from the catalog is shipped with the job (pickled). ``run_inference``
  loads an item (``Stream.load``), runs :func:`~audit.pipeline.runner.run_batch` on it and keeps
  the collected outputs.
* Each item's outputs are written to a staging folder, one file per item, atomically (a retried
  bundle writes the same bytes again). An item that raises goes to RunInference's dead-letter
  output and is staged as a failure with its error and traceback.
* The driver merges the staged items **in index order** through the same
  :class:`~audit.pipeline.runner.Collector` as the local engine, while the job runs: tables,
  counts, checkpoints and ``status.json`` are exactly what the local engine writes, and the
  progress bar moves as items are merged.

The staging folder is ``<run folder>/beam-staging`` for runners whose workers share this
machine's disk (the DirectRunner, a portable runner with ``--environment_type=LOOPBACK``),
else ``<--temp_location>/beam-staging/<run folder name>``. It is removed when the stream is
complete.

Resuming a run (the checkpoint says how many items were merged) submits a job for the items
that are neither merged nor staged: staged outputs of an interrupted job are merged, staged
failures are tried again.
"""

from audit.pipeline.beam.engine import DEAD_LETTER, BeamEngine, ItemFailure
from audit.pipeline.beam.options import pipeline_options
from audit.pipeline.beam.worker import METRICS_NAMESPACE, default_item_metrics

__all__ = ["DEAD_LETTER", "METRICS_NAMESPACE", "BeamEngine", "ItemFailure",
           "default_item_metrics", "pipeline_options"]
