"""``cam-audit validate``: a configuration checked end to end before a run, and what the run
will cost (:mod:`audit.app.cost`). The command line prints what it returns."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from audit.analysis.slices import extract_slice_keys
from audit.app.cost import format_cost, stage_costs
from audit.app.engines import make_engine, runner_name
from audit.app.run import load_audit_pipeline
from audit.config import AuditConfig, load_config
from audit.pipeline import Pipeline
from audit.stages.load_dataset import load_dataset
from audit.stages.load_model import load_model, require_single_label

__all__ = ["cost_lines", "validate"]


def validate(config_path) -> list[str]:
    """Check a configuration as ``cam-audit validate`` does: load it, its pipeline, the
    engine's options, the model and the dataset (and the slices' columns), and estimate the
    run's cost from one timed batch. Returns the lines to print.

    Raises
    ------
    AuditError, PipelineError
        What is wrong, naming the file, key or sample.
    """
    lines: list[str] = []
    config = load_config(config_path)
    pipeline = load_audit_pipeline(config.pipeline)
    make_engine(config)  # Beam installed, and its options accepted
    if config.demo is not None and not Path(config.model.path).exists():
        return [f"config ok; the demo model '{config.model.path}' will be built on first run"]
    explainer, class_names, info = load_model(config.model, config.cams)
    for stage in pipeline.stages:  # a multi-label model in a pipeline it cannot run: say so now
        if stage.name in ("behaviour", "faithfulness", "sanity"):
            require_single_label(info, stage.name)
    manifest, batches = load_dataset(config.dataset, config.cams, class_names, info)
    if config.slices:
        extract_slice_keys(manifest, config.slices)  # a missing column is an error here too
    lines.append(f"config ok: {config_path}")
    lines.append(f"pipeline: {pipeline.name} ({', '.join(s.name for s in pipeline.stages)})")
    lines.append(f"model: {config.model.path} (input {info.input_size[0]}x"
                 f"{info.input_size[1]}x{info.channels}, {len(class_names)} classes, "
                 f"head {info.head}" + (", multi-label" if info.multilabel else "") + ")")
    lines.append(f"layer: {info.layer} ({info.layer_channels} channels)")
    engine = config.engine + (f" ({runner_name(config.beam.options)})"
                              if config.engine == "beam" else "")
    lines.append(f"engine: {engine}")
    lines.append(f"dataset: {config.dataset.path} ({config.dataset.format}): "
                 f"{len(manifest.samples)} samples in {len(batches)} batches, "
                 f"{len(manifest.skipped)} skipped entries")
    for skipped in manifest.skipped[:10]:
        lines.append(f"  skipped {skipped.sample_id}: {skipped.reason}")
    lines += cost_lines(config, pipeline, explainer, info, batches)
    return lines


def cost_lines(config: AuditConfig, pipeline: Pipeline, explainer, info, batches
               ) -> list[str]:
    """The run's cost in forward passes per stage, and a time estimate from the first batch
    (with warnings when Score-CAM weighs every channel of a wide layer, or the run is long)."""
    seconds_per_pass, error_rate = None, 0.5
    first = batches.load(batches.specs[0]) if len(batches) else None
    if first is not None and len(first):
        explainer.predict(first.images[:1])  # trace once, outside the timing
        start = time.perf_counter()
        predicted = explainer.predict(first.images).predicted
        seconds_per_pass = (time.perf_counter() - start) / len(first)
        labels = np.array([s.label for s in first.samples])
        error_rate = float(np.mean(predicted != labels))
    n = sum(len(spec.samples) for spec in batches.specs)
    costs = stage_costs(config, pipeline.stages, n_samples=n,
                        layer_channels=info.layer_channels, error_rate=error_rate)
    lines, costly = format_cost(costs, n_samples=n, seconds_per_pass=seconds_per_pass)
    if config.cams.scorecam_channels is None and info.layer_channels > 256 and any(
            s.name == "explain" for s in pipeline.stages) and "scorecam" in config.cams.methods:
        lines.append(f"warning: Score-CAM weighs all {info.layer_channels} channels of "
                     f"'{info.layer}': {info.layer_channels} masked forward passes per map. "
                     "The default cams.scorecam_max_channels (top channels by spatial "
                     "variance) is close to the exact maps at a fraction of the cost "
                     "(docs/benchmarks.md).")
    if costly:
        lines.append("warning: this audit is long. What costs most is in the table above: "
                     "lower cams.scorecam_max_channels, faithfulness.max_samples or "
                     "faithfulness.steps, or run the quick pipeline (--pipeline quick.yaml) "
                     "for a first look.")
    return lines
