"""A stage is a plain function with named inputs and outputs (in the spirit of Kedro's node).

The runner keeps a *catalog*: a mapping from names to values. A stage reads its inputs from
the catalog by name and its return value is stored under its output names. Stages marked
``per_batch`` run once per batch of the dataset stream, with ``batch`` in the catalog; they
must be pure functions of their inputs so that a run streams in bounded memory, resumes after
a crash, and can run as the transforms of a distributed engine later.

Stages register themselves in :data:`REGISTRY` with the :func:`stage` decorator; a pipeline
YAML file names them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Stage:
    """A named step: ``func(**{name: catalog[name] for name in inputs})`` -> ``outputs``.

    Attributes
    ----------
    name : str
        The name pipeline files use.
    func : callable
        Takes the inputs as keyword arguments; returns one value per output (a tuple when
        there are several, ``None`` when there are none).
    inputs, outputs : tuple of str
        Catalog names read and written.
    per_batch : bool
        Runs once per batch of the dataset stream.
    config_section : str or None
        The configuration section a pipeline file's parameters for this stage override
        (``explain: {methods: [gradcam]}`` sets ``cams.methods``).
    """

    name: str
    func: Callable
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    per_batch: bool = False
    config_section: str | None = None

    def run(self, catalog: dict) -> dict:
        missing = [name for name in self.inputs if name not in catalog]
        if missing:
            raise KeyError(f"Stage '{self.name}' needs {missing}, which no earlier stage made.")
        result = self.func(**{name: catalog[name] for name in self.inputs})
        if not self.outputs:
            return {}
        if len(self.outputs) == 1:
            return {self.outputs[0]: result}
        if not isinstance(result, tuple) or len(result) != len(self.outputs):
            raise TypeError(f"Stage '{self.name}' must return {len(self.outputs)} values "
                            f"{self.outputs}; it returned {type(result).__name__}.")
        return dict(zip(self.outputs, result, strict=True))


REGISTRY: dict[str, Stage] = {}


def stage(name: str, *, inputs: tuple[str, ...] = (), outputs: tuple[str, ...] = (),
          per_batch: bool = False, config_section: str | None = None) -> Callable:
    """Register the decorated function as the stage ``name``."""

    def register(func: Callable) -> Callable:
        if name in REGISTRY and REGISTRY[name].func is not func:
            raise ValueError(f"Stage '{name}' is registered twice.")
        REGISTRY[name] = Stage(name, func, tuple(inputs), tuple(outputs), per_batch,
                               config_section)
        return func

    return register
