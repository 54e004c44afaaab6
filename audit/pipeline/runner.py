"""Run a pipeline: the stages before the stream, the per-batch stages over every item of the
stream, the stages after it. The runner only executes, checkpoints and reports progress: what
the stages compute, and what their outputs mean, is theirs.

Per-batch work is :func:`run_batch`, a pure function of (the catalog, one item), so any engine
can run it; the local engine here loads the next item in a background thread while the current
one is computed (loading is I/O and decoding, which release the GIL), and checkpoints after
every item in the run folder (:mod:`audit.pipeline.run_folder`) so a killed run resumes.
"""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from audit.errors import AuditError
from audit.pipeline.pipeline import Pipeline
from audit.pipeline.run_folder import Checkpoint, RunFolder
from audit.pipeline.stage import Counts, Stage
from audit.pipeline.stream import Stream

__all__ = ["StageError", "collected_outputs", "run_batch", "run_pipeline", "run_stage"]


class StageError(Exception):
    """A stage failed with an unexpected exception: a defect or an environment problem, not
    bad input (bad input raises :class:`~audit.errors.AuditError`).

    Attributes
    ----------
    stage : str
        The stage's name.
    error : BaseException
        What it raised (also the ``__cause__``).
    """

    def __init__(self, stage: str, error: BaseException):
        super().__init__(f"stage '{stage}' failed: {type(error).__name__}: {error}")
        self.stage = stage
        self.error = error


def run_stage(stage: Stage, catalog: Mapping[str, Any]) -> dict:
    """``stage(catalog)``; an exception other than AuditError becomes a :class:`StageError`."""
    try:
        return stage(catalog)
    except AuditError:
        raise
    except Exception as exc:
        raise StageError(stage.name, exc) from exc


def run_batch(stages: tuple[Stage, ...], scope: Mapping[str, Any]) -> dict:
    """Run the per-batch ``stages`` in order on ``scope`` (the catalog with the stream's name
    bound to one item); return the scope with every output added."""
    scope = dict(scope)
    for stage in stages:
        scope.update(run_stage(stage, scope))
    return scope


def collected_outputs(pipeline: Pipeline, scope: Mapping[str, Any]) -> dict:
    """The outputs of one item that leave the stream (see ``Stage.collect``)."""
    return {name: scope[name] for name in pipeline.collected}


def _no_progress(total: int, initial: int):
    class _Bar:
        def update(self, n: int) -> None:
            pass

    return contextlib.nullcontext(_Bar())


def _items(stream: Stream, start: int, prefetch: int, maker: str) -> Iterator[tuple[int, Any]]:
    """``(index, item)`` from ``start`` on, loading up to ``prefetch`` items ahead in a thread."""

    def load(index):
        try:
            return stream.load(stream.specs[index])
        except AuditError:
            raise
        except Exception as exc:
            raise StageError(f"{maker} (loading item {index})", exc) from exc

    if prefetch <= 0:
        for index in range(start, len(stream)):
            yield index, load(index)
        return
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="cam-audit-load") as pool:
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


def _stream(pipeline: Pipeline, catalog: dict, folder: RunFolder, checkpoint: Checkpoint,
            progress, prefetch: int) -> Checkpoint:
    stream = catalog[pipeline.stream]
    maker = next(s.name for s in pipeline.before if s.stream == pipeline.stream)
    if not isinstance(stream, Stream):
        raise StageError(maker, TypeError(f"its output '{pipeline.stream}' must be a Stream; "
                                          f"it returned {type(stream).__name__}"))
    row_types = {n: t for n, t in pipeline.collected.items() if t is not Counts}
    counters = [n for n, t in pipeline.collected.items() if t is Counts]
    lengths = folder.open_tables(row_types, checkpoint)
    counts = {n: Counts(checkpoint.counts.get(n, {})) for n in counters}
    done = checkpoint.completed
    folder.save_checkpoint(Checkpoint(done, lengths, counts, False))
    with progress(len(stream), done) as bar:
        for index, item in _items(stream, done, prefetch, maker):
            outputs = collected_outputs(
                pipeline, run_batch(pipeline.per_batch, {**catalog, pipeline.stream: item}))
            for name, row_type in row_types.items():
                lengths[name] = folder.append(name, outputs[name], row_type)
            for name in counters:
                counts[name] = counts[name] + outputs[name]
            done = index + 1
            folder.save_checkpoint(Checkpoint(done, lengths, counts, False))
            bar.update(1)
    folder.finish_tables(row_types)
    final = Checkpoint(done, lengths, counts, True)
    folder.save_checkpoint(final)
    return final


def run_pipeline(pipeline: Pipeline, inputs: Mapping[str, Any], *, folder: RunFolder,
                 progress: Callable | None = None, prefetch: int = 1) -> dict:
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
    prefetch : int
        Items loaded ahead of the one being computed (0: load in the same thread).

    After the stream, every collected table is in the catalog as a DataFrame (read back from
    ``<name>.csv``) and every count as the :class:`Counts` summed over the stream.

    Raises
    ------
    AuditError
        What a stage raised for bad input, unchanged.
    StageError
        Any other exception of a stage, naming the stage.
    """
    progress = progress or _no_progress
    catalog = dict(inputs)
    for stage in pipeline.before:
        catalog.update(run_stage(stage, catalog))
    if pipeline.per_batch:
        checkpoint = folder.checkpoint()
        if not checkpoint.stream_complete:
            checkpoint = _stream(pipeline, catalog, folder, checkpoint, progress, prefetch)
        for name, kind in pipeline.collected.items():
            if kind is Counts:
                catalog[name] = Counts(checkpoint.counts.get(name, {}))
            else:
                catalog[name] = folder.read_table(name, kind)
    for stage in pipeline.after:
        catalog.update(run_stage(stage, catalog))
    return catalog
