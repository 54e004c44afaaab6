"""Throughput of the audit on Beam's Dask runner with 1 and 2 workers (dask.distributed
LocalCluster, one process and one thread each), against the local engine, and the constants of
the cost model in docs/benchmarks.md.

Run: ``python benchmarks/bench_dask.py [--images 128] [--json out.json]``.

Per variant, in this process: the stream's wall time (the engine's ``run_stream``), the time to
the first merged batch (start-up: a worker imports TensorFlow, loads the model, traces its
graphs), the driver's time in ``Collector.add`` (the merge), and the cluster's start. Every
variant's ``records.csv`` must equal the local engine's.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path


def _timed_engines(marks: dict) -> None:
    from audit.pipeline import Collector, LocalEngine
    from audit.pipeline.beam import BeamEngine

    def timed(run_stream):
        def wrapper(*args, **kwargs):
            marks["stream_start"] = time.perf_counter()
            marks.pop("first_batch", None)
            marks["merge"] = 0.0
            try:
                return run_stream(*args, **kwargs)
            finally:
                marks["stream_end"] = time.perf_counter()
        return wrapper

    add = Collector.add

    def timed_add(self, index, outputs):
        marks.setdefault("first_batch", time.perf_counter())
        start = time.perf_counter()
        try:
            return add(self, index, outputs)
        finally:
            marks["merge"] += time.perf_counter() - start

    LocalEngine.run_stream = timed(LocalEngine.run_stream)
    BeamEngine.run_stream = timed(BeamEngine.run_stream)
    Collector.add = timed_add


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    # One thread per worker process (inherited by the Dask workers), and the same in the driver.
    for name in ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS", "OMP_NUM_THREADS"):
        os.environ[name] = "1"
    from dask.distributed import LocalCluster

    from audit.app.run import run_audit
    from audit.config import parse_config
    from audit.demo import generate_dataset
    from audit.demo.train import build_model

    marks: dict = {}
    _timed_engines(marks)
    results = {"images": args.images, "batch_size": args.batch_size, "runs": []}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        build_model(input_size=64, n_classes=3).save(root / "model.keras")
        generate_dataset(root / "audit", n_images=args.images, image_size=64,
                         background_correlation=0.0, seed=1)
        base = {"run_name": "bench", "pipeline": "quick.yaml",
                "model": {"path": str(root / "model.keras"),
                          "class_names": ["circle", "square", "triangle"]},
                "dataset": {"path": str(root / "audit" / "manifest.csv")},
                "cams": {"batch_size": args.batch_size, "methods": ["gradcam", "gradcam++"]},
                "metrics": {"pointing_tolerance_px": 4}}
        reference = None

        def run(name, data, started=None):
            nonlocal reference
            out = root / name
            result = run_audit(parse_config(data, base_dir=root), out_dir=out, quiet=True)
            records = (out / "records.csv").read_bytes()
            reference = reference or records
            row = {"variant": name, "stream_seconds": marks["stream_end"] - marks["stream_start"],
                   "first_batch_seconds": marks["first_batch"] - marks["stream_start"],
                   "merge_seconds": marks["merge"], "cluster_start_seconds": started,
                   "records_identical": records == reference, "exit": int(result.exit_code)}
            steady = row["stream_seconds"] - row["first_batch_seconds"]
            row["steady_images_per_second"] = (args.images - args.batch_size) / steady
            row["images_per_second"] = args.images / row["stream_seconds"]
            results["runs"].append(row)
            print(json.dumps(row), flush=True)

        run("local", base)
        for workers in (1, 2):
            start = time.perf_counter()
            with LocalCluster(n_workers=workers, processes=True, threads_per_worker=1,
                              dashboard_address=None) as cluster:
                started = time.perf_counter() - start
                options = ["--runner=DaskRunner",
                           f"--dask_client_address={cluster.scheduler_address}"]
                run(f"dask-{workers}", {**base, "engine": "beam", "beam": {"options": options}},
                    started)
    print(json.dumps(results, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    if not all(r["records_identical"] for r in results["runs"]):
        raise SystemExit("records differ between variants")


if __name__ == "__main__":
    main()
