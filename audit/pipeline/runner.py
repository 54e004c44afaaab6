"""Run a pipeline: the stages before the stream, the per-batch stages over every item of the
stream, the stages after it. The runner only executes, checkpoints and reports progress: what
the stages compute, and what their outputs mean, is theirs.

Per-batch work is :func:`run_batch`, a pure function of (the catalog, one item), so any engine
can run it; the local engine here loads the next item in a background thread while the current
ones are computed (loading is I/O and decoding, which release the GIL), computes two
consecutive items at once, each stage taking one item at a time, and checkpoints after every
item, in order, in the run folder (:mod:`audit.pipeline.run_folder`) so a killed run resumes.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from audit.pipeline.errors import BadInput, StageError
from audit.pipeline.pipeline import Pipeline
from audit.pipeline.run_folder import Checkpoint, RunFolder
from audit.pipeline.shards import Shard, ShardSet, write_shard
from audit.pipeline.stage import Counts, Stage
from audit.pipeline.stream import Stream

__all__ = ["Collector", "LocalEngine", "StageError", "collected_outputs", "run_batch",
           "run_pipeline", "run_stage", "stream_of"]


def run_stage(stage: Stage, catalog: Mapping[str, Any],
              seconds: dict[str, float] | None = None) -> dict:
    """``stage(catalog)``; an exception other than BadInput becomes a :class:`StageError`.

    With ``seconds``, the stage's wall time is added to ``seconds[stage.name]``.
    """
    start = time.perf_counter()
    try:
        return stage(catalog)
    except BadInput:
        raise
    except Exception as exc:
        raise StageError(stage.name, exc) from exc
    finally:
        if seconds is not None:
            seconds[stage.name] = seconds.get(stage.name, 0.0) + time.perf_counter() - start


def run_batch(stages: tuple[Stage, ...], scope: Mapping[str, Any],
              seconds: dict[str, float] | None = None, *,
              turns: Mapping[str, Any] | None = None) -> dict:
    """Run the per-batch ``stages`` in order on ``scope`` (the catalog with the stream's name
    bound to one item); return the scope with every output added.

    With ``turns`` (stage name -> lock), each stage runs holding its own lock: items computed
    in several threads then pass through the stages as through a production line, one item
    per stage at a time.
    """
    scope = dict(scope)
    for stage in stages:
        with turns[stage.name] if turns is not None else contextlib.nullcontext():
            scope.update(run_stage(stage, scope, seconds))
    return scope


def collected_outputs(pipeline: Pipeline, scope: Mapping[str, Any]) -> dict:
    """The outputs of one item that leave the stream (see ``Stage.collect``)."""
    return {name: scope[name] for name in pipeline.collected}


def _no_progress(total: int, initial: int):
    class _Bar:
        def update(self, n: int) -> None:
            pass

    return contextlib.nullcontext(_Bar())


def _items(stream: Stream, start: int, prefetch: int, maker: str,
           seconds: dict[str, float] | None = None) -> Iterator[tuple[int, Any]]:
    """``(index, item)`` from ``start`` on, loading up to ``prefetch`` items ahead in a thread."""

    def load(index):
        try:
            start = time.perf_counter()
            item = stream.load(stream.specs[index])
            if seconds is not None:
                key = f"{maker} (loading)"
                seconds[key] = seconds.get(key, 0.0) + time.perf_counter() - start
            return item
        except BadInput:
            raise
        except Exception as exc:
            raise StageError(f"{maker} (loading item {index})", exc) from exc

    if prefetch <= 0:
        for index in range(start, len(stream)):
            yield index, load(index)
        return
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="pipeline-load") as pool:
        pending: deque = deque()
        upcoming = start
        while upcoming < len(stream) and len(pending) < prefetch:
            pending.append((upcoming, pool.submit(load, upcoming)))
            upcoming += 1
        while pending:
            index, future = pending.popleft()
            if upcoming < len(stream):
                pending.append((upcoming, pool.submit(load, upcoming)))
                upcoming += 1
            yield index, future.result()


def stream_of(pipeline: Pipeline, catalog: Mapping[str, Any]) -> tuple[Stream, str]:
    """The pipeline's stream in ``catalog`` and the name of the stage that made it."""
    stream = catalog[pipeline.stream]
    maker = next(s.name for s in pipeline.before if s.stream == pipeline.stream)
    if not isinstance(stream, Stream):
        raise StageError(maker, TypeError(f"its output '{pipeline.stream}' must be a Stream; "
                                          f"it returned {type(stream).__name__}"))
    return stream, maker


class Collector:
    """Appends the collected outputs of the stream's items to the run folder, in item order,
    and checkpoints after each: what every engine does with the items' outputs."""

    def __init__(self, pipeline: Pipeline, folder: RunFolder, checkpoint: Checkpoint,
                 seconds: dict[str, float] | None = None):
        self.folder = folder
        self.seconds = seconds if seconds is not None else {}
        self.row_types = {n: t for n, t in pipeline.collected.items()
                          if t is not Counts and t is not Shard}
        self.counters = [n for n, t in pipeline.collected.items() if t is Counts]
        self.shards = [n for n, t in pipeline.collected.items() if t is Shard]
        self.lengths = folder.open_tables(self.row_types, checkpoint)
        self.counts = {n: Counts(checkpoint.counts.get(n, {})) for n in self.counters}
        self.done = checkpoint.completed
        folder.save_checkpoint(self._checkpoint(False))

    def add(self, index: int, outputs: Mapping[str, Any]) -> None:
        """Record the outputs of item ``index``, which must be the next one."""
        if index != self.done:
            raise ValueError(f"Items must be collected in order: the next item must be "
                             f"{self.done}; got item {index}")
        for name, row_type in self.row_types.items():
            self.lengths[name] = self.folder.append(name, outputs[name], row_type)
        for name in self.counters:
            self.counts[name] = self.counts[name] + outputs[name]
        for name in self.shards:  # on disk before the checkpoint that counts the item
            write_shard(self.folder.path, name, index, outputs.get(name))
        self.done = index + 1
        self.folder.save_checkpoint(self._checkpoint(False), seconds=self.seconds)

    def _checkpoint(self, complete: bool) -> Checkpoint:
        return Checkpoint(self.done, dict(self.lengths), dict(self.counts), complete,
                          self.folder.table_digests())

    def finish(self) -> Checkpoint:
        """Rename the tables to their final names; the stream is complete."""
        self.folder.finish_tables(self.row_types)
        final = self._checkpoint(True)
        self.folder.save_checkpoint(final, seconds=self.seconds)
        return final


@dataclass(frozen=True)
class LocalEngine:
    """Runs the stream in this process: loads ``prefetch`` items ahead in a background thread
    (0: load in the same thread), and computes up to ``overlap`` consecutive items at once in
    threads (1: one after the other), collecting their outputs in item order.

    Overlapped items go through the per-batch stages as through a production line: each
    stage takes one item at a time, so one item's scoring (NumPy at the photo's own size)
    runs while TensorFlow computes the next item's maps (both release the GIL, and a model
    call alone rarely keeps every core busy), but two items never hold a model stage's
    memory at once: peak memory stays that of one item per stage. The first item runs alone,
    so every graph is traced once before items share it. Per-batch stages are pure functions
    of their inputs, so the outputs are the same whatever ``overlap`` is (a test checks it
    bit for bit).
    """

    prefetch: int = 1
    overlap: int = 2

    def run_stream(self, pipeline: Pipeline, catalog: Mapping[str, Any], folder: RunFolder,
                   checkpoint: Checkpoint, progress, seconds: dict[str, float] | None = None
                   ) -> Checkpoint:
        stream, maker = stream_of(pipeline, catalog)
        collector = Collector(pipeline, folder, checkpoint, seconds)

        turns = ({stage.name: threading.Lock() for stage in pipeline.per_batch}
                 if self.overlap > 1 else None)

        def compute(item) -> tuple[dict, dict[str, float]]:
            own: dict[str, float] = {}  # this item's stage times, merged in order below
            scope = run_batch(pipeline.per_batch, {**catalog, pipeline.stream: item}, own,
                              turns=turns)
            return collected_outputs(pipeline, scope), own

        def collect(index: int, result: tuple[dict, dict[str, float]]) -> None:
            outputs, own = result
            if seconds is not None:
                for name, value in own.items():
                    seconds[name] = seconds.get(name, 0.0) + value
            collector.add(index, outputs)
            bar.update(1)

        items = _items(stream, collector.done, self.prefetch, maker, seconds)
        with progress(len(stream), collector.done) as bar:
            first = next(items, None)
            if first is not None:
                collect(first[0], compute(first[1]))
            if self.overlap <= 1:
                for index, item in items:
                    collect(index, compute(item))
            else:
                with ThreadPoolExecutor(max_workers=self.overlap,
                                        thread_name_prefix="pipeline-item") as pool:
                    running: deque = deque()
                    for index, item in items:
                        running.append((index, pool.submit(compute, item)))
                        if len(running) >= self.overlap:
                            done_index, future = running.popleft()
                            collect(done_index, future.result())
                    while running:
                        done_index, future = running.popleft()
                        collect(done_index, future.result())
        return collector.finish()


def run_pipeline(pipeline: Pipeline, inputs: Mapping[str, Any], *, folder: RunFolder,
                 progress: Callable | None = None, engine=None) -> dict:
    """Run ``pipeline`` and return the catalog: ``inputs`` and every stage's outputs.

    Parameters
    ----------
    pipeline : Pipeline
    inputs : mapping
        The names the run provides (``params:<section>``, ...).
    folder : RunFolder
        Where collected tables and the checkpoint live. When its status holds a checkpoint
        (an interrupted run), the stream resumes after the last completed item; when the
        stream was complete, it is not run again.
    progress : callable, optional
        ``progress(total, initial)`` -> a context manager whose value has ``update(n)``.
    engine : optional
        Runs the stream: an object with ``run_stream(pipeline, catalog, folder, checkpoint,
        progress, seconds) -> Checkpoint`` that feeds every item's collected outputs, in order,
        to a :class:`Collector`. Default: :class:`LocalEngine`.

    Every stage's wall time (summed over the items, and loading the items as
    ``"<maker> (loading)"``, which overlaps the computation) is kept in ``status.json`` as
    ``stage_seconds``: where a run's time goes.

    After the stream, every collected table is in the catalog as a DataFrame (read back from
    ``<name>.csv``), every count as the :class:`Counts` summed over the stream, and every
    collected array output as a :class:`~audit.pipeline.shards.ShardSet`.

    Raises
    ------
    BadInput
        What a stage raised for bad input, unchanged.
    StageError
        Any other exception of a stage, naming the stage.
    """
    progress = progress or _no_progress
    catalog = dict(inputs)
    seconds: dict[str, float] = dict(folder.stage_seconds())
    # A resumed folder is checked before anything runs: never repaired, refused when modified.
    checkpoint = folder.checkpoint() if pipeline.per_batch else None
    if checkpoint is not None and checkpoint.stream_complete:
        folder.verify_tables(checkpoint)
    for stage in pipeline.before:
        catalog.update(run_stage(stage, catalog, seconds))
    if checkpoint is not None:
        if not checkpoint.stream_complete:
            engine = engine or LocalEngine()
            checkpoint = engine.run_stream(pipeline, catalog, folder, checkpoint, progress,
                                           seconds)
        for name, kind in pipeline.collected.items():
            if kind is Counts:
                catalog[name] = Counts(checkpoint.counts.get(name, {}))
            elif kind is Shard:
                catalog[name] = ShardSet(folder.path, name, checkpoint.completed)
            else:
                catalog[name] = folder.read_table(name, kind)
    for stage in pipeline.after:
        catalog.update(run_stage(stage, catalog, seconds))
        folder.write_status(stage_seconds={k: round(v, 3) for k, v in seconds.items()})
    return catalog
