"""What the report's Strategies section shows: typed items, made by the ``strategies`` stage
(which reads the few images it needs) and rendered by :mod:`audit.report.sections.strategies`."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class StrategyCard:
    """One cluster of a class: its mean map over the average of its images, and exemplars."""

    cluster: int
    n: int
    share: float
    accuracy: float | None
    offobject: bool
    accuracy_differs: bool
    mean_png: bytes
    exemplar_pngs: list[bytes] = field(default_factory=list)
    exemplar_ids: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class StrategyClass:
    """A flagged class in one view: a row of cluster cards and its embedding plot."""

    view: str
    class_name: str
    n: int
    eigengap: float | None
    rank: int | None
    cards: list[StrategyCard] = field(default_factory=list)
    embedding_png: bytes | None = None
