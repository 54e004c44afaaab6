"""Strategies: the clusters of each class's maps (SpRAy), the flagged classes' cluster cards,
their embedding plots and the classes ranked by eigengap."""

from __future__ import annotations

from audit.report.format import fmt_num, fmt_pct, fmt_text
from audit.report.images import data_uri
from audit.report.methods import method_title
from audit.report.strategy_cards import StrategyClass
from audit.summary import RunSummary

__all__ = ["regions_sentence", "strategies_view"]

#: Classes listed in the eigengap ranking of each view.
MAX_RANKED = 20


def regions_sentence(summary: RunSummary) -> str:
    """One sentence: how many samples had a region, and which figures need one."""
    n = summary.n_samples
    with_region = summary.centre_baseline.n if summary.centre_baseline else 0
    return (f"{with_region} of {n} audited samples had a box or mask: energy in box, "
            "enrichment, pointing, localisation, background fixation and the behavioural test "
            "need one and are measured on those only; accuracy, faithfulness, sanity and "
            "strategies use every sample.")


def strategies_view(summary: RunSummary, cards: list[StrategyClass]) -> dict | None:
    """None when the run clustered no strategies; else ``method``, ``map_size``, ``n_maps``,
    ``ranking`` (per view, the clustered classes by eigengap), ``classes`` (the flagged
    classes with their cards and embedding plot) and the flag counts."""
    figures = summary.strategies
    if figures is None:
        return None
    ranking = {}
    for view in ("predicted", "labelled"):
        ranked = sorted((c for c in figures.classes if c.view == view and c.clustered),
                        key=lambda c: c.rank or 0)[:MAX_RANKED]
        ranking[view] = [{
            "rank": c.rank, "class_name": fmt_text(c.class_name), "n": c.n,
            "n_clusters": c.n_clusters, "eigengap": fmt_num(c.eigengap, 3),
            "flagged": c.flagged} for c in ranked]
    classes = []
    for item in cards:
        classes.append({
            "view": item.view, "class_name": fmt_text(item.class_name), "n": item.n,
            "eigengap": fmt_num(item.eigengap, 3), "rank": item.rank,
            "embedding": data_uri(item.embedding_png),
            "cards": [{
                "cluster": card.cluster, "n": card.n, "share": fmt_pct(card.share, 0),
                "accuracy": fmt_pct(card.accuracy, 0), "offobject": card.offobject,
                "accuracy_differs": card.accuracy_differs, "mean": data_uri(card.mean_png),
                "exemplars": [{"src": data_uri(png), "id": fmt_text(sid)} for png, sid in
                              zip(card.exemplar_pngs, card.exemplar_ids, strict=True)],
            } for card in item.cards]})
    return {"method": method_title(figures.method), "map_size": figures.map_size,
            "n_maps": figures.n_maps, "ranking": ranking, "classes": classes,
            "n_offobject": figures.n_offobject,
            "n_accuracy_differs": figures.n_accuracy_differs,
            "n_small": sum(not c.clustered for c in figures.classes)}
