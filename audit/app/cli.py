"""The ``cam-audit`` command line.

Exit codes mean one thing each: 0 the audit passed every gate; 1 a gate failed; 2 bad
configuration or input (the message names the file, key or layer); 3 an internal error (one
line names the stage and the exception; the traceback is in the run folder's ``error.log``).
``cam-audit compare`` is a report, not a verdict: it exits 0 whatever the comparison finds
(2 when a run folder cannot be read), and its answer is in ``comparison.json``'s ``overall``.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from audit import __version__
from audit.errors import AuditError, ExitCode
from audit.pipeline.runner import StageError


def _quiet_tensorflow() -> None:
    """Start TensorFlow without its C++ start-up chatter (CUDA probes, absl notices).

    Those lines are written to file descriptor 2 by native code while TensorFlow imports and
    looks for GPUs, so they are silenced by pointing the descriptor at /dev/null for just that
    moment; Python exceptions still propagate. Set CAM_AUDIT_TF_LOGS=1 to see them.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if os.environ.get("CAM_AUDIT_TF_LOGS") == "1" or "tensorflow" in sys.modules:
        return
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
            import tensorflow as tf

            tf.config.list_physical_devices("GPU")
    finally:
        os.dup2(saved, 2)
        os.close(saved)
    # Python-side notices too (a retracing warning when the sanity check explains copies of
    # the model is expected, not a problem the user can act on).
    tf.get_logger().setLevel("ERROR")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cam-audit",
        description="Audit a trained Keras image classifier with class activation maps.",
        epilog="Exit codes: 0 passed, 1 a gate failed, 2 bad configuration or input, "
               "3 an internal error. compare is a report: it exits 0 whatever it finds; its "
               "answer is 'overall' in comparison.json.")
    parser.add_argument("--version", action="version", version=f"cam-audit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser("run", help="run an audit (default config: ./config.yaml)")
    run.add_argument("config", nargs="?", default="config.yaml", help="configuration YAML")
    run.add_argument("--out", metavar="DIR", help="run folder (default: <report.out_dir>/<run-id>)")
    run.add_argument("--pipeline", metavar="FILE", help="pipeline YAML (overrides the config's)")
    run.add_argument("--limit", type=int, metavar="N", help="audit only the first N samples")
    run.add_argument("--resume", metavar="RUN_DIR",
                     help="continue an interrupted run from its last complete batch")
    run.add_argument("--baseline", metavar="RUN_DIR",
                     help="compare with this run instead of the previous run on the same data")
    run.add_argument("--engine", choices=("local", "beam"),
                     help="run the batches here (local) or on Apache Beam (beam; see "
                          "beam.options); overrides the config's engine")
    run.add_argument("--quiet", "-q", action="store_true", help="no progress output")

    validate = sub.add_parser("validate", help="check config, model, layer and dataset")
    validate.add_argument("config", nargs="?", default="config.yaml")

    compare = sub.add_parser("compare", help="compare two runs: production A, candidate B")
    compare.add_argument("run_a", metavar="RUN_A")
    compare.add_argument("run_b", metavar="RUN_B")
    compare.add_argument("--out", metavar="FILE",
                         help="write the HTML comparison here (and comparison.json beside it)")
    compare.add_argument("--json", metavar="FILE", dest="json_out",
                         help="write the comparison as JSON here: every figure with its test "
                              "and assessment, and the overall answer")
    return parser


def _run(args) -> int:
    from audit.app.run import run_audit
    from audit.config import load_config

    if args.limit is not None and args.limit < 1:
        raise AuditError(f"--limit must be a positive number of samples; received {args.limit}.")
    if args.quiet:
        logging.getLogger("apache_beam").setLevel(logging.ERROR)  # Beam's notices, too
    if args.resume:
        result = run_audit(resume=args.resume, quiet=args.quiet, baseline=args.baseline,
                           engine=args.engine)
    else:
        config = load_config(args.config)
        result = run_audit(config, pipeline_path=args.pipeline, out_dir=args.out,
                           limit=args.limit, quiet=args.quiet, baseline=args.baseline,
                           engine=args.engine)
    try:
        _print_summary(result)
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return int(result.exit_code)


def _print_summary(result) -> None:
    summary = result.summary
    if summary is None:
        print(f"run folder: {result.run_dir} (the pipeline writes no summary)")
        return
    verdict = "PASSED" if summary.passed else "FAILED"
    print(f"{verdict}: {summary.n_samples} samples, accuracy {_pct(summary.accuracy)}, "
          f"{summary.n_skipped} skipped")
    for name, figures in summary.methods.items():
        fixation = figures.background_fixation
        few = " (too few to judge)" if fixation.mean is not None and fixation.too_few else ""
        print(f"  {name:10s} background fixation {_pct(figures.background_fixation_rate)}"
              f" of misclassified ({fixation.count} of {fixation.n}{few}), "
              f"{_pct(figures.background_fixation_per_sample.mean)} of samples; pointing "
              f"{_pct(figures.pointing_accuracy)} "
              f"(centre baseline {_pct(summary.centre_baseline.mean)})")
    for name, gate in summary.gates.items():
        print(f"  gate {name}: {'pass' if gate.passed else 'FAIL'}: {gate.reason}")
    report = result.run_dir / "report.html"
    if report.exists():
        print(f"report: {report}")


def _pct(value) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def _validate(args) -> int:
    from audit.app.engines import make_engine, runner_name
    from audit.app.run import load_audit_pipeline
    from audit.config import load_config
    from audit.stages.load_dataset import load_dataset
    from audit.stages.load_model import load_model, require_single_label

    config = load_config(args.config)
    pipeline = load_audit_pipeline(config.pipeline)
    make_engine(config)  # Beam installed, and its options accepted
    if config.demo is not None and not Path(config.model.path).exists():
        print(f"config ok; the demo model '{config.model.path}' will be built on first run")
        return ExitCode.PASSED
    explainer, class_names, info = load_model(config.model, config.cams)
    for stage in pipeline.stages:  # a multi-label model in a pipeline it cannot run: say so now
        if stage.name in ("behaviour", "faithfulness", "sanity"):
            require_single_label(info, stage.name)
    manifest, batches = load_dataset(config.dataset, config.cams, class_names, info)
    if config.slices:
        from audit.analysis.slices import extract_slice_keys

        extract_slice_keys(manifest, config.slices)  # a missing column is an error here too
    print(f"config ok: {args.config}")
    print(f"pipeline: {pipeline.name} ({', '.join(s.name for s in pipeline.stages)})")
    print(f"model: {config.model.path} (input {info.input_size[0]}x{info.input_size[1]}x"
          f"{info.channels}, {len(class_names)} classes, head {info.head}"
          + (", multi-label" if info.multilabel else "") + ")")
    print(f"layer: {info.layer} ({info.layer_channels} channels)")
    engine = config.engine + (f" ({runner_name(config.beam.options)})"
                              if config.engine == "beam" else "")
    print(f"engine: {engine}")
    print(f"dataset: {config.dataset.path} ({config.dataset.format}): "
          f"{len(manifest.samples)} samples in {len(batches)} batches, "
          f"{len(manifest.skipped)} skipped entries")
    for skipped in manifest.skipped[:10]:
        print(f"  skipped {skipped.sample_id}: {skipped.reason}")
    _print_cost(config, pipeline, explainer, info, batches)
    return ExitCode.PASSED


def _print_cost(config, pipeline, explainer, info, batches) -> None:
    """The run's cost in forward passes per stage, and a time estimate from the first batch."""
    import time

    import numpy as np

    from audit.app.cost import format_cost, stage_costs

    seconds_per_pass, error_rate = None, 0.5
    first = batches.load(batches.specs[0]) if len(batches) else None
    if first is not None and len(first):
        explainer.predict(first.images[:1])  # trace once, outside the timing
        start = time.perf_counter()
        predicted = explainer.predict(first.images).predicted
        seconds_per_pass = (time.perf_counter() - start) / len(first)
        labels = np.array([s.label for s in first.samples])
        error_rate = float(np.mean(predicted != labels))
    n = sum(len(spec.samples) for spec in batches.specs)
    costs = stage_costs(config, [s.name for s in pipeline.stages], n_samples=n,
                        layer_channels=info.layer_channels, error_rate=error_rate)
    lines, costly = format_cost(costs, n_samples=n, seconds_per_pass=seconds_per_pass)
    print("\n".join(lines))
    if config.cams.scorecam_channels is None and info.layer_channels > 256 and any(
            s.name == "explain" for s in pipeline.stages) and "scorecam" in config.cams.methods:
        print(f"warning: Score-CAM weighs all {info.layer_channels} channels of '{info.layer}': "
              f"{info.layer_channels} masked forward passes per map. The default "
              "cams.scorecam_max_channels (top channels by spatial variance) is close to the "
              "exact maps at a fraction of the cost (docs/benchmarks.md).")
    if costly:
        print("warning: this audit is long. What costs most is in the table above: lower "
              "cams.scorecam_max_channels, faithfulness.max_samples or faithfulness.steps, or "
              "run the quick pipeline (--pipeline quick.yaml) for a first look.")


def _compare(args) -> int:
    from audit.report import compare_runs
    from audit.report.compare import COMPARISON_JSON

    for run in (args.run_a, args.run_b):
        if not (Path(run) / "summary.json").is_file():
            raise AuditError(f"'{run}' is not a completed cam-audit run folder (no summary.json).")
    _, table = compare_runs(args.run_a, args.run_b, out_path=args.out, json_path=args.json_out)
    print(table)
    if args.out:
        print(f"comparison: {args.out} and {Path(args.out).parent / COMPARISON_JSON}")
    if args.json_out:
        print(f"comparison JSON: {args.json_out}")
    # A report, not a verdict: the answer is in the output, the exit code stays 0.
    return ExitCode.PASSED


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.command is None:
        _parser().print_help()
        return ExitCode.BAD_INPUT
    _quiet_tensorflow()
    try:
        if args.command == "run":
            return _run(args)
        if args.command == "validate":
            return _validate(args)
        return _compare(args)
    except AuditError as exc:
        print(f"cam-audit: error: {exc}", file=sys.stderr)
        return ExitCode.BAD_INPUT
    except StageError as exc:
        print(f"cam-audit: internal error: {exc} (traceback in the run folder's error.log)",
              file=sys.stderr)
        return ExitCode.INTERNAL_ERROR
    except KeyboardInterrupt:
        print("cam-audit: interrupted; resume with --resume RUN_DIR", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader of our output went away (`cam-audit run | head`); the outputs are on
        # disk. Exit as a piped tool does, without a traceback.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except Exception as exc:  # a defect outside any stage: never exit 1 like a verdict
        print(f"cam-audit: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return ExitCode.INTERNAL_ERROR


if __name__ == "__main__":
    sys.exit(main())
