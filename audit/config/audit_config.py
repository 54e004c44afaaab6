"""The whole configuration (:class:`AuditConfig`): its sections, the run's own keys and the
``slices`` list."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator

from audit.config.base import _Section
from audit.config.evidence import (
    BehaviourSection,
    FaithfulnessSection,
    SanitySection,
    StrategiesSection,
)
from audit.config.gates import GatesSection
from audit.config.sections import (
    BeamSection,
    CamsSection,
    DatasetSection,
    DemoSection,
    MetricsSection,
    ModelSection,
    ReportSection,
)


def _slice_entry(entry):
    # A bare column name is a slice of one column: [site, device] = [[site], [device]].
    return [entry] if isinstance(entry, str) else entry


def _check_slices(slices: list[list[str]]) -> list[list[str]]:
    seen: dict[frozenset[str], int] = {}
    for i, columns in enumerate(slices):
        if not columns:
            raise ValueError(f"slices[{i}] names no column; a slice is a list of one or more "
                             "column names, e.g. [site] or [site, device]")
        blank = [c for c in columns if not c.strip()]
        if blank:
            raise ValueError(f"slices[{i}] has an empty column name")
        repeated = sorted({c for c in columns if columns.count(c) > 1})
        if repeated:
            raise ValueError(f"slices[{i}] names {', '.join(map(repr, repeated))} more than "
                             "once")
        first = seen.setdefault(frozenset(columns), i)
        if first != i:
            raise ValueError(f"slices[{i}] {columns} repeats slices[{first}] "
                             f"{slices[first]} (the same columns make the same slices)")
    return slices


class AuditConfig(_Section):
    run_name: str = Field(default="audit", pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", max_length=100)
    seed: int = 0
    pipeline: Path = Path("pipelines/audit.yaml")
    model: ModelSection
    dataset: DatasetSection
    slices: list[list[str]] = Field(default=[], description=(
        "Subgroups to score separately, each a list of manifest columns (extra CSV columns, "
        "JSON Lines meta, extra fields of COCO images): [[site], [device], [site, device]]."))
    cams: CamsSection = CamsSection()
    metrics: MetricsSection = MetricsSection()
    behaviour: BehaviourSection = BehaviourSection()
    faithfulness: FaithfulnessSection = FaithfulnessSection()
    sanity: SanitySection = SanitySection()
    strategies: StrategiesSection = StrategiesSection()
    gates: GatesSection = GatesSection()
    report: ReportSection = ReportSection()
    demo: DemoSection | None = None
    engine: Literal["local", "beam"] = Field(default="local", description=(
        "Runs the per-batch stages: local (this process) or beam (Apache Beam: the "
        "DirectRunner, Dataflow, Flink, Spark; see beam.options)."))
    beam: BeamSection = BeamSection()
    source: Path | None = Field(default=None, exclude=True)

    @field_validator("slices", mode="before")
    @classmethod
    def _slice_entries(cls, value):
        if isinstance(value, str):
            return [[value]]
        if isinstance(value, list):
            return [_slice_entry(entry) for entry in value]
        return value

    @field_validator("slices")
    @classmethod
    def _valid_slices(cls, value):
        return _check_slices(value)

    @field_validator("gates")
    @classmethod
    def _per_slice_needs_slices(cls, gates, info):
        if gates.per_slice and "slices" in info.data and not info.data["slices"]:
            raise ValueError("per_slice is true but the configuration names no slices; add a "
                             "top-level slices list (e.g. slices: [[site]]) or set "
                             "gates.per_slice: false")
        return gates

    @field_validator("strategies")
    @classmethod
    def _strategy_method_is_run(cls, strategies, info):
        cams = info.data.get("cams")
        if strategies.method is not None and cams is not None \
                and strategies.method not in cams.methods:
            raise ValueError(f"strategies.method must be one of cams.methods "
                             f"({', '.join(cams.methods)}); got {strategies.method!r}")
        return strategies

    def resolved_dump(self) -> dict:
        """The configuration with every default filled in, as plain YAML-ready data."""
        return self.model_dump(mode="json", exclude={"source"})
