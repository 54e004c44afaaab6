"""Throughput of the CAM engine against the plain forward pass and tf-keras-vis.

Run: ``python benchmarks/bench_cams.py [--repeats 5] [--json out.json]``.

Everything is measured in one process on one machine, so the ratios (not the absolute
figures) are what the targets in docs/benchmarks.md speak of. The forward pass and the
gradient-path figures are timed interleaved (one call of each in turn), so that load from
other work on the machine weighs on all of them alike:

- Grad-CAM throughput >= 0.85 x the plain batched forward pass;
- all gradient-path methods together (every method of the registry that runs in the shared
  pass: Grad-CAM, Grad-CAM++, XGrad-CAM, HiResCAM, LayerCAM, EigenCAM, negative evidence)
  <= 1.15 x the time of Grad-CAM alone; the default set's gradient methods (Grad-CAM,
  Grad-CAM++, negative) are reported too;
- Grad-CAM >= 4 x tf-keras-vis' Gradcam (same inputs, same output: upsampled, normalised);
- Score-CAM >= 2 x tf-keras-vis' Scorecam with the same channels and the same output.

One pass for every target (``CamExplainer.explain_targets``): the predictions and the maps of
two targets per image (the predicted class and another) against ``predict`` plus one
``explain`` per target, as the audit did before; and three ways to get two targets' gradients
from one model: one forward pass with a persistent tape and a backward pass per target (what
the engine does), one forward pass and a batch Jacobian over the two scores, and the batch
stacked twice with one backward pass.

tf-keras-vis' Scorecam takes the union of the top-k channels over a whole batch, so for the
"same channels" comparison it is called one image at a time (its top-k of that image equals
cam-audit's per-image top-k).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from audit.cams import DEFAULT_METHODS, METHODS, CamExplainer  # noqa: E402

#: Every registered method that runs in the shared forward/backward pass.
GRADIENT_PATH = tuple(name for name, method in METHODS.items() if method.shared_pass)
#: The same, restricted to the methods an audit computes by default.
DEFAULT_GRADIENT_PATH = tuple(name for name in GRADIENT_PATH if name in DEFAULT_METHODS)
#: The methods that use the gradient (EigenCAM, in the shared pass, does not).
GRADIENT_METHODS = tuple(name for name in GRADIENT_PATH if METHODS[name].uses_gradients)


def _linear_head(model):
    model.layers[-1].activation = keras.activations.linear


def timed(fn, repeats, min_seconds=2.0):
    """Median seconds per call over at least ``repeats`` calls and ``min_seconds`` in all."""
    fn()  # warm-up: traces and caches
    times = []
    while len(times) < repeats or sum(times) < min_seconds:
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def timed_interleaved(fns, repeats, min_seconds=2.0):
    """Median seconds per call of each of ``fns``, called in turn (A, B, C, A, B, C, ...).

    On a machine shared with other work the load drifts; interleaving lets every figure see
    the same drift, so their ratios stay meaningful.
    """
    for fn in fns:
        fn()  # warm-up: traces and caches
    times = [[] for _ in fns]
    while len(times[0]) < repeats or min(sum(t) for t in times) < min_seconds:
        for fn, spent in zip(fns, times, strict=True):
            start = time.perf_counter()
            fn()
            spent.append(time.perf_counter() - start)
    return [statistics.median(t) for t in times]


def mobilenet(size):
    keras.utils.set_random_seed(0)
    base = keras.applications.MobileNetV2(weights=None, include_top=False,
                                          input_shape=(size, size, 3))
    model = keras.Sequential([keras.Input((size, size, 3)), base,
                              keras.layers.GlobalAveragePooling2D(),
                              keras.layers.Dense(10, activation="softmax")], name="mobilenetv2")
    return model, base


def small_cnn(size):
    keras.utils.set_random_seed(0)
    return keras.Sequential([
        keras.Input((size, size, 3)),
        keras.layers.Conv2D(16, 3, activation="relu", padding="same"),
        keras.layers.MaxPooling2D(),
        keras.layers.Conv2D(32, 3, activation="relu", padding="same"),
        keras.layers.MaxPooling2D(),
        keras.layers.Conv2D(64, 3, activation="relu", padding="same", name="last_conv"),
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(3, activation="softmax"),
    ], name="small_cnn"), None


def bench(name, model, flat_layer_model, layer_for_tfkv, batch, size, repeats, scorecam_k,
          scorecam_images, peers=True):
    from tf_keras_vis.gradcam import Gradcam
    from tf_keras_vis.scorecam import Scorecam
    from tf_keras_vis.utils.scores import CategoricalScore

    rng = np.random.default_rng(0)
    x = rng.random((batch, size, size, 3), dtype=np.float32)
    n_out = model.outputs[0].shape[-1]
    c = (np.arange(batch) % n_out).astype(np.int64)
    ex = CamExplainer(model, scorecam_max_channels=scorecam_k)
    forward = tf.function(lambda t: model(t, training=False))
    xt = tf.constant(x)
    out = {"model": name, "batch": batch, "input": f"{size}x{size}", "layer": ex.layer_name}
    t_fwd, t_grad, t_default, t_gradient, t_all = timed_interleaved([
        lambda: forward(xt).numpy(),
        lambda: ex.explain(x, c, ("gradcam",)),
        lambda: ex.explain(x, c, DEFAULT_GRADIENT_PATH),
        lambda: ex.explain(x, c, GRADIENT_METHODS),
        lambda: ex.explain(x, c, GRADIENT_PATH),
    ], repeats)
    out.update(forward_ips=batch / t_fwd, gradcam_ips=batch / t_grad,
               default_gradient_ips=batch / t_default, gradient_methods_ips=batch / t_gradient,
               all_gradient_ips=batch / t_all)
    # As the audit's explain stage calls it: maps at the layer's resolution, not scaled.
    t_grad_raw, t_gradient_raw = timed_interleaved([
        lambda: ex.explain(x, c, ("gradcam",), upsample=False, normalize=False),
        lambda: ex.explain(x, c, GRADIENT_METHODS, upsample=False, normalize=False),
    ], repeats)
    out.update(gradcam_raw_ips=batch / t_grad_raw, gradient_methods_raw_ips=batch / t_gradient_raw)
    if not peers:
        out["ratios"] = {
            "gradcam_over_forward": out["gradcam_ips"] / out["forward_ips"],
            "default_gradient_time_over_gradcam": out["gradcam_ips"]
            / out["default_gradient_ips"],
            "all_gradient_time_over_gradcam": out["gradcam_ips"] / out["all_gradient_ips"]}
        return out

    # tf-keras-vis needs the layer in the model it is given: a nested backbone makes it fail
    # ("Graph disconnected"), so it explains the same network rebuilt flat.
    peer_model = flat_layer_model or model
    gradcam_peer = Gradcam(peer_model, model_modifier=_linear_head, clone=True)
    score = CategoricalScore(list(c))
    t_peer = timed(lambda: gradcam_peer(score, x, penultimate_layer=layer_for_tfkv,
                                        seek_penultimate_conv_layer=False), repeats)
    out["tfkv_gradcam_ips"] = batch / t_peer

    xs, cs = x[:scorecam_images], c[:scorecam_images]
    t_score = timed(lambda: ex.explain(xs, cs, ("scorecam",)), max(1, repeats // 2))
    scorecam_peer = Scorecam(peer_model, model_modifier=_linear_head)
    k = scorecam_k or -1

    def peer_scorecam():
        for i in range(len(xs)):
            scorecam_peer(CategoricalScore([int(cs[i])]), xs[i:i + 1],
                          penultimate_layer=layer_for_tfkv, seek_penultimate_conv_layer=False,
                          max_N=k)

    t_score_peer = timed(peer_scorecam, max(1, repeats // 2))
    out.update(scorecam_images=len(xs), scorecam_channels=ex.explain(
        xs[:1], cs[:1], ("scorecam",)).scorecam_channels,
        scorecam_ips=len(xs) / t_score, tfkv_scorecam_ips=len(xs) / t_score_peer)
    out["ratios"] = {
        "gradcam_over_forward": out["gradcam_ips"] / out["forward_ips"],
        "default_gradient_time_over_gradcam": out["gradcam_ips"] / out["default_gradient_ips"],
        "gradient_methods_time_over_gradcam": out["gradcam_ips"] / out["gradient_methods_ips"],
        "gradient_methods_time_over_gradcam_raw_maps": out["gradcam_raw_ips"]
        / out["gradient_methods_raw_ips"],
        "all_gradient_time_over_gradcam": out["gradcam_ips"] / out["all_gradient_ips"],
        "gradcam_over_tfkv": out["gradcam_ips"] / out["tfkv_gradcam_ips"],
        "scorecam_over_tfkv": out["scorecam_ips"] / out["tfkv_scorecam_ips"],
    }
    return out


def gradient_ways(ex, x, classes, repeats):
    """Seconds per batch of three ways to two targets' gradients at the explained layer."""
    spec = [tf.TensorSpec((None, *x.shape[1:]), tf.float32), tf.TensorSpec((None, 2), tf.int32)]

    def score(logits, c):
        return tf.gather(logits, c, axis=1, batch_dims=1)

    @tf.function(input_signature=spec)
    def persistent(images, c):
        with tf.GradientTape(persistent=True) as tape:
            a, logits = ex._forward(images, on_activation=tape.watch)
            scores = [tf.reduce_sum(score(logits, c[:, t])) for t in range(2)]
        return [tape.gradient(s, a) for s in scores]

    @tf.function(input_signature=spec)
    def jacobian(images, c):
        with tf.GradientTape() as tape:
            a, logits = ex._forward(images, on_activation=tape.watch)
            scores = tf.stack([score(logits, c[:, t]) for t in range(2)], axis=1)
        return tape.batch_jacobian(scores, a)

    @tf.function(input_signature=spec)
    def stacked(images, c):
        with tf.GradientTape() as tape:
            a, logits = ex._forward(tf.concat([images, images], 0), on_activation=tape.watch)
            s = tf.reduce_sum(score(logits, tf.concat([c[:, 0], c[:, 1]], 0)))
        return tape.gradient(s, a)

    xt, ct = tf.constant(x), tf.constant(classes, tf.int32)
    times = timed_interleaved([lambda f=f: tf.nest.map_structure(lambda t: t.numpy(), f(xt, ct))
                               for f in (persistent, jacobian, stacked)], repeats)
    return dict(zip(("persistent_tape_s", "batch_jacobian_s", "stacked_s"), times, strict=True))


def one_pass(model, batch, size, repeats, scorecam_k, scorecam_images):
    """Predictions and two targets' maps from one pass against predict + one explain per
    target, for the gradient methods and for Score-CAM."""
    from audit.cams import PREDICTED  # here: ``bench`` also runs on code from before it

    rng = np.random.default_rng(1)
    x = rng.random((batch, size, size, 3), dtype=np.float32)
    n_out = model.outputs[0].shape[-1]
    other = (np.arange(batch) % n_out).astype(np.int64)
    ex = CamExplainer(model, scorecam_max_channels=scorecam_k, micro_batch=16)
    out = {}
    for label, methods, images in (("gradient", DEFAULT_GRADIENT_PATH, x),
                                   ("scorecam", ("scorecam",), x[:scorecam_images])):
        n = len(images)
        targets = np.stack([np.full(n, PREDICTED), other[:n]], axis=1)

        def before(images=images, methods=methods, n=n):
            predicted = ex.predict(images).predicted
            ex.explain(images, predicted, methods, upsample=False, normalize=False)
            ex.explain(images, other[:n], methods, upsample=False, normalize=False)

        def after(images=images, methods=methods, targets=targets):
            ex.explain_targets(images, targets, methods, upsample=False, normalize=False)

        t_before, t_after = timed_interleaved([before, after], max(1, repeats // 2))
        out[label] = {"images": n, "before_s": t_before, "after_s": t_after,
                      "after_over_before": t_after / t_before}
    out["gradients"] = gradient_ways(ex, x[:16], np.stack([other[:16], (other[:16] + 1)
                                                           % n_out], axis=1), repeats)
    return out


def flat_mobilenet(model, base):
    """The same layers as one flat functional graph, for tf-keras-vis."""
    x = base.output
    for layer in model.layers[1:]:
        x = layer(x)
    return keras.Model(base.inputs, x)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", default=None)
    parser.add_argument("--quick", action="store_true", help="small sizes, for a smoke run")
    parser.add_argument("--no-peers", action="store_true",
                        help="leave tf-keras-vis and Score-CAM out (the engine's own ratios)")
    args = parser.parse_args(argv)
    results = {
        "machine": {"platform": platform.platform(), "processor": platform.processor(),
                    "cpus": os.cpu_count(), "python": sys.version.split()[0],
                    "tensorflow": tf.__version__, "keras": keras.__version__,
                    "gpus": len(tf.config.list_physical_devices("GPU"))},
        "gradient_path_methods": list(GRADIENT_PATH),
        "default_gradient_path_methods": list(DEFAULT_GRADIENT_PATH),
        "gradient_methods": list(GRADIENT_METHODS),
        "runs": [],
    }
    size_m = 96 if args.quick else 224
    model, base = mobilenet(size_m)
    results["runs"].append(bench("MobileNetV2 (weights=None)", model, flat_mobilenet(model, base),
                                 "out_relu", 8 if args.quick else 32, size_m, args.repeats,
                                 scorecam_k=16, scorecam_images=2 if args.quick else 4,
                                 peers=not args.no_peers))
    results["one_pass"] = one_pass(model, 8 if args.quick else 32, size_m, args.repeats,
                                   scorecam_k=16, scorecam_images=2 if args.quick else 4)
    model, _ = small_cnn(64)
    results["runs"].append(bench("small CNN", model, None, "last_conv", 32, 64, args.repeats,
                                 scorecam_k=None, scorecam_images=8, peers=not args.no_peers))
    text = json.dumps(results, indent=2)
    print(text)
    if args.json:
        with open(args.json, "w") as handle:
            handle.write(text + "\n")


if __name__ == "__main__":
    main()
