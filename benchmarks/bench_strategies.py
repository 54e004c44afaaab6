"""What strategy discovery (SpRAy, stage ``strategies``) costs per class, against what the audit
already spends on the same maps.

    python benchmarks/bench_strategies.py [--n 10000] [--json OUT]

Synthetic small maps (32 x 32, float16 as the ``strategy_maps`` stage stores them): one class of
``--n`` maps in three spatial strategies (two object positions and a corner tag, a fifth of the
maps) with noise. Timed: the clustering of one class (:func:`audit.evidence.spray.spray`: the
kNN graph, the Laplacian's eigenvalues, the spectral embedding, k-means), and, in the same run,
predict + Grad-CAM of the same number of images on the demo CNN at 64 px, the least the audit
spends on those maps (a real backbone costs 10-100x more per image). The target is a ratio:
clustering a class <= 1 x the predict + Grad-CAM time of its images on the demo CNN.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from audit.evidence.spray import small_maps, spray


def synthetic_maps(n: int, *, size: int = 32, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    centres = [(size * 0.45, size * 0.4), (size * 0.55, size * 0.6), (2.5, 2.5)]
    kinds = rng.choice(3, n, p=[0.4, 0.4, 0.2])
    maps = np.empty((n, size, size), np.float32)
    for i, kind in enumerate(kinds):
        cy, cx = centres[kind] + rng.normal(0, 1.5, 2)
        sigma = 2.0 if kind == 2 else 5.0
        maps[i] = np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * sigma ** 2))
    maps += rng.uniform(0, 0.1, maps.shape).astype(np.float32)
    return small_maps(maps, size=size).astype(np.float16), kinds


def time_spray(maps: np.ndarray, *, repeats: int) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = spray(maps.astype(np.float32), max_clusters=6, n_neighbors=10, seed=0)
        best = min(best, time.perf_counter() - start)
    return best, result


def time_explain(n: int) -> float:
    """Seconds for predict + Grad-CAM of ``n`` 64 px images on the demo CNN (batches of 32,
    measured on a few batches after a warm-up and scaled to ``n``)."""
    from audit.cams import CamExplainer
    from audit.demo.train import build_model

    explainer = CamExplainer(build_model(input_size=64, n_classes=3), None, micro_batch=16)
    images = np.random.default_rng(0).uniform(0, 1, (32, 64, 64, 3)).astype(np.float32)
    classes = np.zeros(32, np.int64)

    def once():
        explainer.predict(images)
        explainer.explain(images, classes, ("gradcam",), upsample=False, normalize=False)

    once()
    start, calls = time.perf_counter(), 0
    while calls < 10 or time.perf_counter() - start < 2.0:
        once()
        calls += 1
    return (time.perf_counter() - start) / (calls * 32) * n


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--json")
    args = parser.parse_args(argv)
    maps, kinds = synthetic_maps(args.n)
    seconds, result = time_spray(maps, repeats=args.repeats)
    explain = time_explain(args.n)
    tag = int(np.bincount(result.labels[kinds == 2]).argmax())
    purity = float(np.mean(kinds[result.labels == tag] == 2))
    out = {"n_maps": args.n, "spray_s": round(seconds, 3), "explain_s": round(explain, 3),
           "ratio": round(seconds / explain, 3), "n_clusters": result.n_clusters,
           "tag_cluster_purity": round(purity, 3),
           "memory_mb_float16": round(maps.nbytes / 2**20, 1)}
    print(json.dumps(out, indent=2))
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(out, handle, indent=2)
    return out


if __name__ == "__main__":
    main()
