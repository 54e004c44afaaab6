"""Stage ``gallery``: the misclassified samples whose maps sit most on the background, shown
with their maps.

When the ``gallery_maps`` stage ran (it keeps the errors' raw maps on disk while streaming),
the chosen samples' maps are read back from its shards and only the images are read again;
otherwise the chosen few are explained again here, both targets in one pass.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from audit.cams import CamExplainer
from audit.cams.methods import METHODS, ordered_methods
from audit.cams.overlay import overlay_png
from audit.config import BehaviourSection, CamsSection, ReportSection
from audit.datasets import BatchLoader, BatchSpec, DatasetManifest
from audit.pipeline import ShardSet
from audit.report.gallery import BehaviourItem, EditedPicture, GalleryItem, Panel
from audit.stages.behaviour import edited_images
from audit.stages.cost import RunShape
from audit.stages.load_model import ModelInfo

__all__ = ["build_behaviour", "build_gallery", "build_label_gallery", "gallery",
           "select_behaviour", "select_gallery", "select_label_errors"]

#: Side of a gallery panel in pixels.
PANEL_PX = 160


def select_gallery(records: pd.DataFrame, *, size: int) -> pd.DataFrame:
    """The misclassified samples whose predicted-class map puts the most energy outside the
    boxes, most first (ties in record order), judged by the first method in registry order
    that explains the decision (Grad-CAM when present). Adds a ``background_energy`` column.
    """
    if size <= 0 or records.empty:
        return records.iloc[0:0]
    deciding = [m for m in ordered_methods(records["method"].unique()) if METHODS[m].fixation]
    if not deciding:
        return records.iloc[0:0]
    rows = records[(records["method"] == deciding[0]) & (records["target"] == "predicted")
                   & (~records["correct"]) & records["energy_in_box"].notna()].copy()
    rows["background_energy"] = 1.0 - rows["energy_in_box"]
    rows["order"] = np.arange(len(rows))
    rows = rows.sort_values(["background_energy", "order"], ascending=[False, True])
    return rows.head(size)


def _figures(rows: pd.DataFrame, method: str, target: str) -> dict:
    row = rows[(rows["method"] == method) & (rows["target"] == target)]
    if row.empty:
        return {}
    return {k: (None if pd.isna(row[k].iloc[0]) else float(row[k].iloc[0]))
            for k in ("energy_in_box", "enrichment")}


def _unit(maps) -> dict[str, np.ndarray]:
    """Each map divided by its maximum (an all-zero map stays zero)."""
    out = {}
    for method, stack in maps.items():
        peak = stack.max(axis=(1, 2), keepdims=True)
        out[method] = np.divide(stack, peak, out=np.zeros_like(stack), where=peak > 0)
    return out


def _stored_maps(shards: ShardSet | None, sample_ids: list, methods
                 ) -> tuple[dict, dict] | None:
    """The predicted- and true-class raw maps ``method -> (n, h, w)`` of ``sample_ids`` from
    the shards (one read at a time, only the wanted rows kept); ``None`` when one is missing."""
    if shards is None:
        return None
    where = {str(sid): i for i, sid in enumerate(sample_ids)}
    found: dict[tuple, np.ndarray] = {}
    for part in shards:
        for j in np.flatnonzero(np.isin(part["sample_id"].astype(str), list(where))):
            key = (str(part["sample_id"][j]), str(part["method"][j]), str(part["target"][j]))
            found[key] = part["map"][j]
    out = ({}, {})
    for slot, target in enumerate(("predicted", "true")):
        for method in methods:
            keys = [(str(sid), method, target) for sid in sample_ids]
            if any(k not in found for k in keys):
                return None
            out[slot][method] = np.stack([found[k] for k in keys])
    return out


def build_gallery(chosen: pd.DataFrame, records: pd.DataFrame, *, manifest: DatasetManifest,
                  explainer: CamExplainer, methods, model_info: ModelInfo,
                  stored_maps: ShardSet | None = None) -> list[GalleryItem]:
    """Render the ``chosen`` samples' panels: the image, each method's map of the predicted
    and of the true class, and counter-evidence of the prediction (in Grad-CAM's row:
    negative evidence is Grad-CAM of the negated gradient). The maps come from
    ``stored_maps`` (the ``gallery_maps`` shards) when they hold every chosen sample's maps,
    else the samples are explained again."""
    if chosen.empty:
        return []
    by_id = {s.sample_id: s for s in manifest.samples}
    samples = tuple(by_id[sid] for sid in chosen["sample_id"] if sid in by_id)
    batch = BatchLoader(model_info.input_size, model_info.channels,
                        model_info.preprocessor, max_pixels=manifest.max_image_pixels,
                        formats=manifest.image_formats)(BatchSpec(0, samples))
    if not len(batch):
        return []
    methods = tuple(methods)
    shown = [m for m in ordered_methods(methods) if METHODS[m].kind != "counter-evidence"]
    counter = [m for m in ordered_methods(methods) if METHODS[m].kind == "counter-evidence"]
    predicted = np.array([int(records.loc[records["sample_id"] == s.sample_id,
                                          "predicted_index"].iloc[0]) for s in batch.samples])
    labels = np.array([s.label for s in batch.samples])
    # The same call as the explain stage (raw maps at the layer's resolution, both targets
    # from one pass), so the traced graph is reused; each map is scaled to [0, 1] for its
    # overlay.
    stored = _stored_maps(stored_maps, [s.sample_id for s in batch.samples], methods)
    if stored is not None:
        maps_pred, maps_true = _unit(stored[0]), _unit(stored[1])
    else:
        both = explainer.explain_targets(batch.images, np.stack([predicted, labels], axis=1),
                                         methods, upsample=False, normalize=False)
        maps_pred, maps_true = _unit(both.target(0)), _unit(both.target(1))
    height, width = model_info.input_size
    size = (PANEL_PX, PANEL_PX)
    items = []
    for i, sample in enumerate(batch.samples):
        oh, ow = batch.original_sizes[i]
        boxes = [b.scaled(width / ow, height / oh) for b in sample.boxes]
        mine = records[records["sample_id"] == sample.sample_id]
        first = mine.iloc[0]
        display = batch.display[i]
        panels = [Panel("image", overlay_png(display, np.zeros((1, 1)), boxes=boxes, alpha=0.0,
                                             size=size))]
        for method in shown:
            panels.append(Panel(f"{method}: predicted '{first['predicted']}'",
                                overlay_png(display, maps_pred[method][i], boxes=boxes,
                                            size=size),
                                method, "predicted", _figures(mine, method, "predicted")))
            if METHODS[method].class_specific:  # a class-agnostic map is the same for both
                panels.append(Panel(f"{method}: true '{first['label']}'",
                                    overlay_png(display, maps_true[method][i], boxes=boxes,
                                                size=size),
                                    method, "true", _figures(mine, method, "true")))
        for method in counter:
            row_method = "gradcam" if "gradcam" in shown else (shown or [method])[0]
            panels.append(Panel(f"negative evidence against '{first['predicted']}'",
                                overlay_png(display, maps_pred[method][i], boxes=boxes,
                                            colormap="viridis", size=size),
                                row_method, "negative", _figures(mine, method, "predicted")))
        energy = chosen.loc[chosen["sample_id"] == sample.sample_id, "background_energy"]
        items.append(GalleryItem(sample.sample_id, sample.image, str(first["label"]),
                                 str(first["predicted"]), float(first["confidence"]),
                                 float(energy.iloc[0]), panels))
    return items


def select_label_errors(records: pd.DataFrame, *, size: int) -> pd.DataFrame:
    """A multi-label run's label errors (false positives, target ``predicted``, and missed
    labels, target ``true``) whose map puts the most energy off the region it is scored
    against, most first, judged by the first method that explains the decision; adds
    ``background_energy``."""
    if size <= 0 or records.empty:
        return records.iloc[0:0]
    deciding = [m for m in ordered_methods(records["method"].unique()) if METHODS[m].fixation]
    if not deciding:
        return records.iloc[0:0]
    rows = records[(records["method"] == deciding[0]) & ~records["correct"].astype(bool)
                   & records["energy_in_box"].notna()].copy()
    rows["background_energy"] = 1.0 - rows["energy_in_box"]
    rows["order"] = np.arange(len(rows))
    rows = rows.sort_values(["background_energy", "order"], ascending=[False, True])
    return rows.head(size)


def build_label_gallery(chosen: pd.DataFrame, *, manifest: DatasetManifest,
                        explainer: CamExplainer, methods, model_info: ModelInfo
                        ) -> list[GalleryItem]:
    """One row per chosen label error: the image with the boxes its map was scored against
    (all the image's objects for a false positive, the label's own for a missed label), and
    each method's map of that label (counter-evidence left out)."""
    if chosen.empty:
        return []
    by_id = {s.sample_id: s for s in manifest.samples}
    chosen = chosen[chosen["sample_id"].isin(by_id)]
    samples = tuple(by_id[sid] for sid in chosen["sample_id"])
    batch = BatchLoader(model_info.input_size, model_info.channels,
                        model_info.preprocessor)(BatchSpec(0, samples))
    loaded = {s.sample_id: i for i, s in enumerate(batch.samples)}
    rows = [(loaded[sid], row) for sid, (_, row) in zip(chosen["sample_id"], chosen.iterrows(),
                                                         strict=True) if sid in loaded]
    if not rows:
        return []
    shown = tuple(m for m in ordered_methods(methods) if METHODS[m].kind != "counter-evidence")
    index = np.array([i for i, _ in rows])
    classes = np.array([int(row["target_index"]) for _, row in rows])
    maps = _unit(explainer.explain(batch.images[index], classes, shown, upsample=False,
                                   normalize=False))
    height, width = model_info.input_size
    size = (PANEL_PX, PANEL_PX)
    items = []
    for j, (i, row) in enumerate(rows):
        sample = batch.samples[i]
        oh, ow = batch.original_sizes[i]
        own = [o for o in sample.label_set or () if o.label == int(row["target_index"])]
        scored = own[0].boxes if own else sample.boxes
        boxes = [b.scaled(width / ow, height / oh) for b in scored]
        display = batch.display[i]
        kind = "false positive" if row["target"] == "predicted" else "missed"
        panels = [Panel("image", overlay_png(display, np.zeros((1, 1)), boxes=boxes, alpha=0.0,
                                             size=size))]
        for method in shown:
            panels.append(Panel(f"{method}: {kind} '{row['target_class']}'",
                                overlay_png(display, maps[method][j], boxes=boxes, size=size),
                                method, str(row["target"]),
                                {"energy_in_box": float(row["energy_in_box"]),
                                 "enrichment": None if pd.isna(row["enrichment"])
                                 else float(row["enrichment"])} if method == row["method"]
                                else {}))
        items.append(GalleryItem(sample.sample_id, sample.image, str(row["label"]) or "(none)",
                                 str(row["predicted"]) or "(none)", float(row["confidence"]),
                                 float(row["background_energy"]), panels))
    return items


def _picture(title: str, image: np.ndarray, caption: str, boxes=()) -> EditedPicture:
    png = overlay_png(image, np.zeros((1, 1)), boxes=boxes, alpha=0.0, size=(PANEL_PX, PANEL_PX))
    return EditedPicture(title, png, caption)


def select_behaviour(samples: pd.DataFrame, *, size: int) -> pd.DataFrame:
    """Up to ``size`` misclassified samples with edited copies: those whose decision rests on
    the background (``background_decision`` 1) first, then the others, in sample order."""
    if size <= 0:
        return samples.iloc[0:0]
    wrong = samples[~samples["correct"].astype(bool) & samples["background_decision"].notna()]
    wrong = wrong.sort_values(["background_decision", "sample_id"], ascending=[False, True],
                              kind="mergesort")
    return wrong.head(size)


def build_behaviour(chosen: pd.DataFrame, *, manifest: DatasetManifest, fill: str,
                    model_info: ModelInfo) -> list[BehaviourItem]:
    """The chosen samples beside their object-removed and background-removed copies, each
    with the model's decision on it (from the behaviour stage's rows)."""
    if chosen.empty:
        return []
    by_id = {s.sample_id: s for s in manifest.samples}
    samples = tuple(by_id[sid] for sid in chosen["sample_id"] if sid in by_id)
    batch = BatchLoader(model_info.input_size, model_info.channels,
                        model_info.preprocessor, max_pixels=manifest.max_image_pixels,
                        formats=manifest.image_formats)(BatchSpec(0, samples))
    rows, no_object, no_background = edited_images(batch, fill=fill)
    height, width = model_info.input_size
    row_of = chosen.set_index("sample_id")
    items = []
    for j, i in enumerate(rows):
        sample = batch.samples[i]
        row = row_of.loc[sample.sample_id]
        oh, ow = batch.original_sizes[i]
        boxes = [b.scaled(width / ow, height / oh) for b in sample.boxes]
        items.append(BehaviourItem(
            sample.sample_id, sample.image, str(row["label"]), str(row["predicted"]),
            bool(row["background_decision"] == 1.0), [
                _picture("image", batch.display[i],
                         f"predicted {row['predicted']} ({row['confidence']:.0%})", boxes),
                _picture("object removed", no_object[j],
                         f"predicted {row['predicted_without_object']} · "
                         f"{row['predicted']} {row['prob_without_object']:.0%}"),
                _picture("background removed", no_background[j],
                         f"predicted {row['predicted_without_background']} · "
                         f"{row['predicted']} {row['prob_without_background']:.0%}"),
            ]))
    return items


def gallery(report: ReportSection, cams: CamsSection, behaviour: BehaviourSection,
            records: pd.DataFrame, manifest: DatasetManifest, explainer: CamExplainer,
            model_info: ModelInfo, samples: pd.DataFrame | None,
            gallery_maps: ShardSet | None = None) -> tuple[list[GalleryItem], list[BehaviourItem]]:
    """Up to ``report.gallery_size`` background-fixated errors with every method's maps; and,
    when the behaviour stage ran, up to half as many errors with their edited copies.

    Each edited copy's caption names the class predicted on it and the probability of the
    class predicted on the original.

    A multi-label model's gallery shows its label errors instead (:func:`build_label_gallery`):
    false positives and missed labels whose maps sit most off the objects.
    """
    if model_info.multilabel:
        chosen = select_label_errors(records, size=report.gallery_size)
        return build_label_gallery(chosen, manifest=manifest, explainer=explainer,
                                   methods=cams.methods, model_info=model_info), []
    chosen = select_gallery(records, size=report.gallery_size)
    items = build_gallery(chosen, records, manifest=manifest, explainer=explainer,
                          methods=cams.methods, model_info=model_info,
                          stored_maps=gallery_maps)
    edited = []
    if samples is not None:
        edited = build_behaviour(select_behaviour(samples, size=(report.gallery_size + 1) // 2),
                                 manifest=manifest, fill=behaviour.fill, model_info=model_info)
    return items, edited


def gallery_cost(shape: RunShape) -> tuple[float, str]:
    """No model pass when the explain stage makes both targets' maps (the ``gallery_maps``
    stage keeps the errors' maps); otherwise the shown samples explained again, both targets
    in one pass."""
    if ("gallery_maps" in shape.stages
            and {"predicted", "true"} <= set(shape.config.cams.targets)):
        return 0.0, "maps read back from the gallery_maps shards"
    shown = min(shape.config.report.gallery_size, shape.n)
    return (shown * (1.0 + shape.per_map - shape.shared_pass),
            f"{shown} samples explained again (both targets in one pass)")
