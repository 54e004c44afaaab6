"""What an audit will cost, before it runs: forward passes per image, stage by stage, and a
time estimate from one timed batch (``cam-audit validate``).

Each stage declares its own cost on its ``Stage`` entry (``cost=``, a function of
:class:`audit.stages.cost.RunShape`; the unit is one forward pass of the model), so this module
knows no stage by name. Stages that run on a capped subset cost the same whatever the
dataset's size, so their share per image falls as the dataset grows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from audit.config import AuditConfig
from audit.pipeline import Stage
from audit.stages import STAGES
from audit.stages.cost import RunShape

__all__ = ["COSTLY_SECONDS", "StageCost", "format_cost", "stage_costs"]

#: Above this estimated run time, ``cam-audit validate`` warns.
COSTLY_SECONDS = 3600.0


@dataclass(frozen=True)
class StageCost:
    """Forward passes a stage costs over the whole run, and how they come about."""

    stage: str
    passes: float
    how: str


def stage_costs(config: AuditConfig, stages: Sequence[str | Stage], *, n_samples: int,
                layer_channels: int, error_rate: float) -> list[StageCost]:
    """Forward passes of every stage of ``stages`` (names of :data:`audit.stages.STAGES`, or
    the stages) that declares a cost (``Stage.cost``), over ``n_samples`` samples, of which a
    share ``error_rate`` is expected to be misclassified (their true class is explained too).
    """
    stages = [STAGES[stage] if isinstance(stage, str) else stage for stage in stages]
    shape = RunShape(config=config, n_samples=n_samples, layer_channels=layer_channels,
                     error_rate=error_rate, stages=frozenset(s.name for s in stages))
    out = []
    for stage in stages:
        if stage.cost is not None:
            passes, how = stage.cost(shape)
            out.append(StageCost(stage.name, passes, how))
    return out


def format_cost(costs: list[StageCost], *, n_samples: int,
                seconds_per_pass: float | None) -> tuple[list[str], bool]:
    """Lines for ``cam-audit validate`` and whether the run looks costly."""
    total = sum(c.passes for c in costs)
    per_image = total / max(1, n_samples)
    lines = [f"cost: about {per_image:,.1f} forward passes per image "
             f"({total:,.0f} for {n_samples} samples)"]
    lines += [f"  {c.stage:12s} {c.passes:>12,.0f}  {c.how}" for c in costs]
    costly = False
    if seconds_per_pass is not None:
        seconds = total * seconds_per_pass
        costly = seconds > COSTLY_SECONDS
        lines.append(f"one forward pass: {1000 * seconds_per_pass:.1f} ms per image (timed on "
                     f"the first batch): about {_duration(seconds)} in all")
    return lines, costly


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"
