"""Stage ``strategies`` (after the stream): the model's strategies per class, found in its maps
without any box (SpRAy, Lapuschkin et al. 2019; see :mod:`audit.analysis.strategies`).

It reads the small maps the ``strategy_maps`` stage kept on disk, picks the method
(``strategies.method``, else the first method trusted on this run, else Grad-CAM), clusters
each class's maps, writes the per-sample assignment to ``strategies.csv`` in the run folder
(``sample_id``, ``view``, ``class``, ``strategy``), and renders the cluster cards of the flagged
classes (the few images they show are read again here, as the gallery does).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from audit.analysis.strategies import StrategyRun, choose_method, discover_strategies
from audit.cams.overlay import overlay_png
from audit.config import CamsSection, StrategiesSection
from audit.datasets import BatchLoader, BatchSpec, DatasetManifest
from audit.history.run_info import RunInfo
from audit.io import atomic_write_text
from audit.pipeline import ShardSet
from audit.report.plots import embedding_png
from audit.report.strategy_cards import StrategyCard, StrategyClass
from audit.stages.load_model import ModelInfo
from audit.stages.strategy_maps import candidate_methods
from audit.summary import StrategiesFigures, Summary

__all__ = ["strategies"]

#: Side of a card's pictures in pixels; images averaged for a card's backdrop at most.
CARD_PX = 128
MAX_AVERAGED = 16


def strategies(params: StrategiesSection, cams: CamsSection, seed: int, run: RunInfo,
               summary: Summary, records: pd.DataFrame, strategy_maps: ShardSet,
               manifest: DatasetManifest, class_names: list[str], model_info: ModelInfo
               ) -> tuple[StrategiesFigures | None, list[StrategyClass]]:
    """Every class's strategies (None when no method's maps were kept or no class has
    ``strategies.min_class_size`` maps) and the cards of the flagged classes."""
    method = choose_method(summary, candidate_methods(params, cams), params.method)
    if method is None:
        return None, []
    found = discover_strategies(strategy_maps, method=method, summary=summary,
                                records=records, class_names=class_names, params=params,
                                seed=seed, scratch=run.run_dir)
    if found is None:
        return None, []
    atomic_write_text(run.run_dir / "strategies.csv", found.rows.to_csv(index=False))
    return found.figures, _cards(found, manifest=manifest, model_info=model_info)


def _cards(found: StrategyRun, *, manifest: DatasetManifest,
           model_info: ModelInfo) -> list[StrategyClass]:
    by_id = {s.sample_id: s for s in manifest.samples}
    loader = BatchLoader(model_info.input_size, model_info.channels, model_info.preprocessor)
    out = []
    for entry in found.figures.classes:
        if not entry.flagged:
            continue
        detail = found.details[(entry.view, entry.class_name)]
        rows = found.rows[(found.rows["view"] == entry.view)
                          & (found.rows["class"] == entry.class_name)]
        cards = []
        for cluster, mean_map, own_maps in zip(entry.clusters, detail.mean_maps,
                                               detail.exemplar_maps, strict=True):
            members = rows.loc[rows["strategy"] == cluster.cluster, "sample_id"]
            shown = list(dict.fromkeys(cluster.exemplars + members.head(MAX_AVERAGED).tolist()))
            batch = loader(BatchSpec(0, tuple(by_id[s] for s in shown if s in by_id)))
            if not len(batch):
                continue
            average = batch.display.astype(np.float64).mean(0).round().astype(np.uint8)
            peak = float(mean_map.max()) or 1.0
            mean_png = overlay_png(average, mean_map / peak, size=(CARD_PX, CARD_PX))
            ids = [s.sample_id for s in batch.samples]
            exemplars = [(ids.index(s), m) for s, m in zip(cluster.exemplars, own_maps,
                                                            strict=True) if s in ids]
            cards.append(StrategyCard(
                cluster=cluster.cluster, n=cluster.n, share=cluster.share,
                accuracy=cluster.accuracy, offobject=cluster.offobject,
                accuracy_differs=cluster.accuracy_differs, mean_png=mean_png,
                exemplar_pngs=[overlay_png(batch.display[i], m / (float(m.max()) or 1.0),
                                           size=(CARD_PX, CARD_PX)) for i, m in exemplars],
                exemplar_ids=[ids[i] for i, _ in exemplars]))
        flagged = {c.cluster for c in entry.clusters if c.offobject or c.accuracy_differs}
        out.append(StrategyClass(
            view=entry.view, class_name=entry.class_name, n=entry.n, eigengap=entry.eigengap,
            rank=entry.rank, cards=cards,
            embedding_png=embedding_png(detail.embedding, detail.embedding_labels,
                                        flagged=flagged)))
    return out
