"""The driver: :class:`BeamEngine` submits the job and merges its items in order."""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import apache_beam as beam
from apache_beam.io.filesystems import FileSystems
from apache_beam.metrics.metric import MetricsFilter
from apache_beam.ml.inference.base import RunInference
from apache_beam.options.pipeline_options import (
    GoogleCloudOptions,
    PipelineOptions,
)
from apache_beam.runners.runner import PipelineState

from audit.pipeline.beam.options import (
    _local_workers,
    _runner_name,
    is_dask,
    pipeline_options,
)
from audit.pipeline.beam.staging import (
    _SHARD_SIZE,
    _is_remote,
    _join,
    _Staging,
)
from audit.pipeline.beam.worker import (
    _DRIVER_VALUES,
    METRICS_NAMESPACE,
    _ItemHandler,
    _read_shard,
    _RunAndStage,
    _StageFailures,
    _StageOutputs,
    _Work,
    _work,
    default_item_metrics,
)
from audit.pipeline.errors import PipelineError
from audit.pipeline.pipeline import Pipeline
from audit.pipeline.run_folder import Checkpoint, RunFolder
from audit.pipeline.runner import Collector, StageError, stream_of
from audit.pipeline.stage import Counts

_LOG = logging.getLogger(__name__)

#: The dead-letter log in the run folder: one JSON line per item that failed on a worker.
DEAD_LETTER = "dead_letter.jsonl"


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
        super().__init__(name="pipeline-beam-job", daemon=True)
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
            # The Dask runner opens a client to the scheduler for each job and leaves it open.
            client = getattr(self.result, "client", None)
            if client is not None:
                with contextlib.suppress(Exception):
                    client.close()
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
    PipelineError
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
                raise PipelineError(
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
        raise PipelineError(f"{self.where}: the {self.runner}'s workers write their results to "
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
        job = beam.Pipeline(options=self._options)
        if is_dask(self.runner):
            # One linear chain, a plain ParDo: what the Dask runner can run (see _RunAndStage).
            # The items go into the task graph themselves, one Dask partition each unless
            # beam.options say otherwise (--dask_partition_size / --dask_npartitions), so
            # that every worker gets some; no shard files, no Reshuffle (a shuffle on Dask).
            _ = (job
                 | "Items" >> beam.Create([(i, stream.specs[i]) for i in pending])
                 | "Run and stage items" >> beam.ParDo(
                     _RunAndStage(work, staging, self.item_metrics)))
            return job
        attempt = uuid.uuid4().hex[:12]
        shards = []
        for number, start in enumerate(range(0, len(pending), _SHARD_SIZE)):
            path = staging.shard(attempt, number)
            staging.write(path, [(i, stream.specs[i]) for i in pending[start:start + _SHARD_SIZE]])
            shards.append(path)
        items = (job
                 | "Spec shards" >> beam.Create(shards)
                 | "Read specs" >> beam.FlatMap(_read_shard)
                 | "Spread items" >> beam.Reshuffle())
        handler = _ItemHandler(work, share_across_processes=self.share_model_across_processes)
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
