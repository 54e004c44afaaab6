"""Stage ``report``: the HTML report with its fixation gallery, JUnit XML and run history."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd

from audit.cams.overlay import overlay_png
from audit.pipeline.stage import stage
from audit.report.gallery import GalleryItem, Panel

_PANEL_PX = 160


def select_gallery(records: pd.DataFrame, *, size: int) -> pd.DataFrame:
    """The misclassified samples whose predicted-class map puts the most energy outside the
    boxes (first configured method), most first; ties in sample order."""
    if size <= 0 or records.empty:
        return records.iloc[0:0]
    methods = list(dict.fromkeys(records["method"]))
    first = "gradcam" if "gradcam" in methods else methods[0]
    rows = records[(records["method"] == first) & (records["target"] == "predicted")
                   & (~records["correct"]) & records["energy_in_box"].notna()].copy()
    rows["background_energy"] = 1.0 - rows["energy_in_box"]
    rows["order"] = np.arange(len(rows))
    rows = rows.sort_values(["background_energy", "order"], ascending=[False, True])
    return rows.head(size)


def _png(array: np.ndarray) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(array).resize((_PANEL_PX, _PANEL_PX), Image.BILINEAR).save(buffer, "PNG")
    return buffer.getvalue()


def build_gallery(chosen: pd.DataFrame, records: pd.DataFrame, *, manifest, explainer,
                  config, model_info) -> list[GalleryItem]:
    """Re-explain the chosen samples and render their panels (no map was kept from the run)."""
    from audit.datasets import iter_batches

    if chosen.empty:
        return []
    by_id = {s.sample_id: s for s in manifest.samples}
    samples = [by_id[sid] for sid in chosen["sample_id"] if sid in by_id]
    batch = next(iter_batches(samples, batch_size=len(samples),
                              input_size=model_info.input_size, channels=model_info.channels,
                              preprocess=model_info.preprocessor))
    if not len(batch):
        return []
    methods = [m for m in config.cams.methods if m != "negative"]
    predicted = np.array([int(records.loc[records["sample_id"] == s.sample_id,
                                          "predicted_index"].iloc[0]) for s in batch.samples])
    labels = np.array([s.label for s in batch.samples])
    maps_pred = explainer.explain(batch.images, predicted, methods) if methods else {}
    maps_true = explainer.explain(batch.images, labels, methods) if methods else {}
    negative = (explainer.explain(batch.images, predicted, ("negative",))["negative"]
                if "negative" in config.cams.methods else None)
    height, width = model_info.input_size
    items = []
    for i, sample in enumerate(batch.samples):
        oh, ow = batch.original_sizes[i]
        boxes = [b.scaled(width / ow, height / oh) for b in sample.boxes]
        mine = records[records["sample_id"] == sample.sample_id]

        def figures(method, target, rows=mine):
            row = rows[(rows["method"] == method) & (rows["target"] == target)]
            if row.empty:
                return {}
            return {k: (None if pd.isna(row[k].iloc[0]) else float(row[k].iloc[0]))
                    for k in ("energy_in_box", "enrichment")}

        display = batch.display[i]
        panels = [Panel("image", overlay_png(display, np.zeros((1, 1)), boxes=boxes, alpha=0.0,
                                             size=(_PANEL_PX, _PANEL_PX)))]
        row0 = mine.iloc[0]
        for method in methods:
            panels.append(Panel(f"{method}: predicted '{row0['predicted']}'",
                                overlay_png(display, maps_pred[method][i], boxes=boxes,
                                            size=(_PANEL_PX, _PANEL_PX)),
                                method, "predicted", figures(method, "predicted")))
            panels.append(Panel(f"{method}: true '{row0['label']}'",
                                overlay_png(display, maps_true[method][i], boxes=boxes,
                                            size=(_PANEL_PX, _PANEL_PX)),
                                method, "true", figures(method, "true")))
        if negative is not None:
            # Negative evidence is Grad-CAM of the negated gradient: it sits in Grad-CAM's row.
            row_method = "gradcam" if "gradcam" in methods else (methods or ["negative"])[0]
            panels.append(Panel(f"negative evidence against '{row0['predicted']}'",
                                overlay_png(display, negative[i], boxes=boxes,
                                            colormap="viridis", size=(_PANEL_PX, _PANEL_PX)),
                                row_method, "negative", figures("negative", "predicted")))
        energy = chosen.loc[chosen["sample_id"] == sample.sample_id, "background_energy"]
        items.append(GalleryItem(sample.sample_id, sample.image, str(row0["label"]),
                                 str(row0["predicted"]), float(row0["confidence"]),
                                 float(energy.iloc[0]), panels))
    return items


@stage("report", inputs=("config", "run", "summary", "verdict", "records", "skipped",
                         "explainer", "manifest", "model_info"),
       outputs=("report_path",), config_section="report")
def report_stage(config, run, summary, verdict, records, skipped, explainer, manifest,
                 model_info):
    """Write report.html, junit.xml and the run history of the output folder."""
    from audit.report import find_baseline, update_history, write_junit, write_report

    run.provenance.update(layer=model_info.layer, n_images=int(records["sample_id"].nunique()),
                          scorecam_channels=min(model_info.layer_channels,
                                                config.cams.scorecam_max_channels
                                                or model_info.layer_channels)
                          if "scorecam" in config.cams.methods else None,
                          layer_channels=model_info.layer_channels,
                          input_size=list(model_info.input_size), head=model_info.head)
    final = run.final_summary(summary, verdict)
    gallery = build_gallery(select_gallery(records, size=config.report.gallery_size), records,
                            manifest=manifest, explainer=explainer, config=config,
                            model_info=model_info)
    baseline_dir = run.baseline
    if baseline_dir is None and run.history_dir is not None:
        baseline_dir = find_baseline(run.history_dir, summary=final, exclude_run_dir=run.run_dir)
    baseline = None
    if baseline_dir is not None:
        try:
            baseline = json.loads((baseline_dir / "summary.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            baseline = None
    path = write_report(run.run_dir, summary=final, records=records, skipped=skipped,
                        gallery=gallery, config=config.resolved_dump(), baseline=baseline)
    write_junit(run.run_dir, final)
    if run.history_dir is not None:
        update_history(run.history_dir, summary=final, run_dir=run.run_dir)
    return path
