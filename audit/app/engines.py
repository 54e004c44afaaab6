"""The engines an audit runs on (``engine: local | beam``), and what the audit asks of them.

The pipeline core's engines know no audit stage (:mod:`audit.pipeline`). What only the audit
knows lives here:

* a batch that raised on a Beam worker (it went to Beam's dead-letter output) becomes its
  samples' rows in ``skipped.csv``, with the worker's error as the reason;
* the Beam counters a job reports: images done and images skipped;
* the runner's name for the run's provenance, read from ``beam.options`` without importing
  Beam, so that a local run never needs it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from audit.config import AuditConfig
from audit.datasets import BatchSpec, SkippedSample
from audit.errors import ConfigError
from audit.files import BEAM_INSTALL, is_url
from audit.pipeline import Counts, LocalEngine

__all__ = ["count_images", "engine_provenance", "make_engine", "runner_name",
           "skip_failed_batch"]


def runner_name(flags: Sequence[str]) -> str:
    """The ``--runner`` the flags name (the last one wins, as in Beam); ``DirectRunner`` by
    default.

    >>> runner_name(["--runner=DataflowRunner", "--region=europe-west1"])
    'DataflowRunner'
    >>> runner_name(["--runner", "FlinkRunner"]), runner_name([])
    ('FlinkRunner', 'DirectRunner')
    """
    name = None
    for i, flag in enumerate(flags):
        if flag.startswith("--runner="):
            name = flag.split("=", 1)[1]
        elif flag == "--runner" and i + 1 < len(flags):
            name = flags[i + 1]
    return name or "DirectRunner"


def skip_failed_batch(spec: BatchSpec, failure) -> dict[str, Any]:
    """The collected outputs that stand for a batch that raised on a worker: no records, and
    each of its samples skipped with the worker's error (after the manifest's skipped entries
    the batch carries)."""
    reason = f"failed on a Beam worker: {failure.error}"
    skipped = list(spec.skipped) + [SkippedSample(s.sample_id, s.image, reason)
                                    for s in spec.samples]
    return {"records": [], "skipped": skipped, "batch_counts": Counts(n_boxes_clipped=0)}


def count_images(outputs: Mapping[str, Any]) -> dict[str, int]:
    """Beam counters of one batch: images audited (samples with records) and skipped."""
    return {"images_done": len({r.sample_id for r in outputs.get("records", ())}),
            "images_skipped": len(outputs.get("skipped", ()))}


def make_engine(config: AuditConfig):
    """The engine ``config.engine`` names, checked: for ``beam``, Apache Beam must be
    installed and must accept ``beam.options``, and workers on other machines must be able
    to read the model.

    Raises
    ------
    ConfigError
        Beam is not installed (the message gives the install command), it refuses the options
        (the message names ``beam.options``), or the model is a local file and the runner's
        workers are elsewhere.
    """
    if config.engine == "local":
        return LocalEngine()
    try:
        from audit.pipeline.beam import BeamEngine
    except ImportError as exc:
        raise ConfigError(f"engine: beam needs Apache Beam, which is not installed "
                          f"({exc}): {BEAM_INSTALL}") from None
    engine = BeamEngine(options=config.beam.options, on_failure=skip_failed_batch,
                        item_metrics=count_images,
                        share_model_across_processes=config.beam.share_model_across_processes,
                        where="beam.options")
    if not engine.local_workers and not is_url(config.model.path):
        raise ConfigError(f"model.path: the {engine.runner}'s workers load the model "
                          f"themselves and cannot read '{config.model.path}' on this machine: "
                          "put it where they can, e.g. gs://<bucket>/model.keras.")
    return engine


def engine_provenance(config: AuditConfig) -> dict[str, Any]:
    """``engine`` and ``runner`` (None for the local engine) for the run's provenance."""
    return {"engine": config.engine,
            "runner": runner_name(config.beam.options) if config.engine == "beam" else None}

