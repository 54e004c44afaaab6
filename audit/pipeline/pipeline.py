"""A pipeline: stages put in run order by the data they exchange, and checked before anything
runs.

A pipeline file names stages and may give a stage parameters::

    name: quick
    description: Grad-CAM only, for a fast look.
    stages:
      - load_model
      - load_dataset
      - explain: {methods: [gradcam]}
      - score
      - aggregate
      - gate
      - gallery
      - report

Each entry is a stage name, or a one-key mapping from the name to parameters that override the
stage's own configuration section. The order of the entries does not matter: a stage runs after
the stages that make its inputs (as Kedro's ``Pipeline`` sorts its nodes), entries listed earlier
first when either order would do. The stages that run before the stream, the per-batch stages
and the stages after it form three segments, whatever their number.

The stages a file may name come from a table the caller passes (``audit.stages.STAGES`` for the
audit): this module knows no stage.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

import yaml

from audit.pipeline.errors import PipelineError
from audit.pipeline.stage import Stage

__all__ = ["Pipeline", "build_pipeline", "load_pipeline"]


@dataclass(frozen=True)
class Pipeline:
    """Checked stages in run order, split into the segments before, over and after the stream.

    Attributes
    ----------
    name, description : str
    before, per_batch, after : tuple of Stage
        The three segments, each in run order.
    stream : str or None
        The catalog name of the stream the per-batch stages read item by item.
    params : mapping
        Stage name -> parameters the pipeline file gives it.
    path : Path or None
        The file it was read from.
    added : tuple of str
        The producers (``Stage.auto_add``) added because a stage needed their outputs and the
        file did not name them.
    """

    name: str
    before: tuple[Stage, ...]
    per_batch: tuple[Stage, ...] = ()
    after: tuple[Stage, ...] = ()
    stream: str | None = None
    params: Mapping[str, Mapping] = field(default_factory=dict)
    description: str = ""
    path: Path | None = None
    added: tuple[str, ...] = ()

    @property
    def stages(self) -> tuple[Stage, ...]:
        """Every stage, in run order."""
        return self.before + self.per_batch + self.after

    @property
    def collected(self) -> dict[str, type]:
        """Per-batch outputs that leave the stream, with their row type (or Counts)."""
        out: dict[str, type] = {}
        for stage in self.per_batch:
            out.update(stage.collect)
        return out

    def overrides(self) -> dict[str, dict]:
        """The pipeline file's stage parameters, grouped by the configuration section they
        override."""
        merged: dict[str, dict] = {}
        for stage in self.stages:
            values = self.params.get(stage.name)
            if values:
                merged.setdefault(stage.own_section, {}).update(values)
        return merged


def _entries(data, table: Mapping[str, Stage], where: str) -> list[tuple[Stage, dict]]:
    if not isinstance(data, dict) or not isinstance(data.get("stages"), list):
        raise PipelineError(f"{where}: expected a mapping with a 'stages' list; got "
                          f"{type(data).__name__}.")
    unknown_keys = set(data) - {"name", "description", "stages"}
    if unknown_keys:
        raise PipelineError(f"{where}: unknown key(s) {sorted(unknown_keys)}; allowed: name, "
                          "description, stages.")
    entries: list[tuple[Stage, dict]] = []
    for i, entry in enumerate(data["stages"]):
        key = f"{where}: stages[{i}]"
        if isinstance(entry, dict) and len(entry) == 1:
            (name, values), = entry.items()
            values = values or {}
            if not isinstance(values, dict):
                raise PipelineError(f"{key}: parameters of '{name}' must be a mapping; got "
                                  f"{values!r}.")
        elif isinstance(entry, str):
            name, values = entry, {}
        else:
            raise PipelineError(f"{key}: expected a stage name or {{name: {{parameters}}}}; "
                              f"got {entry!r}.")
        if name not in table:
            guess = difflib.get_close_matches(str(name), list(table), n=1)
            hint = f" Did you mean '{guess[0]}'?" if guess else ""
            raise PipelineError(f"{key}: unknown stage '{name}'.{hint} Stages: "
                              f"{', '.join(table)}.")
        stage = table[name]
        if any(s.name == name for s, _ in entries):
            raise PipelineError(f"{key}: stage '{name}' appears twice.")
        if values and stage.own_section is None:
            raise PipelineError(f"{key}: stage '{name}' takes no parameters; got "
                              f"{sorted(values)}.")
        entries.append((stage, dict(values)))
    if not entries:
        raise PipelineError(f"{where}: the pipeline has no stages.")
    return entries


def _add_producers(entries: list[tuple[Stage, dict]], table: Mapping[str, Stage],
                   provided: set[str]) -> list[str]:
    """Add (in place) the ``auto_add`` stages that make an input a stage of ``entries`` needs
    and nobody makes, each just before its first consumer, until nothing more is needed;
    return their names. An input no ``auto_add`` stage makes is left for the caller to
    refuse."""
    added: list[str] = []
    while True:
        made = provided | {n for s, _ in entries for n in s.outputs}
        names = {s.name for s, _ in entries}
        for index, (stage, _) in enumerate(entries):
            needed = [n for n in stage.inputs if n not in made and n not in stage.optional]
            producers = [t for n in needed for t in table.values()
                         if t.auto_add and n in t.outputs and t.name not in names]
            if producers:
                entries.insert(index, (producers[0], {}))
                added.append(producers[0].name)
                break
        else:
            return added


def _run_order(stages: list[Stage], makers: dict[str, Stage], where: str) -> list[Stage]:
    """Kahn's topological sort; among ready stages the one listed first runs first."""
    needs = {s.name: {makers[n].name for n in s.inputs if n in makers} for s in stages}
    order: list[Stage] = []
    pending = list(stages)
    while pending:
        ready = next((s for s in pending if needs[s.name] <= {o.name for o in order}), None)
        if ready is None:
            raise PipelineError(f"{where}: the stages {_cycle(pending, needs)} need each other's "
                              "outputs in a cycle; no order can run them.")
        order.append(ready)
        pending.remove(ready)
    return order


def _cycle(pending: list[Stage], needs: dict[str, set[str]]) -> str:
    names = {s.name for s in pending}
    start = pending[0].name
    path, node = [start], start
    while True:  # every pending stage needs another pending one: walk until a repeat
        node = sorted(needs[node] & names)[0]
        if node in path:
            loop = path[path.index(node):] + [node]
            return " -> ".join(f"'{n}'" for n in loop)
        path.append(node)


def _depends_on(stage: Stage, names: set[str], makers: dict[str, Stage],
                memo: dict[str, bool]) -> bool:
    """Whether ``stage`` needs, directly or through other stages, one of ``names``."""
    if stage.name not in memo:
        memo[stage.name] = False
        memo[stage.name] = any(
            n in names or (n in makers and _depends_on(makers[n], names, makers, memo))
            for n in stage.inputs)
    return memo[stage.name]


def build_pipeline(data, *, table: Mapping[str, Stage], provided: Iterable[str],
                   where: str = "pipeline") -> Pipeline:
    """Check a pipeline mapping and return the :class:`Pipeline`.

    Parameters
    ----------
    data : dict
        ``{"name": ..., "description": ..., "stages": [...]}`` as in a pipeline file.
    table : mapping of str to Stage
        The stages a file may name.
    provided : iterable of str
        Catalog names the caller puts in before any stage runs (``params:...``, ``run``).
    where : str
        Names the pipeline in error messages (its file).

    Raises
    ------
    PipelineError
        An unknown stage (with a "did you mean"), a stage listed twice, parameters for a stage
        that takes none, an input nobody makes (naming the stages that would make it) unless
        its maker is an ``auto_add`` stage (then added, see :attr:`Pipeline.added`), two
        stages making the same output, a cycle, a per-batch stage that needs an output made
        only after the stream, or per-batch stages without a stream.
    """
    entries = _entries(data, table, where)
    provided = set(provided)
    added = _add_producers(entries, table, provided)
    stages = [stage for stage, _ in entries]
    makers: dict[str, Stage] = {}
    for stage in stages:
        for name in stage.outputs:
            if name in makers or name in provided:
                first = makers[name].name if name in makers else "the run itself"
                raise PipelineError(f"{where}: '{name}' is made by both '{first}' and "
                                  f"'{stage.name}'; keep one of them.")
            makers[name] = stage
    for stage in stages:
        missing = [n for n in stage.inputs
                   if n not in makers and n not in provided and n not in stage.optional]
        if missing:
            would = {n: [s.name for s in table.values() if n in s.outputs] for n in missing}
            hint = "; ".join(f"'{n}' is made by {', '.join(m) or 'no stage'}"
                             for n, m in would.items())
            raise PipelineError(f"{where}: stage '{stage.name}' needs {missing}, which no stage "
                              f"of the pipeline makes ({hint}).")
    order = _run_order(stages, makers, where)

    per_batch = [s for s in order if s.per_batch]
    batch_outputs = {n for s in per_batch for n in s.outputs}
    memo: dict[str, bool] = {}
    after = [s for s in order if not s.per_batch
             and _depends_on(s, batch_outputs, makers, memo)]
    before = [s for s in order if not s.per_batch and s not in after]
    for stage in per_batch:
        late = [n for n in stage.inputs if n in makers and makers[n] in after]
        if late:
            raise PipelineError(f"{where}: per-batch stage '{stage.name}' needs {late}, which "
                              f"'{makers[late[0]].name}' makes only after the stream.")
    collected = {n for s in per_batch for n in s.collect}
    for stage in after:
        loose = [n for n in stage.inputs if n in batch_outputs and n not in collected]
        if loose:
            raise PipelineError(f"{where}: stage '{stage.name}' needs {loose}, which "
                              f"'{makers[loose[0]].name}' makes for one batch at a time; only "
                              f"the collected outputs ({', '.join(sorted(collected)) or 'none'})"
                              " are kept after the stream.")
    stream = None
    if per_batch:
        streams = [s.stream for s in before if s.stream is not None
                   and any(s.stream in b.inputs for b in per_batch)]
        if len(streams) != 1:
            makers_of = [s.name for s in table.values() if s.stream is not None]
            raise PipelineError(f"{where}: the per-batch stages {[s.name for s in per_batch]} "
                              f"need exactly one stream to go over; the pipeline has "
                              f"{len(streams)} (streams are made by {', '.join(makers_of)}).")
        stream = streams[0]
    return Pipeline(name=str(data.get("name") or where), before=tuple(before),
                    per_batch=tuple(per_batch), after=tuple(after), stream=stream,
                    params=MappingProxyType({s.name: v for s, v in entries}),
                    description=str(data.get("description") or ""), added=tuple(added))


def load_pipeline(path: str | os.PathLike, *, table: Mapping[str, Stage],
                  provided: Iterable[str], read: Callable[[Path], object] | None = None
                  ) -> Pipeline:
    """Read, check and build a pipeline file. ``read`` parses the file (an application's
    hardened YAML reader: no aliases, no key given twice, size capped); the default is
    ``yaml.safe_load`` of its text."""
    path = Path(path)
    if read is not None:
        data = read(path)
    else:
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError) as exc:
            raise PipelineError(f"{path}: cannot read the pipeline: {exc}") from None
    pipeline = build_pipeline(data, table=table, provided=provided, where=str(path))
    return dataclasses.replace(pipeline, path=path)
