"""Synthetic runs for the report, history and drift tests: score records, summaries, gallery
panels and run folders built by hand (shared, so no test module imports another)."""

from __future__ import annotations

import io
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image, ImageDraw

from audit.analysis.aggregate import aggregate
from audit.comparison import compare_summaries
from audit.comparison.drift import Drift, flagged_changes
from audit.config import AuditConfig
from audit.metrics.records import ScoreRecord, records_to_frame
from audit.report import (
    GalleryItem,
    Panel,
    write_report,
)
from audit.summary import SCHEMA_VERSION, RunSummary, write_summary

NAN = math.nan
HOSTILE_CLASS = "<script>alert(1)</script>"
HOSTILE_FILE = 'img"><img src=x onerror=alert(1)>.png'
CLASSES = ["cat", "dog", HOSTILE_CLASS]
METHODS = ("gradcam", "gradcam++", "scorecam", "negative")


# --- Synthetic inputs -------------------------------------------------------------------------


def make_records(n: int = 60, *, seed: int = 0, classes=CLASSES, methods=METHODS,
                 error_rate: float = 0.3, with_boxes: bool = True, degenerate=(),
                 hostile_file: bool = True) -> list[ScoreRecord]:
    """``n`` samples; misclassified ones get true-class maps; scores loosely realistic."""
    rng = np.random.default_rng(seed)
    records = []
    for i in range(n):
        label = i % len(classes)
        wrong = len(classes) > 1 and rng.random() < error_rate
        predicted = (label + 1 + int(rng.integers(0, max(1, len(classes) - 1)))) % len(classes) \
            if wrong else label
        sample = f"s{i:03d}"
        image = HOSTILE_FILE if hostile_file and i == 1 else f"images/{sample}.png"
        area = float(rng.uniform(0.1, 0.4))
        base = float(np.clip(rng.normal(0.25 if wrong else 0.6, 0.15), 0.01, 0.99))
        centre = float(rng.random() < 0.4) if with_boxes else NAN
        for method in methods:
            for target in ("predicted", "true") if wrong else ("predicted",):
                target_index = predicted if target == "predicted" else label
                degenerate_map = method in degenerate
                energy = float(np.clip(base + rng.normal(0, 0.08), 0.0, 1.0))
                if method == "negative":
                    energy = float(np.clip(1 - energy, 0, 1))
                defined = with_boxes and not degenerate_map
                enrichment = energy / area
                iou = float(np.clip(energy - 0.1 + rng.normal(0, 0.1), 0, 1))
                scores = dict(
                    energy_in_box=energy if defined else NAN,
                    box_area_fraction=area if with_boxes else NAN,
                    enrichment=enrichment if defined else NAN,
                    pointing_hit=float(rng.random() < energy + 0.2) if defined else NAN,
                    loc_iou=iou if defined else NAN,
                    loc_correct=float(iou >= 0.5) if defined else NAN,
                )
                if wrong and target == "predicted" and defined:
                    scores["background_fixation"] = float(enrichment < 1.0)
                records.append(ScoreRecord(
                    sample_id=sample, image=image, label=classes[label], label_index=label,
                    predicted=classes[predicted], predicted_index=predicted, correct=not wrong,
                    confidence=float(rng.uniform(0.5, 0.99)), method=method, target=target,
                    target_class=classes[target_index], target_index=target_index,
                    n_boxes=1 if with_boxes else 0, degenerate=degenerate_map, centre_hit=centre,
                    **scores,
                ))
    return records


PROVENANCE = {
    "run_id": "20261125-213000-demo",
    "pipeline": "audit",
    "model_path": "models/" + HOSTILE_FILE,
    "model_sha256": "a" * 64,
    "manifest_path": "data/manifest.csv",
    "manifest_sha256": "b" * 64,
    "n_images": 62,
    "layer": "conv5_block3_out",
    "scorecam_channels": 64,
    "seed": 0,
    "python": "3.11.9",
    "tensorflow": "2.17.0",
    "keras": "3.4.1",
    "cam_audit": "0.1.0",
    "platform": "Linux-6.1-x86_64",
    "host": "ci-runner-3",
    "started_at": "2026-11-25T21:30:00+00:00",
    "finished_at": "2026-11-25T21:34:10+00:00",
    "duration_s": 250.4,
}


def make_summary_v1(records, *, classes=CLASSES, gates=None, passed=None, run_id=None,
                    finished_at=None, manifest_sha256=None, n_resamples=200) -> dict:
    """``summary.json`` as cam-audit 0.1 wrote it: a plain dict, ``schema_version`` 1."""
    summary = aggregate(records_to_frame(records) if isinstance(records, list) else records,
                        class_names=list(classes), seed=0, n_resamples=n_resamples).model_dump(
        mode="json", exclude={"n_skipped", "n_boxes_clipped", "n_duplicates",
                              "skipped_fraction"})
    summary["schema_version"] = 1
    if gates is None:
        gates = {
            "min_accuracy": {"value": summary["accuracy"], "threshold": 0.9, "passed": False,
                             "reason": f"accuracy {summary['accuracy']:.3f} is below the "
                                       "minimum 0.900"},
            "max_background_fixation_rate": {
                "value": 0.12, "threshold": 0.5, "passed": True,
                "reason": f"fine for class {HOSTILE_CLASS}"},
        }
    provenance = dict(PROVENANCE)
    if run_id:
        provenance["run_id"] = run_id
    if finished_at:
        provenance["finished_at"] = finished_at
    if manifest_sha256:
        provenance["manifest_sha256"] = manifest_sha256
    summary.update(
        run_id=provenance["run_id"], run_name="demo", n_skipped=3, n_boxes_clipped=2,
        gates=gates,
        passed=all(g["passed"] for g in gates.values()) if passed is None else passed,
        provenance=provenance,
    )
    return summary


def make_summary(records, **options) -> RunSummary:
    """The typed summary of ``records`` (options as :func:`make_summary_v1`)."""
    return RunSummary.model_validate(make_summary_v1(records, **options)
                                     | {"schema_version": SCHEMA_VERSION})


def png(size=(96, 96), colour=(90, 140, 200), box=(20, 24, 70, 76), heat=None) -> bytes:
    image = Image.new("RGB", size, colour)
    draw = ImageDraw.Draw(image)
    if heat is not None:
        cx, cy = heat
        for r in range(36, 0, -4):
            shade = int(255 * (1 - r / 40))
            draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=(255, shade, 0))
    draw.rectangle(box, outline=(255, 255, 255), width=2)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def make_gallery(n: int = 2, methods=("gradcam", "gradcam++", "scorecam")) -> list[GalleryItem]:
    items = []
    for i in range(n):
        panels = [Panel(title="image", png=png())]
        for method in methods:
            panels += [
                Panel(title=f"{method}: predicted '{HOSTILE_CLASS}'", png=png(heat=(80, 15)),
                      method=method, target="predicted",
                      figures={"energy_in_box": 0.08, "enrichment": 0.3}),
                Panel(title=f"{method}: true 'cat'", png=png(heat=(45, 50)), method=method,
                      target="true", figures={"energy_in_box": 0.7, "enrichment": 2.6}),
                Panel(title=f"{method}: negative evidence", png=png(heat=(10, 80)),
                      method=method, target="negative", figures={"energy_in_box": None}),
            ]
        items.append(GalleryItem(
            sample_id=f"s{i:03d}", image=HOSTILE_FILE if i == 0 else f"images/s{i:03d}.png",
            label="cat", predicted=HOSTILE_CLASS, confidence=0.91, background_energy=0.92,
            panels=panels,
        ))
    return items


NO_SKIPPED = pd.DataFrame(columns=["sample_id", "image", "reason"])


def make_skipped(n: int = 3) -> pd.DataFrame:
    return pd.DataFrame({
        "sample_id": [f"bad{i}" for i in range(n)],
        "image": [HOSTILE_FILE] + [f"images/bad{i}.png" for i in range(1, n)],
        "reason": ["unreadable image: cannot identify image file"] * n,
    })


CONFIG = AuditConfig.model_validate({
    "run_name": "demo",
    "seed": 0,
    "model": {"path": "models/" + HOSTILE_FILE, "layer": None, "class_names": CLASSES},
    "dataset": {"format": "csv", "path": "data/manifest.csv"},
    "cams": {"methods": list(METHODS), "targets": ["predicted", "true"], "batch_size": 32},
    "metrics": {"pointing_tolerance_px": 15.0, "fixation_enrichment_below": 1.0,
                "bootstrap_resamples": 200},
    "gates": {"min_accuracy": 0.9, "max_background_fixation_rate": 0.5},
    "report": {"out_dir": "reports", "gallery_size": 8},
})


def drift_of(baseline, summary, *, baseline_records=None, records=None,
             min_change: float = 0.02) -> Drift:
    """What the drift stage makes of ``summary`` against ``baseline`` (already read)."""
    comparison = compare_summaries(baseline, summary, records_a=baseline_records,
                                   records_b=records)
    return Drift(baseline=baseline, comparison=comparison, min_change=min_change,
                 changes=tuple(flagged_changes(comparison, min_change=min_change)))


def render_full(run_dir: Path, *, baseline=None, baseline_records=None, **overrides
                ) -> tuple[Path, str]:
    records = make_records()
    kwargs = dict(summary=make_summary(records), records=records_to_frame(records),
                  skipped=make_skipped(), gallery=make_gallery(), config=CONFIG)
    kwargs.update(overrides)
    if baseline is not None:
        kwargs["drift"] = drift_of(baseline, kwargs["summary"], baseline_records=baseline_records,
                                   records=kwargs["records"])
    path = write_report(run_dir, **kwargs)
    return path, path.read_text(encoding="utf-8")




def write_run(out_dir: Path, run_id: str, finished_at: str, *, manifest="b" * 64,
              status="complete", seed=0, schema_version=SCHEMA_VERSION
              ) -> tuple[Path, RunSummary]:
    """A run folder; its ``summary.json`` written by this version (2) or by cam-audit 0.1."""
    run_dir = out_dir / run_id
    run_dir.mkdir(parents=True)
    records = make_records(12, seed=seed, methods=("gradcam", "scorecam"), hostile_file=False)
    options = dict(run_id=run_id, finished_at=finished_at, manifest_sha256=manifest)
    summary = make_summary(records, **options)
    if schema_version == 1:
        v1 = make_summary_v1(records, **options)
        assert v1["schema_version"] == 1
        (run_dir / "summary.json").write_text(json.dumps(v1))
    else:
        write_summary(run_dir / "summary.json", summary)
    records_to_frame(records).to_csv(run_dir / "records.csv", index=False)
    (run_dir / "report.html").write_text("<p>report</p>")
    if status:
        (run_dir / "status.json").write_text(json.dumps({"status": status}))
    return run_dir, summary
