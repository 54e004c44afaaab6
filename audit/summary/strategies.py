"""The strategies the ``strategies`` stage found: per class, the clusters of its maps (SpRAy)."""

from __future__ import annotations

from typing import Literal

from audit.summary.schema import _Model


class StrategyCluster(_Model):
    """One cluster of a class's maps: a candidate strategy of the model.

    ``accuracy`` is the share of its samples the model classifies correctly (in the
    ``predicted`` view: the precision of its predictions); ``energy_in_box``,
    ``enrichment`` and ``fixation_rate`` are the means over its samples with a region (None
    without). ``exclusive_mass`` is the share of its mean map where the class's other clusters
    do not look (less than a quarter of its weight), ``exclusive_area`` that region's share of
    the image.
    ``accuracy_p`` / ``accuracy_q``: Fisher's exact test of its accuracy against the rest of
    the class, and the Benjamini-Hochberg q-value over every tested cluster of the run.
    """

    cluster: int
    n: int
    share: float
    n_correct: int
    accuracy: float | None = None
    n_with_region: int = 0
    energy_in_box: float | None = None
    enrichment: float | None = None
    fixation_rate: float | None = None
    exclusive_mass: float | None = None
    exclusive_area: float | None = None
    accuracy_p: float | None = None
    accuracy_q: float | None = None
    offobject: bool = False
    accuracy_differs: bool = False
    exemplars: list[str] = []


class ClassStrategies(_Model):
    """The strategies of one class in one view: ``predicted`` (the maps of the samples
    predicted as the class) or ``labelled`` (the class's maps of the samples labelled as it).

    ``clustered`` is False below ``strategies.min_class_size`` maps; ``n_clustered`` counts
    the maps the clustering saw (a seeded subsample of at most ``max_maps_per_class``; the
    others join the cluster with the nearest mean map). ``rank`` orders the view's clustered
    classes by eigengap, 1 the largest (the clearest separate strategies).
    """

    class_name: str
    view: Literal["predicted", "labelled"]
    n: int
    clustered: bool = False
    n_clustered: int = 0
    n_clusters: int | None = None
    eigengap: float | None = None
    eigenvalues: list[float] = []
    rank: int | None = None
    clusters: list[StrategyCluster] = []

    @property
    def flagged(self) -> bool:
        return any(c.offobject or c.accuracy_differs for c in self.clusters)


class StrategiesFigures(_Model):
    """``summary.json`` ``strategies``: the method whose maps were clustered, the map size, and
    every class's strategies in both views. ``max_offobject_share`` is the largest share of
    its class held by a cluster flagged off-object (None when none is), which
    ``gates.max_offobject_strategy_share`` judges."""

    method: str
    map_size: int
    n_maps: int = 0
    classes: list[ClassStrategies] = []
    max_offobject_share: float | None = None
    n_offobject: int = 0
    n_accuracy_differs: int = 0
