"""Where an audit's time goes: each stage's cost as a ratio to the ``predict`` stage, measured in
one run of ``cam-audit run`` (``status.json``'s ``stage_seconds``). A pipeline whose ``explain``
stage makes the predictions (the shipped ones) has no ``predict`` stage: the unit is then the
engine's ``predict`` timed on the same images in this process, after the run.

    python benchmarks/bench_stages.py CONFIG [--limit N] [--pipeline FILE] [--json OUT]

The targets are ratios, so they hold on any machine:

- ``behaviour`` <= 2.3 x ``predict`` (two edited copies per sample, plus the fills);
- ``background_swap``: three forward passes and two image reads per sample (reported, no
  target);
- ``faithfulness`` per map <= 1.2 x (2 steps + 1) forward passes, a forward pass costing what
  ``predict`` costs per image in the same run.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from audit.config import load_config

ROOT = Path(__file__).resolve().parents[1]


def run(config: Path, *, limit: int | None, pipeline: str | None) -> tuple[dict, dict, float]:
    """``(stage_seconds, summary, wall)`` of one audit in a fresh process."""
    out = Path(tempfile.mkdtemp(prefix="bench-stages-")) / "run"
    command = [sys.executable, "-m", "audit", "run", str(config), "--out", str(out), "--quiet"]
    if limit:
        command += ["--limit", str(limit)]
    if pipeline:
        command += ["--pipeline", pipeline]
    start = time.perf_counter()
    code = subprocess.run(command, cwd=ROOT, stdout=subprocess.DEVNULL).returncode
    wall = time.perf_counter() - start
    if code not in (0, 1):
        raise SystemExit(f"the audit failed with exit code {code}; see {out}")
    status = json.loads((out / "status.json").read_text())
    summary = json.loads((out / "summary.json").read_text())
    return status["stage_seconds"], summary, wall


def predict_seconds(config, *, limit: int | None) -> float:
    """Seconds the engine's ``predict`` takes on the run's images (batches as the run's)."""
    from audit.stages.load_dataset import load_dataset
    from audit.stages.load_model import load_model

    explainer, class_names, info = load_model(config.model, config.cams)
    _, stream = load_dataset(config.dataset, config.cams, class_names, info)
    batches = [stream.load(spec) for spec in stream.specs]
    images = [b.images for b in batches if len(b)]
    if limit:
        kept, left = [], limit
        for b in images:
            kept.append(b[:left])
            left -= len(kept[-1])
            if left <= 0:
                break
        images = kept
    explainer.predict(images[0][:1])  # trace
    start = time.perf_counter()
    for b in images:
        explainer.predict(b)
    return time.perf_counter() - start


def ratios(seconds: dict, summary: dict, config, *, limit: int | None = None) -> dict:
    """The stage costs as ratios to ``predict``, and faithfulness per map in forward passes."""
    n = summary["n_samples"]
    predict = seconds.get("predict") or predict_seconds(config, limit=limit)
    out = {"n_samples": n, "predict_s": predict, "forward_ms_per_image": 1000 * predict / n,
           "stages_over_predict": {k: v / predict for k, v in seconds.items()}}
    faithfulness = (summary.get("baselines") or {}).get("random")
    if faithfulness and "faithfulness" in seconds:
        methods = [m for m, f in summary["methods"].items() if f.get("faithfulness")]
        n_maps = faithfulness["n"] * (len(methods) + len(summary["baselines"]))
        steps = config.faithfulness.steps
        per_map = seconds["faithfulness"] / n_maps
        out["faithfulness"] = {
            "maps": n_maps, "steps": steps, "seconds_per_map": per_map,
            "forward_passes_per_map": per_map / (predict / n),
            "target_passes": 1.2 * (2 * steps + 1)}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("config", type=Path)
    parser.add_argument("--limit", type=int)
    parser.add_argument("--pipeline")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    seconds, summary, wall = run(args.config, limit=args.limit, pipeline=args.pipeline)
    config = load_config(args.config)  # the validated configuration: defaults filled in
    result = {"wall_s": wall, "stage_seconds": seconds,
              **ratios(seconds, summary, config, limit=args.limit)}
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
