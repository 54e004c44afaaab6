"""Method agreement: whether the methods rank samples alike and reach the same fixation
verdicts (computed by :func:`audit.report.agreement.method_agreement`)."""

from __future__ import annotations

import pandas as pd

from audit.report.agreement import method_agreement
from audit.report.format import fmt_count, fmt_num, fmt_pct
from audit.report.methods import method_title

__all__ = ["agreement_view"]


def agreement_view(records: pd.DataFrame) -> dict:
    """The compared ``methods`` and the ``excluded`` ones (titles), a row per pair and the
    samples on which the methods disagree most."""
    result = method_agreement(records)
    pairs = [{
        "a": method_title(p["a"]),
        "b": method_title(p["b"]),
        "n": fmt_count(p["n"]),
        "spearman": fmt_num(p["spearman"], 2),
        "n_fixation": fmt_count(p["n_fixation"]),
        "fixation_agreement": fmt_pct(p["fixation_agreement"], 0),
    } for p in result["pairs"]]
    rows = [{
        "sample_id": d["sample_id"],
        "image": d["image"],
        "outcome": f"{d['label']} ✓" if d["correct"] else f"{d['label']} → {d['predicted']}",
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
