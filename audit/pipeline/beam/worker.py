"""What runs on a Beam worker: the model handler that rebuilds the per-worker stages' outputs once
and runs the per-batch stages on one item per call."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import apache_beam as beam
from apache_beam.metrics import Metrics
from apache_beam.ml.inference.base import ModelHandler
from apache_beam.utils.shared import Shared

from audit.pipeline.beam.staging import (
    _Staging,
)
from audit.pipeline.errors import BadInput
from audit.pipeline.pipeline import Pipeline
from audit.pipeline.runner import StageError, run_batch, run_stage
from audit.pipeline.stage import Counts, Stage

#: The namespace of the Beam metrics the job reports.
METRICS_NAMESPACE = "audit.pipeline"


# ---------------------------------------------------------------------------------- worker

# The driver's own per-worker values, found by a worker that runs in the driver's process (the
# in-process DirectRunner) instead of being built a second time.
_DRIVER_VALUES: dict[str, dict] = {}


@dataclass(frozen=True)
class _Work:
    """Everything a worker needs to run items, shipped (pickled) with the job."""

    per_batch: tuple[Stage, ...]
    rebuild: tuple[Stage, ...]  # per-worker stages, run again in each worker, in run order
    shipped: Mapping[str, Any]  # catalog values the per-batch and rebuilt stages read
    stream: str
    maker: str  # the stage that made the stream, named when loading an item fails
    load: Callable[[Any], Any]
    collected: tuple[str, ...]
    key: str  # finds _DRIVER_VALUES

    def catalog(self) -> dict:
        """The worker's catalog: the shipped values and the per-worker stages' outputs."""
        catalog = dict(self.shipped)
        own = _DRIVER_VALUES.get(self.key)
        if own is not None:
            catalog.update(own)
            return catalog
        for stage in self.rebuild:
            catalog.update(run_stage(stage, catalog))
        return catalog

    def run(self, catalog: Mapping[str, Any], index: int, spec) -> dict:
        """The collected outputs of item ``index``: load it, run the per-batch stages."""
        try:
            item = self.load(spec)
        except BadInput:
            raise
        except Exception as exc:
            raise StageError(f"{self.maker} (loading item {index})", exc) from exc
        scope = run_batch(self.per_batch, {**catalog, self.stream: item})
        return {name: scope[name] for name in self.collected}


def _work(pipeline: Pipeline, catalog: Mapping[str, Any], maker: str, load) -> _Work:
    made_in_stream = {n for s in pipeline.per_batch for n in s.outputs} | {pipeline.stream}
    makers = {n: s for s in pipeline.before for n in s.outputs}
    rebuild: list[Stage] = []
    shipped: dict[str, Any] = {}

    def need(name: str) -> None:
        stage = makers.get(name)
        if stage is not None and stage.per_worker:
            if stage not in rebuild:
                for input_name in stage.inputs:
                    need(input_name)
                rebuild.append(stage)
        elif name not in shipped and name in catalog:  # an optional input may be absent
            shipped[name] = catalog[name]

    for stage in pipeline.per_batch:
        for name in stage.inputs:
            absent = name in stage.optional and name not in makers and name not in catalog
            if name not in made_in_stream and not absent:  # an absent optional input: None
                need(name)
    return _Work(per_batch=pipeline.per_batch, rebuild=tuple(rebuild), shipped=shipped,
                 stream=pipeline.stream, maker=maker, load=load,
                 collected=tuple(pipeline.collected), key=uuid.uuid4().hex)


class _Worker:
    """The "model" RunInference holds: a worker's catalog and the per-batch stages."""

    def __init__(self, work: _Work):
        self._work = work
        self._catalog = work.catalog()

    def run(self, index: int, spec) -> dict:
        return self._work.run(self._catalog, index, spec)


class _ItemHandler(ModelHandler):
    """A Beam ModelHandler whose model is a :class:`_Worker` and whose examples are
    ``(index, spec)`` items, one per call, so a failure is one item's."""

    def __init__(self, work: _Work, *, share_across_processes: bool = False):
        super().__init__(min_batch_size=1, max_batch_size=1)
        self._work = work
        self._share = share_across_processes

    def load_model(self) -> _Worker:
        return _Worker(self._work)

    def run_inference(self, batch, model, inference_args=None) -> list:
        return [(index, model.run(index, spec)) for index, spec in batch]

    def share_model_across_processes(self) -> bool:
        return self._share


class _RunAndStage(beam.DoFn):
    """The Dask runner's step: run one item and stage its outputs, or its failure.

    Beam's Dask runner (2.77) translates only Create, ParDo, GroupByKey and Flatten; a ParDo's
    tagged outputs land in one bag, and only the last transform's bag is computed. So
    RunInference's dead-letter branch (a tagged output feeding a second sink) cannot work
    there: this one plain ParDo does both, catching an item's error as RunInference's
    exception handling would. The worker's catalog is built once per process
    (``apache_beam.utils.shared.Shared``, as RunInference holds its model), not per bundle.
    """

    def __init__(self, work: _Work, staging: _Staging, item_metrics):
        self._work = work
        self._staging = staging
        self._item_metrics = item_metrics
        self._shared = Shared()
        self._worker = None

    def setup(self):
        self._worker = self._shared.acquire(lambda: _Worker(self._work), tag=self._work.key)

    def process(self, item):
        import traceback

        index, spec = item
        try:
            outputs = self._worker.run(index, spec)
        except Exception as exc:  # noqa: BLE001 - staged as the item's failure
            self._staging.write(self._staging.item(index, failed=True),
                                {"error": f"{type(exc).__name__}: {exc}",
                                 "traceback": traceback.format_exc()})
            Metrics.counter(METRICS_NAMESPACE, "items_failed").inc()
            return
        self._staging.write(self._staging.item(index), outputs)
        Metrics.counter(METRICS_NAMESPACE, "items_done").inc()
        for name, value in self._item_metrics(outputs).items():
            Metrics.counter(METRICS_NAMESPACE, name).inc(int(value))
        yield index


def _read_shard(path: str):
    return _Staging("").read(path) or []


class _StageOutputs(beam.DoFn):
    def __init__(self, staging: _Staging, item_metrics):
        self._staging = staging
        self._item_metrics = item_metrics

    def process(self, result):
        index, outputs = result
        self._staging.write(self._staging.item(index), outputs)
        Metrics.counter(METRICS_NAMESPACE, "items_done").inc()
        for name, value in self._item_metrics(outputs).items():
            Metrics.counter(METRICS_NAMESPACE, name).inc(int(value))


class _StageFailures(beam.DoFn):
    def __init__(self, staging: _Staging):
        self._staging = staging

    def process(self, failed):
        batch, (kind, _, lines) = failed
        lines = list(lines)
        # The last line is "<module>.<Type>: <message>"; keep "<Type>: <message>".
        message = lines[-1].strip().split(": ", 1)[1] if lines and ": " in lines[-1] else ""
        error = f"{kind.__name__}: {message}" if message else kind.__name__
        for index, _ in batch:
            self._staging.write(self._staging.item(index, failed=True),
                                {"error": error, "traceback": "".join(lines)})
            Metrics.counter(METRICS_NAMESPACE, "items_failed").inc()


def default_item_metrics(outputs: Mapping[str, Any]) -> dict[str, int]:
    """Counters of one item's outputs: rows of each table, and each count."""
    metrics: dict[str, int] = {}
    for name, value in outputs.items():
        if isinstance(value, Counts):
            for key, count in value.items():
                metrics[f"{name}.{key}"] = int(count)
        else:
            metrics[f"{name}.rows"] = len(value)
    return metrics
