"""The gallery: misclassified samples whose maps sit on the background, one row per method
and one column per map target, each picture shrunk and embedded."""

from __future__ import annotations

from audit.cams.methods import ordered_methods
from audit.report.format import fmt_num, fmt_pct, fmt_text
from audit.report.gallery import BehaviourItem, GalleryItem, Panel
from audit.report.images import compact_png, data_uri
from audit.report.methods import method_title

__all__ = ["PANEL_MAX_SIDE", "behaviour_gallery_view", "gallery_view"]

#: Longest side of a gallery picture in the report: twice its displayed size, sharp in print.
PANEL_MAX_SIDE = 300

# Column order and headers of the map targets; others follow in the order they appear.
_TARGET_HEADERS = {
    "predicted": "map of the predicted class",
    "true": "map of the true class",
    "negative": "negative evidence",
}

# A panel's figures: (label, kind); other names are shown with underscores as spaces.
_FIGURE_LABELS = {
    "energy_in_box": ("in box", "pct"),
    "enrichment": ("enrichment", "num"),
    "pointing_hit": ("pointing hit", "pct"),
    "loc_iou": ("loc. IoU", "num"),
    "confidence": ("confidence", "pct"),
}


def _figure_text(name: str, value: float | None) -> tuple[str, str]:
    label, kind = _FIGURE_LABELS.get(name, (name.replace("_", " "), "num"))
    return label, fmt_pct(value, 0) if kind == "pct" else fmt_num(value, 2)


def _panel(panel: Panel) -> dict:
    # Shrunk and palette-compressed; None when the bytes are not an image Pillow decodes
    # (the report then says "no picture").
    picture = compact_png(panel.png, max_side=PANEL_MAX_SIDE, dither=True)
    return {
        "title": panel.title,
        "uri": data_uri(picture),
        "figures": [_figure_text(k, v) for k, v in panel.figures.items()],
    }


def _columns(items: list[GalleryItem]) -> list[str]:
    seen = list(dict.fromkeys(p.target for i in items for p in i.panels if p.method is not None))
    return [t for t in _TARGET_HEADERS if t in seen] + [t for t in seen if t not in _TARGET_HEADERS]


def _entry(item: GalleryItem, columns: list[str]) -> dict:
    image_panels = [p for p in item.panels if p.method is None]
    by_method: dict[str, dict] = {}
    for panel in item.panels:
        if panel.method is not None:
            by_method.setdefault(panel.method, {}).setdefault(panel.target, panel)
    rows = [{"method": method_title(m),
             "cells": [_panel(by_method[m][t]) if t in by_method[m] else None for t in columns]}
            for m in ordered_methods(by_method)]
    return {
        "sample_id": item.sample_id,
        "image_path": item.image,
        "label": item.label,
        "predicted": item.predicted,
        "confidence": fmt_pct(item.confidence, 0),
        "background": fmt_pct(item.background_energy, 0),
        "image": _panel(image_panels[0]) if image_panels else None,
        "rows": rows,
    }


def gallery_view(items: list[GalleryItem]) -> dict:
    """``entries``: per item its identity, the plain image and a row per method (in registry
    order) with a cell per column, None where the method has no map of that target;
    ``columns``: the column headers."""
    columns = _columns(items)
    return {"entries": [_entry(item, columns) for item in items],
            "columns": [_TARGET_HEADERS.get(c, str(c)) for c in columns]}


def behaviour_gallery_view(items: list[BehaviourItem]) -> list[dict]:
    """Each misclassified sample beside its edited copies: ``sample_id``, ``label``,
    ``predicted``, ``background_decision`` and the ``pictures`` (title, ``data:`` URI,
    caption)."""
    return [{
        "sample_id": fmt_text(item.sample_id),
        "image_path": fmt_text(item.image),
        "label": fmt_text(item.label),
        "predicted": fmt_text(item.predicted),
        "background_decision": item.background_decision,
        "pictures": [{"title": p.title, "caption": p.caption,
                      "uri": data_uri(compact_png(p.png, max_side=PANEL_MAX_SIDE, dither=True))}
                     for p in item.pictures],
    } for item in items]
