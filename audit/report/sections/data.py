"""Model and data: what was audited, the classes, and the samples that could not be."""

from __future__ import annotations

import pandas as pd

from audit.config import AuditConfig
from audit.report.format import NA, fmt_count, fmt_text
from audit.report.methods import method_title
from audit.summary import RunSummary

__all__ = ["MAX_SKIPPED_ROWS", "data_view"]

#: Rows of the skipped-samples table; the rest are counted.
MAX_SKIPPED_ROWS = 200
#: Reasons counted above the skipped-samples table.
MAX_SKIPPED_REASONS = 8


def _facts(summary: RunSummary, config: AuditConfig, methods: list[str]) -> list[tuple[str, str]]:
    provenance = summary.provenance
    channels = getattr(provenance, "scorecam_channels", None)
    facts = [
        ("Model file", fmt_text(provenance.model_path or str(config.model.path))),
        ("Explained layer", fmt_text(getattr(provenance, "layer", None)
                                     or config.model.layer or "automatic")),
        ("Dataset manifest", fmt_text(provenance.manifest_path or str(config.dataset.path))),
        ("Dataset format", fmt_text(config.dataset.format)),
        ("Samples audited", fmt_count(summary.n_samples)),
        ("Samples skipped", fmt_count(summary.n_skipped)),
        ("Boxes clipped to the image", fmt_count(summary.n_boxes_clipped)),
        ("CAM methods", ", ".join(method_title(m) for m in methods) or NA),
    ]
    if channels is not None:
        facts.append(("Score-CAM channels", fmt_text(channels)))
    return [(k, v) for k, v in facts if v != NA or k in ("Model file", "Samples audited")]


def data_view(summary: RunSummary, skipped: pd.DataFrame, config: AuditConfig,
              methods: list[str]) -> dict:
    """``facts`` (label, text), ``classes``, the first :data:`MAX_SKIPPED_ROWS` ``skipped``
    samples (``sample_id``, ``image``, ``reason``), ``skipped_total``, ``skipped_more`` and
    the most common ``skipped_reasons`` (the text before the first colon, with its count).

    ``config`` is the run's configuration (:class:`~audit.config.AuditConfig`): the model and
    dataset stand in where the provenance does not name them.
    """
    total = len(skipped)
    rows = [{c: fmt_text(row.get(c)) for c in ("sample_id", "image", "reason")}
            for _, row in skipped.head(MAX_SKIPPED_ROWS).iterrows()]
    reasons = []
    if total and "reason" in skipped:
        counted = skipped["reason"].astype(str).str.split(":").str[0].value_counts()
        reasons = [(str(k), int(v)) for k, v in counted.head(MAX_SKIPPED_REASONS).items()]
    return {
        "facts": _facts(summary, config, methods),
        "classes": list(summary.class_names),
        "skipped": rows,
        "skipped_total": total,
        "skipped_more": max(0, total - MAX_SKIPPED_ROWS),
        "skipped_reasons": reasons,
    }
