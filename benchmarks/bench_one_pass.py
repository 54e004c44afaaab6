"""One forward pass per image: the audit's per-batch model work, before and after ``explain``
made the predictions and every target's maps from one pass, against one bare forward pass.

    python benchmarks/bench_one_pass.py [--images N] [--repeats N] [--default-images N]
        [--default-repeats N] [--json OUT]

In one process, on the same preprocessed batches (bench_audit's MobileNetV2 and mixed-size
JPEGs, batches of 32, micro-batches of 16), timed interleaved (A, B, C, A, B, C, ...) so that
load from other work on a shared machine weighs on every figure alike:

- bare forward: the faster of a ``tf.function`` model call and ``predict_on_batch``;
- *before*: what the predict and explain stages did: ``predict``, then one ``explain`` per
  target (the true class on the misclassified rows only);
- *after*: the explain stage now (``explain_batch``: ``explain_targets``, one pass);
- both followed by the ``score`` stage, the rest of the quick pipeline's per-batch work.

For the quick pipeline (Grad-CAM, predicted class) and the default audit's methods (Grad-CAM,
Grad-CAM++, Score-CAM top 32, negative; predicted and true class) on the trained and the
untrained MobileNetV2. Reading and decoding the JPEGs (a thread beside the model in a run)
and the stages after the stream are not in these figures; ``bench_audit.py`` measures whole
runs.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# This checkout's audit package (not an installed one), and bench_audit beside this file.
sys.path[:0] = [str(Path(__file__).resolve().parents[1]), str(Path(__file__).resolve().parent)]

import bench_audit  # noqa: E402
import numpy as np  # noqa: E402

QUICK = ("gradcam",), ("predicted",)
DEFAULT = ("gradcam", "gradcam++", "scorecam", "negative"), ("predicted", "true")


def measure(model_path: Path, batches, warm, *, methods, targets, repeats: int) -> dict:
    """Seconds per image of each way, interleaved; ``warm`` (a small batch) traces them."""
    import keras
    import tensorflow as tf

    from audit.cams import CamExplainer
    from audit.config import MetricsSection
    from audit.stages.explain import explain_batch
    from audit.stages.score import score

    model = keras.models.load_model(model_path)
    explainer = CamExplainer(model, micro_batch=16, scorecam_max_channels=32)
    call = tf.function(lambda x: model(x, training=False), input_signature=[
        tf.TensorSpec((None, 224, 224, 3), tf.float32)])
    metrics, names = MetricsSection(), ["0", "1", "2"]

    def labels(batch):
        return np.array([s.label for s in batch.samples], dtype=np.int64)

    def before(batch):
        predictions = explainer.predict(batch.images)
        predicted = predictions.predicted.astype(np.int64)
        for target in targets:
            rows = (np.arange(len(batch)) if target == "predicted"
                    else np.flatnonzero(predicted != labels(batch)))
            classes = predicted[rows] if target == "predicted" else labels(batch)[rows]
            if len(rows):
                explainer.explain(batch.images[rows], classes, methods, upsample=False,
                                  normalize=False)
        return predictions

    def after(batch):
        predictions, maps = explain_batch(explainer, batch.images, labels(batch),
                                          methods=methods, targets=targets)
        score(metrics, batch, predictions, maps, names)
        return predictions

    ways = {
        "forward_tf_function": lambda bs: [call(b.images).numpy() for b in bs],
        "forward_predict_on_batch": lambda bs: [model.predict_on_batch(b.images) for b in bs],
        "before": lambda bs: [before(b) for b in bs],
        "after": lambda bs: [after(b) for b in bs],
    }
    for way in ways.values():
        way([warm])  # trace (every call has the micro-batch's shape)
    times = {name: [] for name in ways}
    for _ in range(repeats):
        for name, way in ways.items():
            start = time.perf_counter()
            way(batches)
            times[name].append(time.perf_counter() - start)
    # The score stage alone (the same in both), so that "before" is charged it too.
    scored = []
    for _ in range(repeats):
        kept = [explain_batch(explainer, b.images, labels(b), methods=methods, targets=targets)
                for b in batches]
        start = time.perf_counter()
        for b, (predictions, maps) in zip(batches, kept, strict=True):
            score(metrics, b, predictions, maps, names)
        scored.append(time.perf_counter() - start)
    n = sum(len(b) for b in batches)
    per = {name: statistics.median(t) / n for name, t in times.items()}
    forward = min(per["forward_tf_function"], per["forward_predict_on_batch"])
    score_s = statistics.median(scored) / n
    errors = float(np.mean(np.concatenate([explainer.predict(b.images).predicted != labels(b)
                                           for b in batches])))
    return {"images": n, "error_rate": errors, "s_per_image": per, "score_s_per_image": score_s,
            "bare_forward_s_per_image": forward,
            "before_over_forward": (per["before"] + score_s) / forward,
            "after_over_forward": per["after"] / forward,
            "after_over_before": per["after"] / (per["before"] + score_s)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=64)
    parser.add_argument("--default-images", type=int, default=16)
    parser.add_argument("--default-repeats", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    from audit.datasets import load_manifest
    from audit.datasets.stream import batch_specs

    cache = bench_audit.CACHE
    cache.mkdir(parents=True, exist_ok=True)
    trained = bench_audit.make_model(cache / "mobilenet_v2_e8.keras", bench_audit.make_photos(
        cache / "train", 480, sizes="mixed", seed=9))
    untrained = bench_audit.make_untrained_model(cache / "mobilenet_v2_untrained.keras")
    manifest = bench_audit.make_photos(cache / "mixed", max(args.images, 320), sizes="mixed")
    from audit.datasets import BatchSpec

    loader = bench_audit.mobilenet_loader()
    samples = load_manifest("csv", manifest).samples
    quick = [loader(s) for s in batch_specs(samples[:args.images], batch_size=32)]
    default = [loader(BatchSpec(0, tuple(samples[:args.default_images])))]
    warm = loader(BatchSpec(0, tuple(samples[-2:])))
    result = {
        "quick_trained": measure(trained, quick, warm, methods=QUICK[0], targets=QUICK[1],
                                 repeats=args.repeats),
        "default_trained": measure(trained, default, warm, methods=DEFAULT[0],
                                   targets=DEFAULT[1], repeats=args.default_repeats),
        "default_untrained": measure(untrained, default, warm, methods=DEFAULT[0],
                                     targets=DEFAULT[1], repeats=args.default_repeats),
    }
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
