"""How much the CAM methods agree, sample by sample, computed from the score records alone.

Maps are not stored, so agreement is measured on the scores the records hold: for every pair
of methods, the Spearman rank correlation across samples of their ``energy_in_box`` (maps of
the predicted class), and the share of misclassified samples on which both give the same
background-fixation verdict; and the samples on which the methods' ``energy_in_box`` spreads
the most.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd

from audit.cams.methods import ordered_methods
from audit.report.methods import is_counter_evidence

__all__ = ["method_agreement"]


def _spearman(x: np.ndarray, y: np.ndarray) -> float | None:
    if x.size < 3:
        return None
    rx = pd.Series(x).rank(method="average").to_numpy()
    ry = pd.Series(y).rank(method="average").to_numpy()
    if np.ptp(rx) == 0 or np.ptp(ry) == 0:
        return None  # a constant score has no ranking to agree with
    return float(np.corrcoef(rx, ry)[0, 1])


def method_agreement(records: pd.DataFrame, *, top: int = 10) -> dict:
    """Agreement between the methods of a run.

    Counter-evidence methods (negative evidence) are left out: they are meant to point
    elsewhere than the maps that explain the decision.

    Returns
    -------
    dict
        ``methods`` (compared, in registry order), ``excluded`` (present but left out),
        ``pairs``: one dict per pair with ``a``, ``b``, ``n`` (samples where both energies are
        defined),
        ``spearman`` (None below 3 samples or for a constant score), ``n_fixation``
        (misclassified samples where both fixation verdicts are defined), ``fixation_agreement``
        (share of those with the same verdict, or None); ``disagreements``: up to ``top``
        samples with the largest spread (max - min) of ``energy_in_box`` across methods, each
        with ``sample_id``, ``image``, ``label``, ``predicted``, ``correct``, ``energies``
        (method -> value or None) and ``spread``.
    """
    empty = {"methods": [], "excluded": [], "pairs": [], "disagreements": []}
    needed = {"sample_id", "method", "target", "energy_in_box", "background_fixation", "correct"}
    if records.empty or not needed <= set(records):
        return empty
    rows = records[records["target"].astype(str) == "predicted"]
    present = ordered_methods(rows["method"].dropna().unique())
    methods = [m for m in present if not is_counter_evidence(m)]
    excluded = [m for m in present if is_counter_evidence(m)]
    if not methods:
        return {**empty, "excluded": excluded}
    rows = rows[rows["method"].astype(str).isin(methods)].copy()
    rows["method"] = rows["method"].astype(str)
    rows["sample_id"] = rows["sample_id"].astype(str)
    rows = rows.drop_duplicates(["sample_id", "method"], keep="first")
    energy = rows.pivot(index="sample_id", columns="method", values="energy_in_box").astype(float)
    wrong = rows[~rows["correct"].astype(bool)]
    fixation = wrong.pivot(index="sample_id", columns="method",
                           values="background_fixation").astype(float)

    pairs = []
    for a, b in combinations(methods, 2):
        both = energy[[a, b]].dropna() if a in energy and b in energy else energy.iloc[:0]
        rho = _spearman(both[a].to_numpy(), both[b].to_numpy()) if len(both) else None
        if a in fixation and b in fixation:
            verdicts = fixation[[a, b]].dropna()
        else:
            verdicts = pd.DataFrame(columns=[a, b])
        agree = (
            float((verdicts[a] == verdicts[b]).mean()) if len(verdicts) else None
        )
        pairs.append({"a": a, "b": b, "n": int(len(both)), "spearman": rho,
                      "n_fixation": int(len(verdicts)), "fixation_agreement": agree})

    disagreements = []
    if len(methods) >= 2:
        defined = energy.notna().sum(axis=1)
        spread = (energy.max(axis=1) - energy.min(axis=1))[defined >= 2]
        spread = spread[spread > 0].sort_values(ascending=False, kind="mergesort")
        info = rows.drop_duplicates("sample_id").set_index("sample_id")
        for sample_id, value in spread.head(max(0, int(top))).items():
            row = info.loc[sample_id]
            disagreements.append({
                "sample_id": sample_id,
                "image": str(row.get("image", "")),
                "label": str(row.get("label", "")),
                "predicted": str(row.get("predicted", "")),
                "correct": bool(row.get("correct", False)),
                "energies": {
                    m: (None if pd.isna(energy.at[sample_id, m]) else
                        float(energy.at[sample_id, m]))
                    for m in methods if m in energy
                },
                "spread": float(value),
            })
    return {"methods": methods, "excluded": excluded, "pairs": pairs,
            "disagreements": disagreements}
