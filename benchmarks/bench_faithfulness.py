"""Samples and forward passes needed to decide faithfulness on the demo: the old rule
(separate 95% intervals of the method and one random map that must not overlap) against the
paired, sequential rule (per-image differences against K = 4 random maps, signed-rank,
intersection-union, Holm, looks at 16, 32, 64, 128, 256).

Run: ``python -m benchmarks.bench_faithfulness MODEL.keras [MODEL.keras ...]`` (the demo's
``config.yaml`` settings: 16 steps, the zero substrate, Grad-CAM, Grad-CAM++, Score-CAM).
It measures every map on the first 256 samples of the stage's seeded order once, then
replays both rules on prefixes of that order.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

from audit.analysis.aggregate import sub_seed
from audit.analysis.evidence import method_differences
from audit.config import parse_config
from audit.datasets import load_manifest
from audit.evidence import look_levels, looks
from audit.evidence.outcomes import decide_sequentially
from audit.metrics import describe
from audit.stages.faithfulness import faithfulness
from audit.stages.load_model import load_model
from audit.stages.reload import reload

ROOT = Path(__file__).resolve().parents[1]
METHODS = ["gradcam", "gradcam++", "scorecam"]
CAP = 256


def _old_rule(rows: pd.DataFrame, ids: list[str], method: str, seed: int) -> bool:
    """Faithful by the old rule on these samples: the method's deletion interval below the
    (single) random map's and its insertion interval above, intervals apart."""
    part = rows[rows["sample_id"].isin(ids)]
    own = part[part["map"] == method]
    random = part[(part["map"] == "random") & (part["replicate"] == 0)]

    def ci(frame, column, name):
        return describe(frame[column].to_numpy(np.float64), seed=sub_seed(seed, name),
                        n_resamples=1000)["ci"]

    d, rd = ci(own, "deletion_auc", f"{method}.d"), ci(random, "deletion_auc", "random.d")
    i, ri = ci(own, "insertion_auc", f"{method}.i"), ci(random, "insertion_auc", "random.i")
    return d[1] < rd[0] and i[0] > ri[1]


def main(paths: list[str]) -> None:
    for path in paths:
        config = parse_config({
            "model": {"path": path, "class_names": ["circle", "square", "triangle"]},
            "dataset": {"path": str(ROOT / "data/demo/audit/manifest.csv")},
            "cams": {"methods": METHODS, "batch_size": 32, "scorecam_max_channels": "all"},
            "faithfulness": {"max_samples": CAP, "steps": 16, "substrate": "zero",
                             "sequential": False},
        }, base_dir=ROOT)
        explainer, classes, info = load_model(config.model, config.cams)
        manifest = load_manifest("csv", config.dataset.path, class_names=classes)
        records = []
        for batch in reload([s.sample_id for s in manifest.samples], manifest=manifest,
                            model_info=info, batch_size=64):
            predicted = explainer.predict(batch.images).predicted
            records += [{"sample_id": s.sample_id, "correct": bool(p == s.label),
                         "predicted_index": int(p)}
                        for s, p in zip(batch.samples, predicted, strict=True)]
        result = faithfulness(config.faithfulness, config.cams, config.metrics, config.seed,
                              pd.DataFrame(records), manifest, explainer, info)
        order = list(result.sample_ids)
        rows = result.rows
        print(f"== {path}: {len(order)} samples measured")
        for n in looks(CAP):
            ids = order[:n]
            old = {m: _old_rule(rows, ids, m, config.seed) for m in METHODS}
            print(f"old rule at n={n}: " + ", ".join(
                f"{m} {'faithful' if v else 'not shown'}" for m, v in old.items()))
        index = {sid: i for i, sid in enumerate(order)}
        differences = {}
        for m in METHODS:
            ranked = sorted(index)  # method_differences returns sample-id order
            position = np.argsort([index[s] for s in ranked])
            differences[m] = tuple(method_differences(rows, m, f)[position]
                                   for f in ("deletion", "insertion"))
        for counts in (looks(CAP), (16,), (32,), (64,), (CAP,)):
            levels = look_levels(counts, alpha=0.05)
            out, n_used = decide_sequentially(
                differences, counts=counts, levels=levels, margin=0.01,
                seeds={m: sub_seed(config.seed, f"faithfulness.decision.{m}") for m in METHODS},
                n_resamples=1000)
            print(f"new rule, looks {counts}: stopped at {n_used}: " + ", ".join(
                f"{m} {d.outcome} (at {d.decided_at})" for m, d in out.items()))


if __name__ == "__main__":
    main(sys.argv[1:])
