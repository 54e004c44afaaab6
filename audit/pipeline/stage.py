"""A stage: a plain function with named inputs and outputs (in the spirit of Kedro's node).

The runner keeps a *catalog*, a mapping from names to values. A stage reads its inputs from the
catalog by name and its return value is stored under its output names. An input named
``params:<section>`` is a section of the run's configuration, so a stage's signature says which
settings it uses. The functions know nothing about stages or runners: ``Stage`` wraps them.

A stage marked ``per_batch`` runs once per item of the run's stream (a batch of the dataset),
as a pure function of its inputs, so that a run streams in bounded memory, resumes after a
crash, and runs unchanged under another engine. Its outputs named in ``collect`` leave the
stream: rows of a table (a list of dataclass instances, appended to ``<name>.csv`` batch by
batch and read back as a DataFrame), counts (a :class:`Counts`, summed over the stream) or
arrays (a :class:`~audit.pipeline.shards.Shard`, one file per item, read back one item at a
time).
A stage that makes the stream names that output in ``stream``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from audit.pipeline.shards import Shard

__all__ = ["PARAMS", "Counts", "Stage"]

#: Prefix of the inputs that are configuration sections: ``params:cams``.
PARAMS = "params:"


class Counts(dict):
    """Named integer counts a per-batch stage reports; the runner sums them over the stream."""

    def __add__(self, other: Mapping[str, int]) -> Counts:
        total = Counts(self)
        for key, value in other.items():
            total[key] = total.get(key, 0) + int(value)
        return total


def _names(values, what: str, stage: str) -> tuple[str, ...]:
    names = (values,) if isinstance(values, str) else tuple(values)
    if not all(isinstance(n, str) and n for n in names):
        raise ValueError(f"Stage '{stage}': {what} must be non-empty names; got {names!r}.")
    if len(set(names)) != len(names):
        raise ValueError(f"Stage '{stage}': {what} repeat a name; got {names!r}.")
    return names


@dataclass(frozen=True)
class Stage:
    """A named step: ``func(*[catalog[name] for name in inputs])`` -> ``outputs``.

    Attributes
    ----------
    name : str
        The name pipeline files use.
    func : callable
        Takes the inputs positionally, in order; returns one value per output (a tuple when
        there are several, anything when there are none).
    inputs, outputs : tuple of str
        Catalog names read and written. ``params:<section>`` inputs are configuration
        sections; parameters given to the stage in a pipeline file override its first one.
    per_batch : bool
        Runs once per item of the stream.
    collect : mapping of str to type
        Per-batch outputs that leave the stream, with the dataclass of their rows (a table)
        or :class:`Counts`.
    stream : str or None
        The output that is a :class:`~audit.pipeline.stream.Stream` for the per-batch stages.
    optional : tuple of str
        Inputs the stage can do without: when no stage of the pipeline makes one, the function
        receives ``None`` for it (a report shows the evidence stages a pipeline has run).
    per_worker : bool
        Its outputs are too heavy to ship to another process (a loaded model): an engine that
        runs batches in other processes runs this stage again in each of them, on the same
        inputs, instead of sending its outputs.
    auto_add : bool
        A producer the pipeline adds when one of its stages needs an output of this one and
        the pipeline file does not name it (see :func:`~audit.pipeline.pipeline.build_pipeline`):
        each value has one producer, and no consumer makes it again itself. A needed input
        whose maker is not ``auto_add`` is refused, as Kedro refuses a missing input.
    cost : callable or None
        What the stage costs, as its caller measures cost (the audit: forward passes of the
        model over the run, ``audit.stages.cost``); the core never calls it. None: nothing
        worth counting.
    """

    name: str
    func: Callable
    inputs: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()
    per_batch: bool = False
    collect: Mapping[str, type] = field(default_factory=dict)
    stream: str | None = None
    optional: tuple[str, ...] = ()
    per_worker: bool = False
    auto_add: bool = False
    cost: Callable | None = None

    def __post_init__(self):
        object.__setattr__(self, "inputs", _names(self.inputs, "inputs", self.name))
        object.__setattr__(self, "outputs", _names(self.outputs, "outputs", self.name))
        object.__setattr__(self, "collect", MappingProxyType(dict(self.collect)))
        object.__setattr__(self, "optional", _names(self.optional, "optional inputs",
                                                     self.name))
        unknown = [n for n in self.optional if n not in self.inputs]
        if unknown:
            raise ValueError(f"Stage '{self.name}': optional names {unknown}, which are not "
                             f"among its inputs {list(self.inputs)}.")
        stray = [n for n in self.collect if n not in self.outputs]
        if stray:
            raise ValueError(f"Stage '{self.name}': collect names {stray}, which are not among "
                             f"its outputs {list(self.outputs)}.")
        if self.collect and not self.per_batch:
            raise ValueError(f"Stage '{self.name}': only per-batch stages collect outputs; "
                             f"got collect={list(self.collect)}.")
        for name, kind in self.collect.items():
            if not (kind is Counts or kind is Shard or dataclasses.is_dataclass(kind)):
                raise ValueError(f"Stage '{self.name}': collect['{name}'] must be a dataclass "
                                 f"(table rows), Counts or Shard; got {kind!r}.")
        if self.stream is not None and (self.stream not in self.outputs or self.per_batch):
            raise ValueError(f"Stage '{self.name}': stream must name an output of a stage that "
                             f"is not per-batch; got stream={self.stream!r}.")

    @property
    def sections(self) -> tuple[str, ...]:
        """The configuration sections the stage reads (its ``params:`` inputs)."""
        return tuple(n[len(PARAMS):] for n in self.inputs if n.startswith(PARAMS))

    @property
    def own_section(self) -> str | None:
        """The section a pipeline file's parameters for this stage override (its first)."""
        return self.sections[0] if self.sections else None

    def __call__(self, catalog: Mapping) -> dict:
        """Run on ``catalog`` and return ``{output name: value}``."""
        result = self.func(*[catalog.get(name) if name in self.optional else catalog[name]
                             for name in self.inputs])
        if not self.outputs:
            return {}
        if len(self.outputs) == 1:
            return {self.outputs[0]: result}
        if not isinstance(result, tuple) or len(result) != len(self.outputs):
            raise TypeError(f"Stage '{self.name}' must return {len(self.outputs)} values "
                            f"{self.outputs}; it returned {type(result).__name__}.")
        return dict(zip(self.outputs, result, strict=True))
