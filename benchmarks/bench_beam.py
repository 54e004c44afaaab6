"""Wall time of the same audit on the local engine and on Apache Beam's DirectRunner.

Run: ``python benchmarks/bench_beam.py [--images 300] [--repeats 3] [--json out.json]``.

Generates a decorrelated demo audit set (64 x 64 shapes), saves an untrained demo CNN (time does
not depend on the weights), and runs the whole audit (``cam-audit run``: all four methods,
Score-CAM top 16 channels, aggregate, gallery, report) once per variant and repeat, each in a
fresh process, timing the whole run, its stream (the engine's ``run_stream``: for Beam, from
submitting the job to merging its last batch) and the stream's first batch (start-up):

* ``local``: the local engine;
* ``beam-inprocess``: ``engine: beam``, the DirectRunner in the driver's process;
* ``beam-1-process`` / ``beam-2-processes``: the DirectRunner with
  ``--direct_running_mode=multi_processing --direct_num_workers=N``.

TensorFlow's thread pools are pinned per process with ``TF_NUM_INTRAOP_THREADS``,
``TF_NUM_INTEROP_THREADS`` and ``OMP_NUM_THREADS`` (inherited by Beam's worker processes):
the cores divided by the number of processes that compute, so that two workers do not fight
over the same cores. Every variant's ``records.csv`` must be identical to the local engine's.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

VARIANTS = {  # name: (engine, Beam options, processes that compute)
    "local": ("local", [], 1),
    "beam-inprocess": ("beam", [], 1),
    "beam-1-process": ("beam", ["--direct_running_mode=multi_processing",
                                "--direct_num_workers=1"], 1),
    "beam-2-processes": ("beam", ["--direct_running_mode=multi_processing",
                                  "--direct_num_workers=2"], 2),
}


def child(config_path: str, out: str) -> None:
    """Run one audit in this process and print its duration, the stream's (the engine's
    ``run_stream``) and the time from the stream's start to the first batch merged."""
    from audit.app.cli import main
    from audit.pipeline import Collector, LocalEngine
    from audit.pipeline.beam import BeamEngine

    marks: dict[str, float] = {}

    def timed(run_stream):
        def wrapper(*args, **kwargs):
            marks["stream_start"] = time.perf_counter()
            try:
                return run_stream(*args, **kwargs)
            finally:
                marks["stream_end"] = time.perf_counter()
        return wrapper

    add = Collector.add

    def first_add(self, index, outputs):
        marks.setdefault("first_batch", time.perf_counter())
        return add(self, index, outputs)

    LocalEngine.run_stream = timed(LocalEngine.run_stream)
    BeamEngine.run_stream = timed(BeamEngine.run_stream)
    Collector.add = first_add
    start = time.perf_counter()
    code = main(["run", config_path, "--quiet", "--out", out])
    print(json.dumps({"exit": code, "seconds": time.perf_counter() - start,
                      "stream_seconds": marks["stream_end"] - marks["stream_start"],
                      "first_batch_seconds": marks["first_batch"] - marks["stream_start"]}))


def prepare(root: Path, n_images: int) -> tuple[Path, Path]:
    from audit.demo import generate_dataset
    from audit.demo.train import build_model

    model_path = root / "model.keras"
    build_model(input_size=64, n_classes=3).save(model_path)
    data = root / "audit"
    generate_dataset(data, n_images=n_images, image_size=64, background_correlation=0.0, seed=1)
    return model_path, data / "manifest.csv"


def write_config(root: Path, name: str, model: Path, manifest: Path) -> Path:
    engine, options, _ = VARIANTS[name]
    config = {
        "run_name": name,
        "model": {"path": str(model), "class_names": ["circle", "square", "triangle"]},
        "dataset": {"path": str(manifest)},
        "cams": {"batch_size": 32, "scorecam_max_channels": 16},
        "metrics": {"pointing_tolerance_px": 4},
        "report": {"out_dir": str(root / "reports")},
        "engine": engine,
        "beam": {"options": options},
    }
    path = root / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--variants", nargs="+", default=list(VARIANTS), choices=list(VARIANTS))
    parser.add_argument("--json", default=None)
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(*args.child)
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    cores = os.cpu_count() or 1
    results = {"images": args.images, "cores": cores, "runs": []}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        model, manifest = prepare(root, args.images)
        reference = None
        for repeat in range(args.repeats):
            for name in args.variants:  # interleaved, so load from others hits all alike
                processes = VARIANTS[name][2]
                threads = str(max(1, cores // processes))
                env = dict(os.environ, TF_NUM_INTRAOP_THREADS=threads,
                           TF_NUM_INTEROP_THREADS="1", OMP_NUM_THREADS=threads)
                out = root / f"{name}-{repeat}"
                config = write_config(root, name, model, manifest)
                start = time.perf_counter()
                done = subprocess.run([sys.executable, __file__, "--child", str(config),
                                       str(out)], capture_output=True, text=True, env=env)
                wall = time.perf_counter() - start
                if done.returncode != 0:
                    sys.exit(f"{name} failed:\n{done.stderr[-3000:]}")
                row = json.loads(done.stdout.strip().splitlines()[-1])
                records = (out / "records.csv").read_bytes()
                reference = reference or records
                row.update(variant=name, repeat=repeat, wall_seconds=wall,
                           tf_threads_per_process=int(threads),
                           records_identical_to_first=records == reference)
                results["runs"].append(row)
                print(json.dumps(row), flush=True)
    results["median_seconds"] = {
        name: statistics.median(r["seconds"] for r in results["runs"] if r["variant"] == name)
        for name in args.variants}
    for key in ("wall_seconds", "stream_seconds", "first_batch_seconds"):
        results[f"median_{key}"] = {
            name: statistics.median(r[key] for r in results["runs"] if r["variant"] == name)
            for name in args.variants}
    results["steady_images_per_second"] = {  # after the first batch: start-up excluded
        name: statistics.median(
            (args.images - 32) / (r["stream_seconds"] - r["first_batch_seconds"])
            for r in results["runs"] if r["variant"] == name) for name in args.variants}
    print(json.dumps(results, indent=2))
    if not all(r["records_identical_to_first"] for r in results["runs"]):
        sys.exit("records differ between variants")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
