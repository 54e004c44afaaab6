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

from __future__ import annotations

import contextlib
import difflib
import io
import json
import logging
import os
import pickle
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import apache_beam as beam
from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics import Metrics
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.ml.inference.base import ModelHandler, RunInference
from apache_beam.options.pipeline_options import (
    GoogleCloudOptions,
    PipelineOptions,
    PortableOptions,
    StandardOptions,
)
from apache_beam.runners.runner import PipelineState

from audit.errors import AuditError, ConfigError
from audit.pipeline.pipeline import Pipeline
from audit.pipeline.run_folder import Checkpoint, RunFolder
from audit.pipeline.runner import Collector, StageError, run_batch, run_stage, stream_of
from audit.pipeline.stage import Counts, Stage

__all__ = ["METRICS_NAMESPACE", "BeamEngine", "ItemFailure", "pipeline_options"]

_LOG = logging.getLogger(__name__)

#: The namespace of the Beam metrics the job reports.
METRICS_NAMESPACE = "audit.pipeline"

#: The dead-letter log in the run folder: one JSON line per item that failed on a worker.
DEAD_LETTER = "dead_letter.jsonl"

_SHARD_SIZE = 64  # specs per shard file the job's first step reads
_PICKLE = pickle.HIGHEST_PROTOCOL


# --------------------------------------------------------------------------------- options


def pipeline_options(flags: Sequence[str], *, where: str = "beam.options") -> PipelineOptions:
    """Beam's ``PipelineOptions`` for ``flags`` as a user types them, checked by Beam's parser.

    Raises
    ------
    ConfigError
        Naming ``where``: a flag Beam's parser refuses (a bad value), a flag no Beam options
        class defines (with a "did you mean"), a stray value, or an unknown runner.
    """
    flags = [str(flag) for flag in flags]
    stray = [f for i, f in enumerate(flags)
             if not f.startswith("--") and (i == 0 or not flags[i - 1].startswith("--")
                                            or "=" in flags[i - 1])]
    if stray:
        raise ConfigError(f"{where}: {stray[0]!r} is not a flag; write flags as on a command "
                          f"line, e.g. --runner=DirectRunner. Received: {flags}.")
    captured = io.StringIO()
    try:
        with contextlib.redirect_stderr(captured):
            options = PipelineOptions(flags)
            known = options.get_all_options()
            everything = options.get_all_options(retain_unknown_options=True)
    except SystemExit:  # argparse's way of refusing a value
        message = captured.getvalue().strip().splitlines()
        raise ConfigError(f"{where}: Beam refused the flags: "
                          f"{message[-1] if message else 'invalid'}. Received: {flags}.") from None
    unknown = [name for name in everything if name not in known]
    if unknown:
        guess = difflib.get_close_matches(unknown[0], list(known), n=1)
        hint = f" Did you mean '--{guess[0]}'?" if guess else ""
        raise ConfigError(f"{where}: Beam has no option "
                          f"{', '.join('--' + name for name in unknown)}.{hint} "
                          f"Received: {flags}.")
    runner = options.view_as(StandardOptions).runner or "DirectRunner"
    try:
        from apache_beam.runners.runner import create_runner

        create_runner(runner)
    except (ValueError, ImportError) as exc:
        raise ConfigError(f"{where}: --runner={runner}: {exc}") from None
    return options


def _runner_name(options: PipelineOptions) -> str:
    return options.view_as(StandardOptions).runner or "DirectRunner"


def _local_workers(options: PipelineOptions) -> bool:
    """Whether the job's workers run on this machine (so they can use its disk)."""
    runner = _runner_name(options).lower().replace("runner", "")
    environment = (options.view_as(PortableOptions).environment_type or "").upper()
    return runner in ("direct", "switchingdirect", "bundlebaseddirect") or environment in (
        "LOOPBACK", "PROCESS")


# --------------------------------------------------------------------------------- staging


def _is_remote(path: str) -> bool:
    return "://" in path


def _join(root: str, *parts: str) -> str:
    """``root/part/...``: with ``/`` for URLs (no file system needed to name a path)."""
    if _is_remote(root):
        return "/".join([root.rstrip("/"), *parts])
    return os.path.join(root, *parts)


@dataclass(frozen=True)
class _Staging:
    """The folder workers write item outputs to and the driver reads them from."""

    root: str

    def item(self, index: int, failed: bool = False) -> str:
        suffix = ".failed.pkl" if failed else ".pkl"
        return _join(self.root, "items", f"{index:09d}{suffix}")

    def shard(self, attempt: str, number: int) -> str:
        return _join(self.root, "specs", attempt, f"{number:05d}.pkl")

    def write(self, path: str, value) -> None:
        """Write ``value`` pickled to ``path``: to a temporary name, then renamed, so a reader
        never sees half a file."""
        temporary = f"{path}.{uuid.uuid4().hex}.tmp"
        handle = FileSystems.create(temporary, compression_type=CompressionTypes.UNCOMPRESSED)
        try:
            handle.write(pickle.dumps(value, protocol=_PICKLE))
        finally:
            handle.close()
        FileSystems.rename([temporary], [path])

    def read(self, path: str):
        """The value pickled at ``path``, or None when there is no file (yet)."""
        if not FileSystems.exists(path):
            return None
        with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as handle:
            return pickle.loads(handle.read())

    def staged(self) -> set[str]:
        """The names of the item files already in the staging folder."""
        pattern = _join(self.root, "items", "*.pkl")
        try:
            result = FileSystems.match([pattern])[0]
        except Exception:  # noqa: BLE001 - no folder yet: nothing staged
            return set()
        return {m.path.rsplit("/", 1)[-1] for m in result.metadata_list}

    def delete(self, paths: Sequence[str]) -> None:
        if paths:
            FileSystems.delete(list(paths))

    def remove(self, subfolder: str = "") -> None:
        """Delete the staging folder (or one of its subfolders); a failure is only logged."""
        path = _join(self.root, subfolder) if subfolder else self.root
        try:
            if FileSystems.exists(path):
                FileSystems.delete([path.rstrip("/") + "/" if _is_remote(path) else path])
        except Exception as exc:  # noqa: BLE001 - leftovers in a temp location are harmless
            _LOG.warning("could not remove the staging folder %s: %s", path, exc)


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
        except AuditError:
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
        elif name not in shipped:
            shipped[name] = catalog[name]

    for stage in pipeline.per_batch:
        for name in stage.inputs:
            if name not in made_in_stream:
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


# ---------------------------------------------------------------------------------- driver


@dataclass(frozen=True)
class ItemFailure:
    """An item that raised on a worker: what the dead-letter output recorded."""

    index: int
    error: str  # "ExceptionType: message"
    traceback: str


class _JobThread(threading.Thread):
    """Submits the job and waits for it (the DirectRunner's ``run`` returns only at the end)."""

    def __init__(self, job: beam.Pipeline):
        super().__init__(name="cam-audit-beam-job", daemon=True)
        self._job = job
        self.result = None
        self.error: BaseException | None = None
        self.finished = threading.Event()

    def run(self) -> None:
        try:
            self.result = self._job.run()
            state = self.result.wait_until_finish()
            if state not in (None, PipelineState.DONE):
                self.error = RuntimeError(f"the job ended in state {state}")
        except BaseException as exc:  # noqa: BLE001 - handed to the driver's thread
            self.error = exc
        finally:
            self.finished.set()

    def cancel(self) -> None:
        with contextlib.suppress(Exception):
            if self.result is not None and not self.finished.is_set():
                self.result.cancel()


def _counters(result) -> dict[str, int]:
    """The job's counters in our namespace (committed where the runner has them)."""
    if result is None:
        return {}
    try:
        query = result.metrics().query(MetricsFilter().with_namespace(METRICS_NAMESPACE))
    except Exception:  # noqa: BLE001 - a runner without metrics
        return {}
    totals: dict[str, int] = {}
    for counter in query.get("counters", []):
        value = counter.committed if counter.committed is not None else counter.attempted
        name = counter.key.metric.name
        totals[name] = totals.get(name, 0) + int(value or 0)
    return dict(sorted(totals.items()))


@dataclass(frozen=True)
class BeamEngine:
    """Runs the stream's per-batch stages as an Apache Beam job (see the module's notes).

    Parameters
    ----------
    options : sequence of str
        Beam pipeline flags as typed on a command line; default: the DirectRunner, in process.
    on_failure : callable, optional
        ``on_failure(spec, ItemFailure) -> outputs``: the collected outputs that stand for an
        item that raised on a worker (the audit turns its samples into skipped rows). Without
        it such an item stops the run with a :class:`StageError`, as the local engine does.
    item_metrics : callable, optional
        ``item_metrics(outputs) -> {name: int}``: Beam counters to add for each item (run on
        the workers). Default: rows of each table and each count.
    staging : str, optional
        Where workers write item outputs (a folder or URL both they and the driver reach).
        Default: the run folder for workers on this machine, else under ``--temp_location``.
    share_model_across_processes : bool
        Build the worker's catalog once per machine (Beam's ``ModelHandler.
        share_model_across_processes``) instead of once per SDK process.
    poll_s : float
        How often the driver looks for the next item while the job runs.
    where : str
        Names the options in error messages (the configuration key).

    Raises
    ------
    ConfigError
        Options Beam refuses, or a runner whose workers cannot reach the staging folder.
    """

    options: Sequence[str] = ()
    on_failure: Callable[[Any, ItemFailure], Mapping[str, Any]] | None = None
    item_metrics: Callable[[Mapping[str, Any]], Mapping[str, int]] = default_item_metrics
    staging: str | None = None
    share_model_across_processes: bool = False
    poll_s: float | None = None
    where: str = "beam.options"
    _options: PipelineOptions = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "options", tuple(str(o) for o in self.options))
        object.__setattr__(self, "_options", pipeline_options(self.options, where=self.where))
        remote = self.staging or self._options.view_as(GoogleCloudOptions).temp_location
        if remote and _is_remote(remote):
            try:
                FileSystems.get_filesystem(remote)
            except ValueError:
                scheme = remote.split("://", 1)[0]
                raise ConfigError(
                    f"{self.where}: the driver reads the workers' results under {remote}, but "
                    f"no file system for {scheme}:// is installed here (for gs:// install "
                    f'"apache-beam[gcp]", for s3:// "apache-beam[aws]").') from None

    @property
    def runner(self) -> str:
        """The runner's name as the options give it (default ``DirectRunner``)."""
        return _runner_name(self._options)

    @property
    def local_workers(self) -> bool:
        """Whether the job's workers run on this machine and can read its files (the
        DirectRunner, or a portable runner with ``--environment_type=LOOPBACK``)."""
        return _local_workers(self._options)

    def _staging(self, folder: RunFolder) -> _Staging:
        if self.staging:
            return _Staging(str(self.staging))
        temp = self._options.view_as(GoogleCloudOptions).temp_location
        if temp:
            return _Staging(_join(temp, "beam-staging", folder.path.name))
        if self.local_workers:
            return _Staging(str((folder.path / "beam-staging").resolve()))
        raise ConfigError(f"{self.where}: the {self.runner}'s workers write their results to "
                          "a staging folder the driver reads, and they cannot reach this "
                          "machine's run folder: add --temp_location=gs://<bucket>/<folder> (or "
                          "another location both reach).")

    # ------------------------------------------------------------------------- the stream
    def run_stream(self, pipeline: Pipeline, catalog: Mapping[str, Any], folder: RunFolder,
                   checkpoint: Checkpoint, progress, seconds: dict[str, float] | None = None
                   ) -> Checkpoint:
        """Run the stream as a Beam job and merge its outputs in item order. The workers'
        stage times are not gathered: ``seconds`` gains the job's wall time as
        ``"beam job"``."""
        start = time.perf_counter()
        stream, maker = stream_of(pipeline, catalog)
        staging = self._staging(folder)
        collector = Collector(pipeline, folder, checkpoint, seconds)
        total = len(stream)
        staged = staging.staged()
        stale = [staging.item(i, failed=True) for i in range(collector.done, total)
                 if f"{i:09d}.failed.pkl" in staged]
        staging.delete(stale)  # failures of an earlier attempt are tried again
        pending = [i for i in range(collector.done, total) if f"{i:09d}.pkl" not in staged]
        _trim_dead_letter(folder, collector.done)
        work = _work(pipeline, catalog, maker, stream.load)
        _DRIVER_VALUES[work.key] = {n: catalog[n] for s in work.rebuild for n in s.outputs}
        folder.write_status(beam={"runner": self.runner, "staging": staging.root,
                                  "items_submitted": len(pending)})
        job = None
        try:
            if pending:
                job = _JobThread(self._job(work, stream, pending, staging))
                job.start()
            with progress(total, collector.done) as bar:
                self._merge(stream, collector, staging, job, bar, folder)
            if seconds is not None:
                seconds["beam job"] = seconds.get("beam job", 0.0) + time.perf_counter() - start
            final = collector.finish()
        except BaseException:
            if job is not None:
                job.cancel()
            raise
        finally:
            _DRIVER_VALUES.pop(work.key, None)
        counters = _counters(job.result) if job is not None else {}
        folder.write_status(beam={"runner": self.runner, "staging": staging.root,
                                  "items_submitted": len(pending), "counters": counters})
        staging.remove()
        return final

    def _job(self, work: _Work, stream, pending: list[int], staging: _Staging) -> beam.Pipeline:
        attempt = uuid.uuid4().hex[:12]
        shards = []
        for number, start in enumerate(range(0, len(pending), _SHARD_SIZE)):
            path = staging.shard(attempt, number)
            staging.write(path, [(i, stream.specs[i]) for i in pending[start:start + _SHARD_SIZE]])
            shards.append(path)
        handler = _ItemHandler(work, share_across_processes=self.share_model_across_processes)
        job = beam.Pipeline(options=self._options)
        items = (job
                 | "Spec shards" >> beam.Create(shards)
                 | "Read specs" >> beam.FlatMap(_read_shard)
                 | "Spread items" >> beam.Reshuffle())
        outputs, dead_letter = items | "Run items" >> RunInference(
            handler).with_exception_handling()
        _ = outputs | "Stage outputs" >> beam.ParDo(_StageOutputs(staging, self.item_metrics))
        _ = dead_letter.failed_inferences | "Stage failures" >> beam.ParDo(
            _StageFailures(staging))
        return job

    def _merge(self, stream, collector: Collector, staging: _Staging, job: _JobThread | None,
               bar, folder: RunFolder) -> None:
        """Merge staged items in index order as they arrive, until the stream is complete."""
        total = len(stream)
        poll = self.poll_s or (2.0 if _is_remote(staging.root) else 0.2)
        show = getattr(bar, "set_postfix", None)
        last_poll = 0.0
        while collector.done < total:
            index = collector.done
            ended = job is None or job.finished.is_set()  # before looking: no write after it
            value = staging.read(staging.item(index))
            failure = None
            if value is None:
                failed = staging.read(staging.item(index, failed=True))
                if failed is not None:
                    failure = ItemFailure(index, failed["error"], failed["traceback"])
            if value is None and failure is None:
                if ended:
                    if job is not None and job.error is not None:
                        raise StageError(f"Beam job on {self.runner}", job.error) from job.error
                    raise StageError(f"Beam job on {self.runner}", RuntimeError(
                        f"the job ended without item {index} in {staging.root}"))
                if show is not None and job.result is not None and \
                        time.monotonic() - last_poll > 10:  # a runner with a live result
                    last_poll = time.monotonic()
                    show(_counters(job.result), refresh=False)
                job.finished.wait(poll)
                continue
            if failure is not None:
                value = self._failed(stream.specs[index], failure, folder,
                                     collector.row_types | dict.fromkeys(collector.counters,
                                                                         Counts))
            collector.add(index, value)
            bar.update(1)
        if job is not None:
            job.finished.wait()
            if job.error is not None:  # every item merged, yet the job failed at the end
                raise StageError(f"Beam job on {self.runner}", job.error) from job.error
            if show is not None:
                show(_counters(job.result), refresh=True)

    def _failed(self, spec, failure: ItemFailure, folder: RunFolder,
                collected: Mapping[str, type]) -> Mapping[str, Any]:
        with open(folder.path / DEAD_LETTER, "a", encoding="utf-8") as handle:
            handle.write(json.dumps({"item": failure.index, "error": failure.error,
                                     "traceback": failure.traceback}) + "\n")
        if self.on_failure is None:
            raise StageError(f"item {failure.index} on a Beam worker",
                             RuntimeError(failure.error))
        outputs = dict(self.on_failure(spec, failure))
        # Tables and counts the handler does not name are empty for the failed item.
        for name, kind in collected.items():
            outputs.setdefault(name, Counts() if kind is Counts else [])
        return outputs


def _trim_dead_letter(folder: RunFolder, done: int) -> None:
    """Keep the dead-letter lines of merged items only (a resumed run logs the rest again)."""
    path = folder.path / DEAD_LETTER
    if not path.exists():
        return
    lines = [line for line in path.read_text(encoding="utf-8").splitlines()
             if line.strip() and json.loads(line)["item"] < done]
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
