"""Provenance: every entry the run recorded about where its figures come from."""

from __future__ import annotations

from audit.report.format import fmt_duration, fmt_text, fmt_time
from audit.summary import RunSummary

__all__ = ["provenance_rows"]

# Labels of the known entries, in display order; others follow in recorded order, labelled by
# their key with underscores as spaces.
_LABELS = {
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

_MONO = ("model_path", "manifest_path")


def _text(key: str, value) -> str:
    if key == "duration_s":
        return fmt_duration(value)
    if key in ("started_at", "finished_at"):
        return fmt_time(value)
    return fmt_text(value)


def provenance_rows(summary: RunSummary) -> list[tuple[str, str, bool]]:
    """(label, text, monospaced) for every provenance entry the run recorded (a recorded
    ``null`` shows as n/a; an entry never recorded is left out), then the results schema."""
    recorded = summary.provenance.model_dump(exclude_unset=True)
    keys = [k for k in _LABELS if k in recorded] + [k for k in recorded if k not in _LABELS]
    rows = [(_LABELS.get(k, k.replace("_", " ")), _text(k, recorded[k]),
             "sha256" in k or k in _MONO) for k in keys]
    rows.append(("Results schema", fmt_text(summary.schema_version), False))
    return rows
