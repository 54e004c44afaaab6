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

from audit.app.terminal import EscapingStream, escape_controls
from audit.errors import AuditError, ExitCode
from audit.pipeline import PipelineError, StageError
from audit.version import __version__


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
    verify = sub.add_parser("verify", help="check an archived run folder against its SHA256SUMS "
                                           "(exit 0 intact, 1 modified, 2 not a run folder)")
    verify.add_argument("run_dir", metavar="RUN_DIR")
    return parser


def _verify(args) -> int:
    from audit.app.verify import verify_run

    code, problems = verify_run(args.run_dir)
    for problem in problems:
        print(f"{args.run_dir}: {problem}")
    if not problems:
        print(f"{args.run_dir}: intact (every file matches SHA256SUMS)")
    return code


def _run(args) -> int:
    from audit.app.run import run_audit
    from audit.config import load_config

    if args.limit is not None and args.limit < 1:
        raise AuditError(f"--limit must be a positive number of samples; got {args.limit}.")
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
    _append_step_summary(result.run_dir)
    try:
        _print_summary(result)
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return int(result.exit_code)


#: The file GitHub Actions shows as the job's summary; ``cam-audit run`` appends ``summary.md``.
STEP_SUMMARY_ENV_VAR = "GITHUB_STEP_SUMMARY"


def _append_step_summary(run_dir: Path) -> None:
    """Append the run's ``summary.md`` to ``$GITHUB_STEP_SUMMARY`` when that variable is set
    (GitHub Actions sets it in every step); a file that cannot be written is a warning."""
    target = os.environ.get(STEP_SUMMARY_ENV_VAR)
    source = Path(run_dir) / "summary.md"
    if not target or not source.exists():
        return
    try:
        with open(target, "a", encoding="utf-8") as handle:
            handle.write(source.read_text(encoding="utf-8") + "\n")
    except OSError as exc:
        print(f"warning: ${STEP_SUMMARY_ENV_VAR} ('{target}') cannot be written: {exc}",
              file=sys.stderr)


def _print_summary(result) -> None:
    summary = result.summary
    if summary is None:
        print(f"run folder: {result.run_dir} (the pipeline writes no summary)")
        return
    verdict = ("NO VERDICT (no gates configured)" if summary.passed is None
               else "PASSED" if summary.passed else "FAILED")
    print(f"{verdict}: {summary.n_samples} samples, accuracy {_pct(summary.accuracy)}, "
          f"{summary.n_skipped} skipped")
    from audit.cams.methods import ordered_methods
    from audit.report.sections.glance import checks_text

    for name in ordered_methods(summary.methods):  # the report's order
        figures = summary.methods[name]
        fixation = figures.background_fixation
        few = " (too few to judge)" if fixation.mean is not None and fixation.too_few else ""
        print(f"  {name:10s} background fixation {_pct(figures.background_fixation_rate)}"
              f" of misclassified ({fixation.count} of {fixation.n}{few}), "
              f"{_pct(figures.background_fixation_per_sample.mean)} of samples; pointing "
              f"{_pct(figures.pointing_accuracy)} "
              f"(centre baseline {_pct(summary.centre_baseline.mean)})"
              + (f"; {checks}" if (checks := checks_text(figures)) else ""))
    for name, gate in summary.gates.items():
        print(f"  gate {name}: {'pass' if gate.passed else 'FAIL'}: {gate.reason}")
    report = result.run_dir / "report.html"
    if report.exists():
        print(f"report: {report}")


def _pct(value) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def _validate(args) -> int:
    from audit.app.validate import validate

    for line in validate(args.config):
        print(line)
    return ExitCode.PASSED


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
    # What is printed comes partly from manifests: control characters are escaped.
    stdout, sys.stdout = sys.stdout, EscapingStream(sys.stdout)
    try:
        return _main(args)
    finally:
        sys.stdout = stdout


def _main(args) -> int:
    if args.command == "verify":
        try:
            return _verify(args)
        except (AuditError, PipelineError) as exc:
            print(f"cam-audit: error: {escape_controls(str(exc))}", file=sys.stderr)
            return ExitCode.BAD_INPUT
    _quiet_tensorflow()
    try:
        if args.command == "run":
            return _run(args)
        if args.command == "validate":
            return _validate(args)
        return _compare(args)
    except (AuditError, PipelineError) as exc:  # bad input, the audit's or the pipeline's
        print(f"cam-audit: error: {escape_controls(str(exc))}", file=sys.stderr)
        return ExitCode.BAD_INPUT
    except StageError as exc:
        print(f"cam-audit: internal error: {escape_controls(str(exc))} (traceback in the run "
              "folder's error.log)", file=sys.stderr)
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
        print(f"cam-audit: internal error: {type(exc).__name__}: {escape_controls(str(exc))}",
              file=sys.stderr)
        return ExitCode.INTERNAL_ERROR


if __name__ == "__main__":
    sys.exit(main())
