"""The settings the reading guide quotes, from the configuration the run used."""

from __future__ import annotations

from audit.config import AuditConfig
from audit.report.format import fmt_num, fmt_pct, fmt_text
from audit.summary import RunSummary

__all__ = ["guide_view"]


def guide_view(summary: RunSummary, config: AuditConfig) -> dict:
    """The fixation threshold, pointing tolerance, localisation threshold and minimum IoU,
    bootstrap resamples, the fewest samples a figure is judged on (``config.metrics``) and
    the explained layer, as text."""
    metrics = config.metrics
    layer = (getattr(summary.provenance, "layer", None) or config.model.layer
             or "the last convolutional layer")
    return {
        "threshold": fmt_num(metrics.fixation_enrichment_below, 2),
        "tolerance": fmt_num(metrics.pointing_tolerance_px, 0),
        "loc_threshold": fmt_pct(metrics.loc_threshold, 0),
        "loc_min_iou": fmt_num(metrics.loc_min_iou, 2),
        "resamples": fmt_text(metrics.bootstrap_resamples),
        "min_n": fmt_text(summary.min_n if summary.min_n is not None else metrics.min_n),
        "layer": fmt_text(layer),
    }
