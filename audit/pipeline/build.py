"""Build a pipeline from its YAML file and check it before anything runs.

A pipeline file::

    name: quick
    description: Grad-CAM only, for a fast look.
    stages:
      - load_model
      - load_dataset
      - predict
      - explain: {methods: [gradcam]}
      - score
      - aggregate
      - gate
      - report

Each entry is a stage name, or a one-key mapping from the name to parameters that override
the stage's configuration section for this pipeline.
"""

from __future__ import annotations

import difflib
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from audit.errors import ConfigError
from audit.pipeline.stage import REGISTRY, Stage

#: Names the runner itself puts in the catalog.
RUNNER_PROVIDES = ("config", "run", "batch", "records", "skipped")


@dataclass(frozen=True)
class Pipeline:
    """An ordered, checked list of stages with their parameter overrides."""

    name: str
    stages: tuple[Stage, ...]
    params: dict[str, dict] = field(default_factory=dict)
    description: str = ""
    path: Path | None = None

    @property
    def batch_stages(self) -> tuple[Stage, ...]:
        return tuple(s for s in self.stages if s.per_batch)

    def overrides(self) -> dict[str, dict]:
        """Parameter overrides grouped by configuration section."""
        merged: dict[str, dict] = {}
        for stage in self.stages:
            values = self.params.get(stage.name)
            if values:
                merged.setdefault(stage.config_section, {}).update(values)
        return merged


def _stages_module_loaded() -> None:
    import audit.stages  # noqa: F401  (registers the built-in stages)


def builtin_pipelines_dir() -> Path:
    """The folder of the shipped pipeline files (source tree, or installed data files)."""
    source = Path(__file__).resolve().parents[2] / "pipelines"
    if source.is_dir():
        return source
    return Path(sys.prefix) / "share" / "cam-audit" / "pipelines"


def resolve_pipeline_path(path: str | os.PathLike) -> Path:
    """``path`` if it exists; else a shipped pipeline of the same file name."""
    path = Path(path)
    if path.is_file():
        return path
    shipped = builtin_pipelines_dir() / path.name
    if shipped.is_file():
        return shipped
    available = sorted(p.name for p in builtin_pipelines_dir().glob("*.yaml"))
    raise ConfigError(f"Pipeline file '{path}' does not exist. Shipped pipelines: "
                      f"{', '.join(available) or '(none found)'}.")


def build_pipeline(data: dict, *, where: str = "pipeline") -> Pipeline:
    """Check a pipeline mapping and return the :class:`Pipeline`."""
    _stages_module_loaded()
    if not isinstance(data, dict) or not isinstance(data.get("stages"), list):
        raise ConfigError(f"{where}: expected a mapping with a 'stages' list; "
                          f"received {type(data).__name__}.")
    unknown_keys = set(data) - {"name", "description", "stages"}
    if unknown_keys:
        raise ConfigError(f"{where}: unknown key(s) {sorted(unknown_keys)}; allowed: name, "
                          "description, stages.")
    stages: list[Stage] = []
    params: dict[str, dict] = {}
    for i, entry in enumerate(data["stages"]):
        key = f"{where}: stages[{i}]"
        if isinstance(entry, dict) and len(entry) == 1:
            (name, values), = entry.items()
            values = values or {}
            if not isinstance(values, dict):
                raise ConfigError(f"{key}: parameters of '{name}' must be a mapping; received "
                                  f"{values!r}.")
        elif isinstance(entry, str):
            name, values = entry, {}
        else:
            raise ConfigError(f"{key}: expected a stage name or {{name: {{parameters}}}}; "
                              f"received {entry!r}.")
        if name not in REGISTRY:
            guess = difflib.get_close_matches(str(name), list(REGISTRY), n=1)
            hint = f" Did you mean '{guess[0]}'?" if guess else ""
            raise ConfigError(f"{key}: unknown stage '{name}'.{hint} Stages: "
                              f"{', '.join(REGISTRY)}.")
        found = REGISTRY[name]
        if any(s.name == name for s in stages):
            raise ConfigError(f"{key}: stage '{name}' appears twice.")
        if values and found.config_section is None:
            raise ConfigError(f"{key}: stage '{name}' takes no parameters; received "
                              f"{sorted(values)}.")
        stages.append(found)
        params[name] = dict(values)
    if not stages:
        raise ConfigError(f"{where}: the pipeline has no stages.")
    # Every input must be made by the runner or an earlier stage.
    available = set(RUNNER_PROVIDES)
    for stage_ in stages:
        missing = [n for n in stage_.inputs if n not in available]
        if missing:
            makers = {n: [s.name for s in REGISTRY.values() if n in s.outputs] for n in missing}
            needs = "; ".join(f"'{n}' is made by {', '.join(m) or 'no stage'}"
                              for n, m in makers.items())
            raise ConfigError(f"{where}: stage '{stage_.name}' needs {missing}, which no earlier "
                              f"stage makes ({needs}).")
        available.update(stage_.outputs)
    # Per-batch stages run together in one streaming loop: they must be contiguous.
    flags = [s.per_batch for s in stages]
    if True in flags:
        first, last = flags.index(True), len(flags) - 1 - flags[::-1].index(True)
        if not all(flags[first:last + 1]):
            inner = [s.name for s in stages[first:last + 1] if not s.per_batch]
            raise ConfigError(f"{where}: per-batch stages must follow each other; "
                              f"{inner} stand between them.")
    return Pipeline(name=str(data.get("name") or where), stages=tuple(stages), params=params,
                    description=str(data.get("description") or ""))


def load_pipeline(path: str | os.PathLike) -> Pipeline:
    """Read, check and build a pipeline file."""
    path = resolve_pipeline_path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"{path}: cannot read the pipeline: {exc}") from None
    pipeline = build_pipeline(data, where=str(path))
    return Pipeline(pipeline.name, pipeline.stages, pipeline.params, pipeline.description, path)
