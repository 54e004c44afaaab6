"""Peak memory of an audit does not grow with the dataset.

Run: ``python benchmarks/bench_memory.py [--sizes 200 2000] [--json out.json]``.

Generates decorrelated demo audit sets of each size (64 x 64 shapes), saves an untrained demo
CNN (memory does not depend on the weights), and runs ``cam-audit run`` on each in a fresh
process, reading that process's own peak resident set size. The target: peak RSS at 2,000
images at most 1.25 x peak RSS at 200 images (docs/benchmarks.md).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml


def child(config_path: str) -> None:
    """Run one audit in this process and print its peak RSS (MiB) and duration."""
    from audit.app.cli import main

    start = time.perf_counter()
    code = main(["run", config_path, "--quiet"])
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"exit": code, "peak_rss_mib": peak_kib / 1024,
                      "seconds": time.perf_counter() - start}))


def prepare(root: Path, n_images: int, model_path: Path) -> Path:
    from audit.demo import generate_dataset

    data = root / f"audit{n_images}"
    generate_dataset(data, n_images=n_images, image_size=64, background_correlation=0.0,
                     seed=1)
    config = {
        "run_name": f"mem{n_images}",
        "model": {"path": str(model_path), "class_names": ["circle", "square", "triangle"]},
        "dataset": {"path": str(data / "manifest.csv")},
        "cams": {"batch_size": 32, "scorecam_max_channels": 16},
        "metrics": {"pointing_tolerance_px": 4},
        "report": {"out_dir": str(root / "reports")},
    }
    path = root / f"config{n_images}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[200, 2000])
    parser.add_argument("--json", default=None)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child)
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    from audit.demo.train import build_model

    results = {"runs": []}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        model_path = root / "model.keras"
        build_model(input_size=64, n_classes=3).save(model_path)
        for n in args.sizes:
            config = prepare(root, n, model_path)
            out = subprocess.run([sys.executable, __file__, "--child", str(config)],
                                 capture_output=True, text=True, check=True)
            row = json.loads(out.stdout.strip().splitlines()[-1])
            row["n_images"] = n
            results["runs"].append(row)
            print(json.dumps(row), flush=True)
    first, last = results["runs"][0], results["runs"][-1]
    results["ratio_peak_rss"] = last["peak_rss_mib"] / first["peak_rss_mib"]
    print(json.dumps(results, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
