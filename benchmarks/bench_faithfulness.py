"""Samples and forward passes needed to decide faithfulness: the old rule (separate 95%
intervals of the method and one random map that must not overlap) against the paired,
sequential rule (per-image differences against K = 4 random maps, signed-rank,
intersection-union, Holm, looks at 16, 32, 64, ...).

Run:

    python -m benchmarks.bench_faithfulness MODEL.keras [MODEL.keras ...]
    python -m benchmarks.bench_faithfulness --config CONFIG.yaml [--cap N]

The first form takes models of the demo's three classes with the demo's ``config.yaml``
settings (16 steps, the zero substrate, Grad-CAM, Grad-CAM++, all-channel Score-CAM, a cap of
256). The second takes any cam-audit configuration (its model, dataset, methods and
faithfulness settings, e.g. the MobileNetV2 of ``bench_audit.py`` at the default budget);
``--cap`` replaces its ``faithfulness.max_samples``.

Either way it runs the ``faithfulness`` stage once, as one look at the cap (the stage's own
seeded, stratified subset and order), then replays both rules on prefixes of that order: the
old rule at each look, the new one with the looks a sequential stage takes and with single
looks. The replays use the stage's measured rows, so both rules see the same images.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd

from audit.analysis.aggregate import sub_seed
from audit.analysis.evidence import method_differences
from audit.cams.methods import ordered_methods
from audit.config import load_config, parse_config
from audit.datasets import load_manifest
from audit.evidence import look_levels, looks
from audit.evidence.outcomes import decide_sequentially
from audit.metrics import describe
from audit.stages.faithfulness import faithfulness
from audit.stages.load_model import load_model
from audit.stages.reload import reload

ROOT = Path(__file__).resolve().parents[1]
DEMO_CAP = 256


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


def demo_config(path: str):
    return parse_config({
        "model": {"path": path, "class_names": ["circle", "square", "triangle"]},
        "dataset": {"path": str(ROOT / "data/demo/audit/manifest.csv")},
        "cams": {"methods": ["gradcam", "gradcam++", "scorecam"], "batch_size": 32,
                 "scorecam_max_channels": "all"},
        "faithfulness": {"max_samples": DEMO_CAP, "steps": 16, "substrate": "zero",
                         "sequential": False},
    }, base_dir=ROOT)


def measure(config, *, cap: int | None = None) -> dict:
    """One look of the stage at the cap, and both rules replayed on its prefixes."""
    updates = {"sequential": False}
    if cap is not None:
        updates["max_samples"] = cap
    config = config.model_copy(update={
        "faithfulness": config.faithfulness.model_copy(update=updates)})
    cap = config.faithfulness.max_samples
    explainer, classes, info = load_model(config.model, config.cams)
    dataset = config.dataset
    manifest = load_manifest(dataset.format, dataset.path, images_root=dataset.images_root,
                             class_names=classes)
    records = []
    for batch in reload([s.sample_id for s in manifest.samples], manifest=manifest,
                        model_info=info, batch_size=config.cams.batch_size):
        predicted = explainer.predict(batch.images).predicted
        records += [{"sample_id": s.sample_id, "correct": bool(p == s.label),
                     "predicted_index": int(p)}
                    for s, p in zip(batch.samples, predicted, strict=True)]
    methods = [m for m in ordered_methods(config.cams.methods)
               if explainer.registry[m].kind != "counter-evidence"]
    result = faithfulness(config.faithfulness, config.cams, config.metrics, config.seed,
                          pd.DataFrame(records), manifest, explainer, info)
    order = list(result.sample_ids)
    rows = result.rows
    n_maps = len(methods) + 1 + config.faithfulness.random_maps
    ladder = 2 * (config.faithfulness.steps - 1) + 1
    out = {"model": str(config.model.path), "samples": len(order), "methods": methods,
           "accuracy": float(np.mean([r["correct"] for r in records])),
           "passes_per_sample_new": n_maps * ladder, "passes_per_sample_old":
           (len(methods) + 2) * ladder, "old": {}, "new": {}}
    print(f"== {config.model.path}: {len(order)} samples measured, accuracy "
          f"{out['accuracy']:.2f}, methods {methods}")
    for n in looks(len(order)):
        ids = order[:n]
        old = {m: _old_rule(rows, ids, m, config.seed) for m in methods}
        out["old"][n] = {m: "faithful" if v else "not shown" for m, v in old.items()}
        print(f"old rule at n={n}: " + ", ".join(f"{m} {v}" for m, v in out["old"][n].items()))
    index = {sid: i for i, sid in enumerate(order)}
    # method_differences returns sample-id order; back to the stage's seeded order.
    position = np.argsort([index[s] for s in sorted(index)])
    differences = {m: tuple(method_differences(rows, m, f)[position]
                            for f in ("deletion", "insertion")) for m in methods}
    plans = [looks(len(order))] + [(n,) for n in looks(len(order))]
    for counts in plans:
        levels = look_levels(counts, alpha=config.faithfulness.alpha)
        decided, n_used = decide_sequentially(
            differences, counts=counts, levels=levels, margin=config.faithfulness.margin,
            seeds={m: sub_seed(config.seed, f"faithfulness.decision.{m}") for m in methods},
            n_resamples=1000)
        key = "looks " + ",".join(map(str, counts))
        out["new"][key] = {"stopped_at": n_used, **{
            m: {"outcome": d.outcome, "decided_at": d.decided_at} for m, d in decided.items()}}
        print(f"new rule, {key}: stopped at {n_used}: " + ", ".join(
            f"{m} {d.outcome} (at {d.decided_at})" for m, d in decided.items()))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("models", nargs="*", help="demo-class models (.keras)")
    parser.add_argument("--config", type=Path, help="a cam-audit configuration instead")
    parser.add_argument("--cap", type=int, help="faithfulness.max_samples for --config")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    if bool(args.models) == bool(args.config):
        parser.error("give demo-class models or --config, not both and not neither")
    if args.config:
        results = [measure(load_config(args.config), cap=args.cap)]
    else:
        results = [measure(demo_config(path)) for path in args.models]
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
