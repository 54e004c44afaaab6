"""The audit report: one self-contained HTML file a reviewer signs and an archive keeps.

:func:`write_report` turns the run's summary, records, skipped samples, gallery and config into
a view of plain, already formatted values and renders ``templates/report.html.j2`` with
autoescaping on. Styles are inline, images are ``data:`` URIs built here from PNG bytes, and a
Content-Security-Policy forbids every fetch, so the file reads the same offline, years later.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
from pathlib import Path

import pandas as pd

from audit.io import atomic_write_text
from audit.report import plots
from audit.report.agreement import method_agreement
from audit.report.figures import (
    REGRESSION_RULE,
    UNDIRECTED_METHODS,
    compare_figures,
    ordered_methods,
)
from audit.report.gallery import GalleryItem
from audit.report.templating import (
    NA,
    compact_png,
    data_uri,
    fmt_ci,
    fmt_count,
    fmt_delta,
    fmt_num,
    fmt_pct,
    fmt_time,
    is_number,
    render,
)

__all__ = ["MAX_SKIPPED_ROWS", "build_context", "change_rows", "method_title", "write_report"]

#: Rows of the skipped-samples table; the rest are counted.
MAX_SKIPPED_ROWS = 200
#: Rows of the per-class table; the rest are counted.
MAX_CLASS_ROWS = 200

_METHOD_TITLES = {
    "gradcam": "Grad-CAM",
    "gradcam++": "Grad-CAM++",
    "scorecam": "Score-CAM",
    "negative": "Negative evidence",
}

# (score, label, kind): the rows of each method's localisation table.
_SCORE_ROWS = (
    ("energy_in_box", "Energy in box", "pct"),
    ("enrichment", "Enrichment (1 = chance)", "num"),
    ("pointing_hit", "Pointing game hit", "pct"),
    ("loc_iou", "Localisation IoU", "num"),
    ("loc_correct", "Localisation correct (IoU ≥ 0.5)", "pct"),
)

_PROVENANCE_LABELS = {
    "run_id": "Run id",
    "pipeline": "Pipeline",
    "model_path": "Model file",
    "model_sha256": "Model SHA-256",
    "manifest_path": "Dataset manifest",
    "manifest_sha256": "Manifest SHA-256",
    "n_images": "Images in manifest",
    "layer": "Explained layer",
    "scorecam_channels": "Score-CAM channels",
    "seed": "Seed",
    "started_at": "Started",
    "finished_at": "Finished",
    "duration_s": "Duration",
    "cam_audit": "cam-audit",
    "python": "Python",
    "tensorflow": "TensorFlow",
    "keras": "Keras",
    "platform": "Platform",
    "host": "Host",
}


def method_title(method: str) -> str:
    """``"gradcam"`` -> ``"Grad-CAM"``; unknown methods as they are."""
    return _METHOD_TITLES.get(str(method), str(method))


def _get(mapping, *path, default=None):
    for part in path:
        if not isinstance(mapping, dict) or part not in mapping:
            return default
        mapping = mapping[part]
    return mapping


def _number(value) -> float | None:
    return float(value) if is_number(value) else None


def _interval(ci):
    if isinstance(ci, list | tuple) and len(ci) == 2 and all(is_number(v) for v in ci):
        return float(ci[0]), float(ci[1])
    return None


def _text(value) -> str:
    """Any value as display text (escaping is the template's job)."""
    if value is None:
        return NA
    if isinstance(value, float) and not math.isfinite(value):
        return NA
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.6g}"
    if isinstance(value, dict | list | tuple):
        try:
            return json.dumps(value, default=str, ensure_ascii=False)
        except (TypeError, ValueError):
            return str(value)
    return str(value)


def _gate_number(value) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if is_number(value):
        return f"{float(value):.4g}"
    return _text(value)


def _stat_cell(stat, kind: str) -> dict:
    stat = stat if isinstance(stat, dict) else {}
    mean = _number(stat.get("mean"))
    return {
        "mean": fmt_pct(mean) if kind == "pct" else fmt_num(mean, 3),
        "ci": fmt_ci(stat.get("ci"), kind),
        "n": fmt_count(stat.get("n")),
        "n_nan": fmt_count(stat.get("n_nan")) if is_number(stat.get("n_nan")) else "",
        "defined": mean is not None,
    }


def _duration(seconds) -> str:
    if not is_number(seconds):
        return _text(seconds)
    seconds = float(seconds)
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    words = f"{hours} h {minutes} min" if hours else f"{minutes} min {rest} s"
    return f"{seconds:,.0f} s ({words})"


# --- Sections ---------------------------------------------------------------------------------


def _verdict(summary: dict) -> dict:
    gates = summary.get("gates")
    rows = []
    if isinstance(gates, dict):
        for name, gate in gates.items():
            gate = gate if isinstance(gate, dict) else {"value": gate}
            rows.append({
                "name": str(name),
                "value": _gate_number(gate.get("value")),
                "threshold": _gate_number(gate.get("threshold")),
                "passed": gate.get("passed") is True,
                "reason": _text(gate.get("reason")) if gate.get("reason") is not None else "",
            })
    passed = summary.get("passed")
    if passed is True:
        state, label = "passed", "PASSED"
    elif passed is False:
        state, label = "failed", "FAILED"
    else:
        state, label = "none", "NO VERDICT"
    n_failed = sum(not r["passed"] for r in rows)
    if not rows:
        line = "No gates configured."
    elif n_failed:
        line = f"{n_failed} of {len(rows)} gate{'s' if len(rows) != 1 else ''} failed."
    else:
        line = f"All {len(rows)} gate{'s' if len(rows) != 1 else ''} passed."
    return {"state": state, "label": label, "line": line, "gates": rows}


def _glance(summary: dict, methods: list[str], fixation_limit) -> dict:
    centre = _number(_get(summary, "centre_baseline", "mean"))
    centre_ci = _interval(_get(summary, "centre_baseline", "ci"))
    rows = []
    for method in methods:
        data = _get(summary, "methods", method, default={}) or {}
        fixation = data.get("background_fixation") if isinstance(data, dict) else None
        pointing = _number(data.get("pointing_accuracy"))
        pointing_ci = _interval(_get(data, "pointing_hit", "all", "ci"))
        beats_centre = None
        if pointing is not None and centre is not None:
            low = pointing_ci[0] if pointing_ci else pointing
            high = centre_ci[1] if centre_ci else centre
            beats_centre = "above" if low > high else ("below" if pointing < centre else "level")
        n_maps = data.get("n_maps")
        n_degenerate = data.get("n_degenerate")
        rows.append({
            "method": method,
            "title": method_title(method),
            "undirected": method in UNDIRECTED_METHODS,
            "fixation_rate": fmt_pct(data.get("background_fixation_rate")),
            "fixation_count": (
                f"{fmt_count(_get(fixation, 'count'))} of {fmt_count(_get(fixation, 'n'))}"
                if is_number(_get(fixation, "n")) else ""
            ),
            # Red only against the configured gate, never against a made-up threshold.
            "fixation_high": is_number(fixation_limit)
            and (_number(data.get("background_fixation_rate")) or 0) > fixation_limit,
            "energy_correct": fmt_pct(_get(data, "energy_in_box", "correct", "mean")),
            "energy_misclassified": fmt_pct(_get(data, "energy_in_box", "misclassified", "mean")),
            "pointing": fmt_pct(pointing),
            "beats_centre": beats_centre,
            "localization": fmt_pct(data.get("localization_accuracy")),
            "degenerate": f"{fmt_count(n_degenerate)} of {fmt_count(n_maps)}",
            "degenerate_any": is_number(n_degenerate) and n_degenerate > 0,
        })
    n_samples = summary.get("n_samples")
    n_wrong = sum(
        int(c.get("n_misclassified") or 0)
        for c in (summary.get("per_class") or {}).values() if isinstance(c, dict)
    ) if isinstance(summary.get("per_class"), dict) else None
    return {
        "accuracy": fmt_pct(summary.get("accuracy")),
        "accuracy_ci": fmt_ci(summary.get("accuracy_ci"), "pct"),
        "n_samples": fmt_count(n_samples),
        "n_misclassified": fmt_count(n_wrong),
        "n_skipped": fmt_count(summary.get("n_skipped", 0)),
        "n_classes": fmt_count(len(summary.get("class_names") or [])),
        "centre": fmt_pct(centre),
        "rows": rows,
    }


def change_rows(changes) -> list[dict]:
    """Key-figure changes as table rows; ``first`` marks the first row of a method's group."""
    rows, previous = [], object()
    for change in changes:
        rows.append({
            "method": method_title(change.method) if change.method else "",
            "first": change.method != previous,
            "label": change.label,
            "a": fmt_pct(change.a) if change.kind == "pct" else fmt_num(change.a),
            "b": fmt_pct(change.b) if change.kind == "pct" else fmt_num(change.b),
            "delta": fmt_delta(change.delta, change.kind),
            "margin": fmt_delta(change.margin, change.kind).lstrip("+"),
            "rule": "interval" if change.rule == "interval" else "± 0.02",
            "status": change.status,
        })
        previous = change.method
    return rows


def _baseline(summary: dict, baseline: dict | None) -> dict | None:
    if not isinstance(baseline, dict):
        return None
    rows = change_rows(compare_figures(baseline, summary))
    provenance = baseline.get("provenance") if isinstance(baseline.get("provenance"), dict) else {}
    same_model = (
        provenance.get("model_sha256") is not None
        and provenance.get("model_sha256") == _get(summary, "provenance", "model_sha256")
    )
    return {
        "run_id": _text(baseline.get("run_id") or provenance.get("run_id")),
        "finished_at": fmt_time(provenance.get("finished_at")),
        "model": _text(provenance.get("model_path")),
        "same_model": same_model,
        "passed": baseline.get("passed"),
        "rows": rows,
        "n_regressions": sum(r["status"] == "regression" for r in rows),
        "n_improvements": sum(r["status"] == "improvement" for r in rows),
        "rule": REGRESSION_RULE,
    }


def _model_and_data(summary, skipped, config, methods) -> dict:
    provenance = summary.get("provenance") if isinstance(summary.get("provenance"), dict) else {}
    model_path = provenance.get("model_path") or _get(config, "model", "path")
    layer = provenance.get("layer") or _get(config, "model", "layer") or "automatic"
    manifest = provenance.get("manifest_path") or _get(config, "dataset", "path")
    facts = [
        ("Model file", _text(model_path)),
        ("Explained layer", _text(layer)),
        ("Dataset manifest", _text(manifest)),
        ("Dataset format", _text(_get(config, "dataset", "format"))),
        ("Samples audited", fmt_count(summary.get("n_samples"))),
        ("Samples skipped", fmt_count(summary.get("n_skipped", 0))),
        ("Boxes clipped to the image", fmt_count(summary.get("n_boxes_clipped", 0))),
        ("CAM methods", ", ".join(method_title(m) for m in methods) or NA),
    ]
    if provenance.get("scorecam_channels") is not None:
        facts.append(("Score-CAM channels", _text(provenance.get("scorecam_channels"))))
    facts = [(k, v) for k, v in facts if v != NA or k in ("Model file", "Samples audited")]

    rows, total = [], 0
    if isinstance(skipped, pd.DataFrame) and not skipped.empty:
        total = len(skipped)
        for _, row in skipped.head(MAX_SKIPPED_ROWS).iterrows():
            rows.append({c: _text(row.get(c)) for c in ("sample_id", "image", "reason")})
    reasons = []
    if isinstance(skipped, pd.DataFrame) and "reason" in skipped and total:
        counted = skipped["reason"].astype(str).str.split(":").str[0].value_counts()
        reasons = [(str(k), int(v)) for k, v in counted.head(8).items()]
    return {
        "facts": facts,
        "classes": [str(c) for c in summary.get("class_names") or []],
        "skipped": rows,
        "skipped_total": total,
        "skipped_more": max(0, total - MAX_SKIPPED_ROWS),
        "skipped_reasons": reasons,
    }


def _accuracy(summary, methods) -> dict:
    per_class = summary.get("per_class") if isinstance(summary.get("per_class"), dict) else {}
    rows = []
    for name, data in list(per_class.items())[:MAX_CLASS_ROWS]:
        data = data if isinstance(data, dict) else {}
        rates = data.get("background_fixation_rate") or {}
        rows.append({
            "name": str(name),
            "n": fmt_count(data.get("n")),
            "accuracy": fmt_pct(data.get("accuracy")),
            "accuracy_value": _number(data.get("accuracy")),
            "n_misclassified": fmt_count(data.get("n_misclassified")),
            "rates": [fmt_pct(rates.get(m)) if isinstance(rates, dict) else NA
                      for m in methods],
        })
    matrix = summary.get("confusion_matrix") or {}
    png = None
    if isinstance(matrix, dict):
        png = plots.confusion_matrix_png(list(matrix.get("labels") or []), matrix.get("matrix"))
    return {
        "overall": fmt_pct(summary.get("accuracy")),
        "ci": fmt_ci(summary.get("accuracy_ci"), "pct"),
        "n": fmt_count(summary.get("n_samples")),
        "per_class": rows,
        "per_class_more": max(0, len(per_class) - MAX_CLASS_ROWS),
        "confusion": data_uri(png),
        # Beyond a handful of classes the matrix needs the full width, under the table.
        "stacked": len(per_class) > 8,
        "annotated": len(per_class) <= 25,
    }


def _localisation(summary, records, methods) -> dict:
    blocks = []
    any_box = False
    for method in methods:
        data = _get(summary, "methods", method, default={}) or {}
        rows = []
        for score, label, kind in _SCORE_ROWS:
            stats = data.get(score) if isinstance(data.get(score), dict) else {}
            cells = [_stat_cell(stats.get(split), kind)
                     for split in ("all", "correct", "misclassified")]
            any_box = any_box or any(c["defined"] for c in cells)
            rows.append({"label": label, "cells": cells})
        true_rows = []
        for score, label, kind in _SCORE_ROWS[:2]:
            true_rows.append({
                "label": label,
                "predicted": _stat_cell(_get(data, score, "misclassified"), kind),
                "true": _stat_cell(_get(data, "true_class", score), kind),
            })
        n_maps, n_degenerate = data.get("n_maps"), data.get("n_degenerate")
        blocks.append({
            "method": method,
            "title": method_title(method),
            "undirected": method in UNDIRECTED_METHODS,
            "rows": rows,
            "true_rows": true_rows,
            "pointing": fmt_pct(data.get("pointing_accuracy")),
            "localization": fmt_pct(data.get("localization_accuracy")),
            "n_maps": fmt_count(n_maps),
            "n_degenerate": fmt_count(n_degenerate),
            "all_degenerate": is_number(n_maps) and n_maps > 0 and n_degenerate == n_maps,
        })
    centre_mean = _number(_get(summary, "centre_baseline", "mean"))
    centre_ci = _interval(_get(summary, "centre_baseline", "ci"))
    pointing_rows = [
        (method_title(m), _number(_get(summary, "methods", m, "pointing_accuracy")),
         _interval(_get(summary, "methods", m, "pointing_hit", "all", "ci")))
        for m in methods if m not in UNDIRECTED_METHODS
    ]
    return {
        "blocks": blocks,
        "any_box": any_box,
        "centre": _stat_cell(summary.get("centre_baseline"), "pct"),
        "energy_plot": data_uri(plots.energy_distribution_png(
            records, methods=methods, titles={m: method_title(m) for m in methods})),
        "pointing_plot": data_uri(plots.pointing_png(pointing_rows, centre_mean, centre_ci)),
    }


def _fixation(summary, methods, threshold) -> dict:
    rows, rates = [], []
    for method in methods:
        data = _get(summary, "methods", method, default={}) or {}
        stat = data.get("background_fixation") if isinstance(data, dict) else None
        rate = _number(data.get("background_fixation_rate"))
        rows.append({
            "method": method,
            "title": method_title(method),
            "undirected": method in UNDIRECTED_METHODS,
            "rate": fmt_pct(rate),
            "ci": fmt_ci(_get(stat, "ci"), "pct"),
            "count": fmt_count(_get(stat, "count")),
            "n": fmt_count(_get(stat, "n")),
        })
        if method not in UNDIRECTED_METHODS:
            rates.append((method_title(method), rate, _interval(_get(stat, "ci"))))
    n_wrong = sum(
        int(_get(c, "n_misclassified") or 0) for c in (summary.get("per_class") or {}).values()
    ) if isinstance(summary.get("per_class"), dict) else 0
    return {
        "rows": rows,
        "plot": data_uri(plots.fixation_rates_png(rates)),
        "n_misclassified": n_wrong,
        "threshold": fmt_num(threshold, 2) if is_number(threshold) else "1.00",
    }


_FIGURE_LABELS = {
    "energy_in_box": ("in box", "pct"),
    "enrichment": ("enrichment", "num2"),
    "pointing_hit": ("pointing hit", "pct"),
    "loc_iou": ("loc. IoU", "num2"),
    "confidence": ("confidence", "pct"),
}


def _figure_text(name, value) -> tuple[str, str]:
    label, kind = _FIGURE_LABELS.get(str(name), (str(name).replace("_", " "), "num2"))
    if kind == "pct":
        return label, fmt_pct(value, 0)
    return label, fmt_num(value, 2)


#: Longest side of a gallery picture in the report: twice its displayed size, sharp in print.
PANEL_MAX_SIDE = 300


def _thumbnail(data) -> bytes | None:
    """A gallery picture shrunk to :data:`PANEL_MAX_SIDE` and palette-compressed, or None
    when the bytes are not an image Pillow decodes (the report then says "no picture")."""
    return compact_png(data, max_side=PANEL_MAX_SIDE, dither=True)


def _panel(panel) -> dict:
    figures = getattr(panel, "figures", None)
    figures = figures if isinstance(figures, dict) else {}
    return {
        "title": _text(getattr(panel, "title", "")),
        "uri": data_uri(_thumbnail(getattr(panel, "png", None))),
        "figures": [_figure_text(k, v) for k, v in figures.items()],
    }


_TARGET_ORDER = ("predicted", "true", "negative")


def _gallery(items) -> dict:
    items = [i for i in (items or []) if isinstance(i, GalleryItem)]
    targets_seen = []
    for item in items:
        for panel in item.panels:
            if panel.method is not None and panel.target not in targets_seen:
                targets_seen.append(panel.target)
    columns = [t for t in _TARGET_ORDER if t in targets_seen]
    columns += [t for t in targets_seen if t not in _TARGET_ORDER]
    views = []
    for item in items:
        image_panels = [p for p in item.panels if p.method is None]
        by_method: dict[str, dict] = {}
        for panel in item.panels:
            if panel.method is None:
                continue
            cells = by_method.setdefault(str(panel.method), {})
            cells.setdefault(panel.target, panel)
        rows = [
            {"method": method_title(m),
             "cells": [_panel(by_method[m][t]) if t in by_method[m] else None for t in columns]}
            for m in ordered_methods(by_method)
        ]
        views.append({
            "sample_id": _text(item.sample_id),
            "image_path": _text(item.image),
            "label": _text(item.label),
            "predicted": _text(item.predicted),
            "confidence": fmt_pct(item.confidence, 0),
            "background": fmt_pct(item.background_energy, 0),
            "image": _panel(image_panels[0]) if image_panels else None,
            "rows": rows,
        })
    headers = {
        "predicted": "map of the predicted class",
        "true": "map of the true class",
        "negative": "negative evidence",
    }
    return {"entries": views, "columns": [headers.get(str(c), _text(c)) for c in columns]}


def _agreement(records) -> dict:
    result = method_agreement(records)
    pairs = [{
        "a": method_title(p["a"]),
        "b": method_title(p["b"]),
        "n": fmt_count(p["n"]),
        "spearman": fmt_num(p["spearman"], 2),
        "spearman_value": p["spearman"],
        "n_fixation": fmt_count(p["n_fixation"]),
        "fixation_agreement": fmt_pct(p["fixation_agreement"], 0),
    } for p in result["pairs"]]
    rows = [{
        "sample_id": d["sample_id"],
        "image": d["image"],
        "outcome": (f"{d['label']} ✓" if d["correct"] else f"{d['label']} → {d['predicted']}"),
        "correct": d["correct"],
        "energies": [fmt_pct(d["energies"].get(m), 0) for m in result["methods"]],
        "spread": fmt_pct(d["spread"], 0),
    } for d in result["disagreements"]]
    return {
        "methods": [method_title(m) for m in result["methods"]],
        "excluded": [method_title(m) for m in result["excluded"]],
        "pairs": pairs,
        "disagreements": rows,
    }


def _provenance(summary) -> list[tuple[str, str, bool]]:
    provenance = summary.get("provenance")
    if not isinstance(provenance, dict):
        return []
    keys = [k for k in _PROVENANCE_LABELS if k in provenance]
    keys += [k for k in provenance if k not in _PROVENANCE_LABELS]
    rows = []
    for key in keys:
        value = provenance[key]
        if key == "duration_s":
            text = _duration(value)
        elif key in ("started_at", "finished_at") and isinstance(value, str):
            text = fmt_time(value)
        else:
            text = _text(value)
        label = _PROVENANCE_LABELS.get(key, str(key).replace("_", " "))
        rows.append((label, text, "sha256" in str(key) or key in ("model_path", "manifest_path")))
    if "schema_version" in summary:
        rows.append(("Results schema", _text(summary.get("schema_version")), False))
    return rows


def _plain(value):
    """Config values as plain YAML-safe data (paths and unknown objects as text)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    return str(value)


def _config_yaml(config) -> str:
    if not config:
        return "# no configuration recorded"
    import yaml

    try:
        return yaml.safe_dump(_plain(config), sort_keys=False, allow_unicode=True,
                              default_flow_style=False, width=100)
    except yaml.YAMLError as error:  # pragma: no cover - _plain leaves only safe types
        return f"# could not render the configuration: {error}"


# --- Entry point ------------------------------------------------------------------------------


def build_context(*, summary: dict, records: pd.DataFrame | None, skipped: pd.DataFrame | None,
                  gallery: list[GalleryItem] | None, config: dict | None,
                  baseline: dict | None = None) -> dict:
    """Everything the report template shows, formatted (exposed for tests and other renderers)."""
    import audit

    summary = summary if isinstance(summary, dict) else {}
    config = config if isinstance(config, dict) else {}
    if not isinstance(records, pd.DataFrame):
        records = pd.DataFrame()
    provenance = summary.get("provenance") if isinstance(summary.get("provenance"), dict) else {}
    method_names = list((summary.get("methods") or {}).keys())
    if not method_names and "method" in records:
        method_names = records["method"].dropna().astype(str).unique().tolist()
    methods = ordered_methods(method_names)
    threshold = _get(config, "metrics", "fixation_enrichment_below", default=1.0)
    tolerance = _get(config, "metrics", "pointing_tolerance_px", default=15.0)
    loc_threshold = _get(config, "metrics", "loc_threshold", default=0.15)
    loc_min_iou = _get(config, "metrics", "loc_min_iou", default=0.5)
    run_id = summary.get("run_id") or provenance.get("run_id")
    finished = provenance.get("finished_at")
    generated = _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    return {
        "run_id": _text(run_id) if run_id else "unnamed run",
        "run_name": _text(summary.get("run_name") or config.get("run_name") or ""),
        "finished_at": fmt_time(finished) if finished else "",
        "generated": generated,
        "version": getattr(audit, "__version__", ""),
        "model_name": _text(provenance.get("model_path") or _get(config, "model", "path")),
        "verdict": _verdict(summary),
        "glance": _glance(summary, methods,
                          _get(config, "gates", "max_background_fixation_rate")),
        "baseline": _baseline(summary, baseline),
        "data": _model_and_data(summary, skipped, config, methods),
        "accuracy": _accuracy(summary, [m for m in methods]),
        "methods": [{"name": m, "title": method_title(m)} for m in methods],
        "localisation": _localisation(summary, records, methods),
        "fixation": _fixation(summary, methods, threshold),
        "gallery": _gallery(gallery),
        "agreement": _agreement(records),
        "guide": {
            "threshold": fmt_num(threshold, 2) if is_number(threshold) else "1.00",
            "tolerance": fmt_num(tolerance, 0) if is_number(tolerance) else "15",
            "loc_threshold": fmt_pct(loc_threshold, 0) if is_number(loc_threshold) else "15%",
            "loc_min_iou": fmt_num(loc_min_iou, 2) if is_number(loc_min_iou) else "0.50",
            "resamples": _text(_get(config, "metrics", "bootstrap_resamples", default=1000)),
            "layer": _text(provenance.get("layer") or _get(config, "model", "layer")
                           or "the last convolutional layer"),
        },
        "provenance": _provenance(summary),
        "config_yaml": _config_yaml(config),
    }


def write_report(run_dir, *, summary: dict, records: pd.DataFrame, skipped: pd.DataFrame,
                 gallery: list[GalleryItem], config: dict, baseline: dict | None = None) -> Path:
    """Render the audit report of a run to ``run_dir/report.html`` (atomically).

    Parameters
    ----------
    run_dir : path
        The run folder; created if missing.
    summary : dict
        The run's ``summary.json`` content (see ``docs/results-schema.md``), with ``gates``,
        ``passed`` and ``provenance`` filled in. Missing parts show as "n/a".
    records : pandas.DataFrame
        The score records (``records.csv``), for the distributions and method agreement.
    skipped : pandas.DataFrame
        ``sample_id, image, reason`` of every sample that could not be audited.
    gallery : list of GalleryItem
        Misclassified samples with their maps, for the background-fixation gallery.
    config : dict
        The resolved configuration as run; shown as YAML.
    baseline : dict or None
        The ``summary.json`` of a previous run on the same dataset: key figures are compared
        and regressions flagged (see :data:`audit.report.figures.REGRESSION_RULE`).

    Returns
    -------
    pathlib.Path
        The path of ``report.html``.
    """
    context = build_context(summary=summary, records=records, skipped=skipped, gallery=gallery,
                            config=config, baseline=baseline)
    html = render("report.html.j2", **context)
    return atomic_write_text(Path(run_dir) / "report.html", html)
