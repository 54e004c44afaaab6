"""How close Score-CAM's top-k maps ("Faster Score-CAM") are to its all-channel maps, and what
each k costs, on models where both are affordable.

    python benchmarks/bench_scorecam_topk.py [--images N] [--json OUT]

Two trained models, both on the demo's shapes (generated, no download):

- the demo's small CNN (64 channels in its explained layer, 64 px);
- ``keras.applications.MobileNetV2(weights=None)`` at 224 px, 1,280 channels at ``out_relu``
  (7 x 7), the model of ``benchmarks/bench_audit.py`` (trained there for eight epochs on
  generated photos, the class is the shape), on that benchmark's JPEG photos of mixed sizes
  with its own ``preprocess_input``. All-channel Score-CAM costs 1,280 forward passes per map
  here, so ``--mobilenet-images`` (default 8) is kept small.

For each k, over the same audit images and their predicted classes: the mean Spearman rank
correlation of the top-k map with the all-channel map (both upsampled to the input), the mean
absolute difference of their energy in the box, the share of images whose enrichment falls on
the same side of 1 (the background-fixation rule), and the seconds per map.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / ".cache" / "bench_topk"


def _demo(size: str):
    from audit.demo import ensure_demo

    return ensure_demo(CACHE / f"demo-{size}", size=size, seed=0, quiet=True)


def _mobilenet(n: int):
    """The trained MobileNetV2 of ``bench_audit.py`` and a batch of its mixed-size photos."""
    import sys

    import keras

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import bench_audit

    from audit.datasets import BatchSpec, load_manifest

    cache = bench_audit.CACHE
    cache.mkdir(parents=True, exist_ok=True)
    path = bench_audit.make_model(cache / "mobilenet_v2_e8.keras", bench_audit.make_photos(
        cache / "train", 480, sizes="mixed", seed=9))
    manifest = bench_audit.make_photos(cache / "mixed", 320, sizes="mixed")
    samples = tuple(load_manifest("csv", manifest).samples[:n])
    batch = bench_audit.mobilenet_loader()(BatchSpec(0, samples))
    return keras.models.load_model(path), batch


def _images(demo, size: tuple[int, int], n: int, preprocess):
    from audit.datasets import BatchLoader, BatchSpec, Preprocessor, load_manifest

    manifest = load_manifest("csv", demo.audit_manifest,
                             class_names=["circle", "square", "triangle"])
    samples = tuple(manifest.samples[:n])
    batch = BatchLoader(size, 3, Preprocessor.from_config(preprocess, channels=3))(
        BatchSpec(0, samples))
    return batch


def measure(model, batch, ks: list[int], layer: str | None) -> dict:
    from audit.cams import CamExplainer
    from audit.evidence import spearman
    from audit.metrics import boxes_to_mask, energy_in_box

    height, width = batch.images.shape[1:3]
    masks = []
    for i, sample in enumerate(batch.samples):
        oh, ow = batch.original_sizes[i]
        boxes = [b.scaled(width / ow, height / oh).as_tuple() for b in sample.boxes]
        masks.append(boxes_to_mask(boxes, (height, width)))
    exact = CamExplainer(model, layer, micro_batch=16)
    classes = exact.predict(batch.images).predicted.astype(np.int64)
    exact.explain(batch.images[:1], classes[:1], ("scorecam",))  # trace
    start = time.perf_counter()
    reference = exact.explain(batch.images, classes, ("scorecam",))["scorecam"]
    out = {"n_images": len(batch), "all": {"seconds_per_map": (time.perf_counter() - start)
                                           / len(batch)}}
    ref_energy = np.array([energy_in_box(m, b) if m.any() else np.nan
                           for m, b in zip(reference, masks, strict=True)])
    fractions = np.array([b.mean() for b in masks])
    for k in ks:
        explainer = CamExplainer(model, layer, scorecam_max_channels=k, micro_batch=16)
        explainer.explain(batch.images[:1], classes[:1], ("scorecam",))  # trace
        start = time.perf_counter()
        maps = explainer.explain(batch.images, classes, ("scorecam",))["scorecam"]
        seconds = (time.perf_counter() - start) / len(batch)
        rho = [spearman(a, b) for a, b in zip(maps, reference, strict=True)]
        energy = np.array([energy_in_box(m, b) if m.any() else np.nan
                           for m, b in zip(maps, masks, strict=True)])
        same_side = (energy / fractions < 1) == (ref_energy / fractions < 1)
        out[str(k)] = {"seconds_per_map": seconds,
                       "spearman_mean": float(np.nanmean(rho)),
                       "spearman_min": float(np.nanmin(rho)),
                       "energy_abs_diff_mean": float(np.nanmean(np.abs(energy - ref_energy))),
                       "energy_abs_diff_max": float(np.nanmax(np.abs(energy - ref_energy))),
                       "fixation_side_agreement": float(np.mean(same_side))}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=16, help="demo images")
    parser.add_argument("--mobilenet-images", type=int, default=8)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    import keras

    CACHE.mkdir(parents=True, exist_ok=True)
    demo = _demo("full")
    result = {}
    small = keras.models.load_model(demo.model_path)
    batch = _images(demo, (64, 64), args.images, {"rescale": 1 / 255, "offset": 0.0})
    result["demo_cnn_64ch"] = measure(small, batch, [8, 16, 32], None)
    mobile, batch = _mobilenet(args.mobilenet_images)
    result["mobilenet_v2_224_1280ch"] = measure(mobile, batch, [16, 32, 64, 128, 256], None)
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
