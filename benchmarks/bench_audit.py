"""The audit end to end on a model that looks real: the marginal cost per image of the shipped
pipelines against the engine alone, large photos against ordinary ones, and peak memory.

    python benchmarks/bench_audit.py [--small N] [--large N] [--repeats N] [--json OUT]
        [--parts quick photos audit] [--models trained untrained] [--audit-n N]
        [--before DIR]

Everything is generated (no download): ``keras.applications.MobileNetV2(weights=None,
classes=3)`` at 224 px, trained for eight epochs on generated photos (the class is the shape;
about 70% accurate on the audit photos) so that its maps are not degenerate, saved as
``.keras`` (explained at ``out_relu``, 1,280 channels), preprocessing
``keras.applications.mobilenet_v2.preprocess_input``, JPEG photos of mixed sizes (300-640 px)
with a box each, and sets of 640 x 480 and 4,000 x 3,000 (12 MP) JPEGs. The same network
untrained (seeded) makes about nine errors in ten, so the default audit explains almost two
maps per image. Each audit runs in its own process (``python -m audit run``); its wall time
includes start-up, which the *marginal* cost per image cancels out:
``(T(large n) - T(small n)) / (large n - small n)``.

The unit is one bare forward pass of the model per image on the audit's batches of 32
preprocessed images: the faster of a ``tf.function``-compiled model call and
``predict_on_batch``. ``--before DIR`` (a checkout of earlier code, e.g. ``git archive``)
runs every audit there too, in the same run, so the two are compared on the same machine.

The ratios compared with targets, measured in one run:

- ``quick`` pipeline, marginal cost per image / one bare forward pass per image: <= 1.35;
- default ``audit`` pipeline, whole run / as many bare forward passes, trained and untrained
  model: <= 30;
- 12 MP photos, marginal cost per image / 640 x 480 photos': <= 1.3; peak RSS grows by at most a
  few hundred MiB;
- peak RSS flat in dataset size.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import yaml
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / ".cache" / "bench_audit"


# ---------------------------------------------------------------------------- the inputs


def mobilenet_loader():
    """Reads, resizes and preprocesses a batch as the audit does for this MobileNetV2 (224 px,
    its own ``preprocess_input``)."""
    from audit.datasets import BatchLoader, Preprocessor

    return BatchLoader((224, 224), 3, Preprocessor.from_config(
        {"function": "keras.applications.mobilenet_v2.preprocess_input"}, channels=3))


def make_model(path: Path, train: Path) -> Path:
    """MobileNetV2 (weights=None, 3 classes) trained for eight epochs on generated photos:
    about 70% accurate on the audit photos, so that its maps are not degenerate and it makes
    the mistakes an audit explains twice (an untrained MobileNetV2 predicts one class with
    all-zero maps, which would leave the scoring out of the measurement). The BatchNorm
    layers' momentum is lowered to 0.9 for the 120 training steps (Keras's 0.999 leaves the
    moving statistics at their initial values after so few, and the model at chance)."""
    if not path.exists():
        import keras

        from audit.datasets import load_manifest
        from audit.datasets.stream import batch_specs

        keras.utils.set_random_seed(0)
        model = keras.applications.MobileNetV2(weights=None, input_shape=(224, 224, 3),
                                               classes=3)
        samples = load_manifest("csv", train).samples
        loader = mobilenet_loader()
        x = np.concatenate([loader(spec).images for spec in batch_specs(samples,
                                                                         batch_size=64)])
        y = np.array([s.label for s in samples])
        for layer in model.layers:
            if isinstance(layer, keras.layers.BatchNormalization):
                layer.momentum = 0.9
        model.compile(keras.optimizers.Adam(1e-3), "sparse_categorical_crossentropy")
        model.fit(x, y, epochs=8, batch_size=32, verbose=0)
        model.save(path)
    return path


def make_photos(folder: Path, n: int, *, sizes: str, seed: int = 0) -> Path:
    """``n`` JPEG photos with one shape each and its box; ``sizes`` is ``mixed`` (300-640 px
    sides), ``vga`` (640 x 480) or ``12mp`` (4,000 x 3,000)."""
    manifest = folder / "manifest.csv"
    if manifest.exists() and len(manifest.read_text().splitlines()) == n + 1:
        return manifest
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    rows = ["image,label,x_min,y_min,x_max,y_max"]
    for i in range(n):
        if sizes == "mixed":
            width, height = (int(v) for v in rng.integers(300, 641, size=2))
        elif sizes == "vga":
            width, height = 640, 480
        else:
            width, height = 4000, 3000
        base = rng.integers(40, 200, size=3)
        noise = rng.integers(-30, 30, size=(max(1, height // 8), max(1, width // 8), 3))
        texture = np.clip(base + noise, 0, 255).astype(np.uint8)
        image = Image.fromarray(texture).resize((width, height), Image.BILINEAR)
        draw = ImageDraw.Draw(image)
        w, h = int(width * rng.uniform(0.2, 0.5)), int(height * rng.uniform(0.2, 0.5))
        x0, y0 = int(rng.integers(0, width - w)), int(rng.integers(0, height - h))
        colour = tuple(int(v) for v in rng.integers(0, 256, size=3))
        label = i % 3  # the class is the shape: rectangle, ellipse, triangle
        if label == 0:
            draw.rectangle([x0, y0, x0 + w, y0 + h], fill=colour)
        elif label == 1:
            draw.ellipse([x0, y0, x0 + w, y0 + h], fill=colour)
        else:
            draw.polygon([(x0, y0 + h), (x0 + w // 2, y0), (x0 + w, y0 + h)], fill=colour)
        name = f"p{i:04d}.jpg"
        image.save(folder / name, quality=90)
        rows.append(f"{name},{label},{x0},{y0},{x0 + w},{y0 + h}")
    manifest.write_text("\n".join(rows) + "\n")
    return manifest


def make_untrained_model(path: Path) -> Path:
    """The same MobileNetV2, untrained (seeded weights): about nine errors in ten on the
    audit photos, so the default audit explains the true class of almost every sample."""
    if not path.exists():
        import keras

        keras.utils.set_random_seed(0)
        keras.applications.MobileNetV2(weights=None, input_shape=(224, 224, 3),
                                       classes=3).save(path)
    return path


def write_config(folder: Path, model: Path, manifest: Path, **sections) -> Path:
    config = {
        "run_name": "bench", "seed": 0,
        "model": {"path": str(model),
                  "preprocessing": {"function":
                                    "keras.applications.mobilenet_v2.preprocess_input"}},
        "dataset": {"path": str(manifest)},
        "report": {"out_dir": str(folder / "reports")},
    }
    for key, value in sections.items():
        config[key] = {**config.get(key, {}), **value}
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


# ---------------------------------------------------------------------------- measuring


def audit(config: Path, *, limit: int, pipeline: str | None = None, root: Path = ROOT) -> dict:
    """Wall time, peak RSS, stage seconds and key figures of one audit in a fresh process,
    with the code checked out at ``root``."""
    import psutil

    out = Path(tempfile.mkdtemp(prefix="bench-audit-")) / "run"
    command = [sys.executable, "-m", "audit", "run", str(config), "--out", str(out), "--quiet",
               "--limit", str(limit)]
    if pipeline:
        command += ["--pipeline", pipeline]
    start = time.perf_counter()
    process = subprocess.Popen(command, cwd=root, stdout=subprocess.DEVNULL)
    peak, watched = 0, psutil.Process(process.pid)

    def watch():
        nonlocal peak
        while process.poll() is None:
            try:
                peak = max(peak, watched.memory_info().rss)
            except psutil.Error:
                return
            time.sleep(0.1)

    thread = threading.Thread(target=watch)
    thread.start()
    code = process.wait()
    wall = time.perf_counter() - start
    thread.join()
    if code not in (0, 1):
        raise SystemExit(f"the audit failed with exit code {code}: {out}")
    status = json.loads((out / "status.json").read_text())
    summary = json.loads((out / "summary.json").read_text())
    figures = {f"{m}.{k}": (f[k]["all"]["mean"] if isinstance(f[k], dict) else f[k])
               for m, f in summary["methods"].items()
               for k in ("energy_in_box", "enrichment", "pointing_accuracy",
                         "localization_accuracy")}
    seconds = status.get("stage_seconds", {})
    return {"limit": limit, "wall_s": wall, "peak_rss_mib": peak / 2**20,
            "stage_seconds": seconds, "figures": figures,
            # The model's work per batch: predict + explain before they shared one pass.
            "predict_explain_s": seconds.get("predict", 0.0) + seconds.get("explain", 0.0)}


def engine_per_image(model_path: Path, manifest: Path, n: int) -> float:
    """Seconds per image of the engine's predict + Grad-CAM on preprocessed arrays (the
    pipeline's micro-batches of 16, maps at the layer's resolution, as the explain stage)."""
    import keras

    from audit.cams import CamExplainer
    from audit.datasets import load_manifest
    from audit.datasets.stream import batch_specs

    model = keras.models.load_model(model_path)
    explainer = CamExplainer(model, micro_batch=16)
    samples = load_manifest("csv", manifest).samples[:n]
    loader = mobilenet_loader()
    images = np.concatenate([loader(spec).images for spec in batch_specs(samples,
                                                                         batch_size=32)])
    def once():
        predicted = explainer.predict(images).predicted
        explainer.explain(images, predicted.astype(np.int64), ("gradcam",), upsample=False,
                          normalize=False)

    once()  # trace
    times = []
    for _ in range(3):
        start = time.perf_counter()
        once()
        times.append(time.perf_counter() - start)
    return float(np.median(times)) / len(images)


def bare_forward_per_image(model_path: Path, manifest: Path, n: int, *,
                           batch_size: int = 32) -> dict:
    """Seconds per image of one bare forward pass on the audit's batches of ``batch_size``
    preprocessed images: a ``tf.function``-compiled model call and ``predict_on_batch``
    (median of 3 each), and the faster of the two (``best``)."""
    import keras
    import tensorflow as tf

    from audit.datasets import load_manifest
    from audit.datasets.stream import batch_specs

    model = keras.models.load_model(model_path)
    samples = load_manifest("csv", manifest).samples[:n]
    loader = mobilenet_loader()
    batches = [loader(spec).images for spec in batch_specs(samples, batch_size=batch_size)]
    call = tf.function(lambda x: model(x, training=False), input_signature=[
        tf.TensorSpec((None, *batches[0].shape[1:]), tf.float32)])
    ways = {"tf_function": lambda b: call(b).numpy(),
            "predict_on_batch": lambda b: model.predict_on_batch(b)}
    out = {}
    for name, way in ways.items():
        for b in batches[:1]:
            way(b)  # trace / build
        times = []
        for _ in range(3):
            start = time.perf_counter()
            for b in batches:
                way(b)
            times.append(time.perf_counter() - start)
        out[name] = float(np.median(times)) / len(samples)
    out["best"] = min(out.values())
    return out


def median_audit(config: Path, *, limit: int, repeats: int, pipeline: str | None = None,
                 root: Path = ROOT) -> dict:
    """The run of median wall time among ``repeats`` runs (start-up varies by a second or
    two from run to run, as much as the images cost in a short run)."""
    runs = sorted((audit(config, limit=limit, pipeline=pipeline, root=root)
                   for _ in range(repeats)), key=lambda r: r["wall_s"])
    chosen = dict(runs[len(runs) // 2])
    chosen["wall_s_all"] = [r["wall_s"] for r in runs]
    return chosen


def marginal(small: dict, large: dict) -> float:
    return (large["wall_s"] - small["wall_s"]) / (large["limit"] - small["limit"])


def large_photos(model: Path, count: int, repeats: int) -> dict:
    """12 MP photos against VGA ones (quick pipeline), and how far the scoring cap moves the
    figures."""
    vga = make_photos(CACHE / "vga", count, sizes="vga", seed=1)
    big = make_photos(CACHE / "12mp", count, sizes="12mp", seed=2)
    small_n = max(1, count // 5)
    photos = {}
    for name, manifest in (("vga", vga), ("12mp", big)):
        cfg = write_config(CACHE / name, model, manifest)
        photos[name] = [median_audit(cfg, limit=n, pipeline="quick.yaml",
                                     repeats=repeats) for n in (small_n, count)]
    # The same 12 MP photos scored at their full size: how far the capped scoring moves the
    # figures.
    full = audit(write_config(CACHE / "12mp-full", model, big,
                              metrics={"max_scoring_side": None}),
                 limit=count, pipeline="quick.yaml")
    capped = photos["12mp"][1]["figures"]
    result = {}
    result["scoring_cap"] = {
        "full_size_run": full,
        "max_abs_difference": max(abs(capped[k] - v) for k, v in full["figures"].items()
                                  if v is not None and capped.get(k) is not None)}
    result["large_photos"] = {
        "runs": photos,
        "marginal_ratio_12mp_to_vga": marginal(*photos["12mp"]) / marginal(*photos["vga"]),
        "peak_rss_growth_mib": photos["12mp"][1]["peak_rss_mib"]
        - photos["vga"][1]["peak_rss_mib"]}
    return result


def quick_parts(config: Path, *, sizes: tuple[int, int], repeats: int, forward: float,
                engine: float, roots: dict[str, Path]) -> dict:
    """The quick pipeline's marginal cost per image with the code at each of ``roots``,
    against one bare forward pass and the engine's predict + Grad-CAM. The roots' runs
    alternate (A, B, A, B, ...), so that load from other work weighs on them alike; each
    size's run of median wall time is kept."""
    every: dict = {label: {n: [] for n in sizes} for label in roots}
    for _ in range(repeats):
        for n in sizes:
            for label, root in roots.items():
                every[label][n].append(audit(config, limit=n, pipeline="quick.yaml",
                                             root=root))
    out = {}
    for label in roots:
        runs = []
        for n in sizes:
            ordered = sorted(every[label][n], key=lambda r: r["wall_s"])
            runs.append({**ordered[len(ordered) // 2],
                         "wall_s_all": [r["wall_s"] for r in every[label][n]]})
        per_image = marginal(*runs)
        out[label] = {
            "runs": runs, "marginal_s_per_image": per_image,
            "ratio_to_bare_forward": per_image / forward, "ratio_to_engine": per_image / engine,
            "predict_explain_s_per_image": (runs[1]["predict_explain_s"]
                                            - runs[0]["predict_explain_s"])
            / (sizes[1] - sizes[0])}
    return out


def audit_part(config: Path, *, n: int, forward: float, root: Path) -> dict:
    """The default audit of ``n`` images against ``n`` bare forward passes, and its model
    work per image (predict + explain)."""
    run = audit(config, limit=n, root=root)
    return {"run": run, "ratio_to_bare_forward": run["wall_s"] / n / forward,
            "predict_explain_s_per_image": run["predict_explain_s"] / n,
            "predict_explain_over_forward": run["predict_explain_s"] / n / forward}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--small", type=int, default=64)
    parser.add_argument("--large", type=int, default=320)
    parser.add_argument("--photos", type=int, default=160, help="12 MP and VGA photos")
    parser.add_argument("--repeats", type=int, default=3, help="runs per measurement (median)")
    parser.add_argument("--parts", nargs="+", choices=["quick", "photos", "audit"],
                        default=["quick", "photos", "audit"],
                        help="what to measure, each against the engine measured in the same "
                             "run (the default audit pipeline is the longest part)")
    parser.add_argument("--models", nargs="+", choices=["trained", "untrained"],
                        default=["trained", "untrained"], help="models of the audit part")
    parser.add_argument("--audit-n", type=int, default=320, help="images of the audit part")
    parser.add_argument("--before", type=Path, help="a checkout of earlier code to measure "
                                                    "in the same run")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    CACHE.mkdir(parents=True, exist_ok=True)
    model = make_model(CACHE / "mobilenet_v2_e8.keras",
                       make_photos(CACHE / "train", 480, sizes="mixed", seed=9))
    mixed = make_photos(CACHE / "mixed", max(args.large, args.audit_n), sizes="mixed")
    roots = {"after": ROOT} if args.before is None else {"before": args.before, "after": ROOT}
    forward = bare_forward_per_image(model, mixed, 64)
    result: dict = {"bare_forward_s_per_image": forward,
                    "engine_s_per_image": engine_per_image(model, mixed, 64)}
    engine = result["engine_s_per_image"]
    config = write_config(CACHE / "mixed", model, mixed)

    if "quick" in args.parts:
        result["quick"] = quick_parts(config, sizes=(args.small, args.large),
                                      repeats=args.repeats, forward=forward["best"],
                                      engine=engine, roots=roots)
    if "photos" in args.parts:
        result.update(large_photos(model, args.photos, args.repeats))
    if "audit" in args.parts:
        models = {"trained": model,
                  "untrained": make_untrained_model(CACHE / "mobilenet_v2_untrained.keras")}
        result["audit"] = {}
        for name in args.models:
            path = models[name]
            bare = forward if name == "trained" else bare_forward_per_image(path, mixed, 64)
            cfg = write_config(CACHE / f"mixed-{name}", path, mixed)
            result["audit"][name] = {"bare_forward_s_per_image": bare, **{
                label: audit_part(cfg, n=args.audit_n, forward=bare["best"], root=root)
                for label, root in roots.items()}}
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
