"""Warnings a reader must see before the figures: how the run could be unsafe or incomplete."""

from __future__ import annotations

from audit.summary import RunSummary

__all__ = ["warnings_view"]


def warnings_view(summary: RunSummary) -> list[str]:
    """Plain sentences, most serious first; empty when there is nothing to warn about."""
    out = []
    if summary.provenance.safe_mode is False:
        out.append("The model was loaded with model.safe_mode: false. Its file can run "
                   "arbitrary Python code (Lambda layers) on every machine that loads it: "
                   "audit only model files whose origin you trust.")
    return out
