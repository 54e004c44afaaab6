"""An audit run: a configuration, a pipeline of the audit's stages, and a run folder.

:func:`run_audit` sets up the run folder (or reopens an interrupted one), hands the pipeline
its inputs (``params:<section>`` for every section of the configuration, ``run`` for the
:class:`~audit.history.run_info.RunInfo`), lets :func:`audit.pipeline.run_pipeline` run it on the
engine the configuration names (``engine: local | beam``, see :mod:`audit.app.engines`), and keeps
``status.json`` truthful: ``running``, ``complete`` or ``failed`` (with the error, and the
traceback of an unexpected one in ``error.log``).
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from audit.app.engines import make_engine
from audit.app.pipelines import resolve_pipeline_path
from audit.app.provenance import start_provenance
from audit.config import AuditConfig, load_config, parse_config
from audit.errors import AuditError, ConfigError, DatasetError, ExitCode
from audit.history.run_info import RunInfo
from audit.io import atomic_write_text
from audit.pipeline import Pipeline, PipelineError, RunFolder, load_pipeline, run_pipeline
from audit.pipeline.run_folder import RunStatus, now_iso
from audit.redact import redact, redact_text
from audit.safe_yaml import dump_yaml, read_yaml
from audit.stages import STAGES
from audit.summary import RunSummary, Verdict

__all__ = ["RUN_INPUTS", "RunResult", "load_audit_pipeline", "run_audit"]

#: What a run puts in the catalog before any stage runs.
RUN_INPUTS: tuple[str, ...] = ("run",) + tuple(
    f"params:{name}" for name in AuditConfig.model_fields if name != "source")

#: The file an unexpected error's traceback is written to, in the run folder.
ERROR_LOG = "error.log"


@dataclass(frozen=True)
class RunResult:
    """A finished run: its folder, its summary (None when the pipeline has no ``report``
    stage) and the exit code its verdict calls for."""

    run_dir: Path
    summary: RunSummary | None
    exit_code: int


def load_audit_pipeline(path) -> Pipeline:
    """A pipeline file (a shipped one is found by its file name) built from the audit's stages
    (:data:`audit.stages.STAGES`)."""
    return load_pipeline(resolve_pipeline_path(path), table=STAGES, provided=RUN_INPUTS,
                         read=lambda file: read_yaml(file, what="pipeline file"))


def _new_run_dir(out_dir: Path, run_name: str) -> tuple[str, Path]:
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    run_id = f"{stamp}-{run_name}"
    candidate, n = out_dir / run_id, 1
    while candidate.exists():
        n += 1
        candidate = out_dir / f"{run_id}-{n}"
    return candidate.name, candidate


def _apply_overrides(config: AuditConfig, pipeline: Pipeline) -> AuditConfig:
    overrides = pipeline.overrides()
    if not overrides:
        return config
    data = config.resolved_dump()
    for section, values in overrides.items():
        if not isinstance(data.get(section, {}), dict):
            stage = next(s.name for s in pipeline.stages if s.own_section == section)
            raise ConfigError(f"{pipeline.path}: stage '{stage}' takes no parameters in a "
                              f"pipeline file: its section '{section}' is not a mapping; set it "
                              f"in the configuration; got {sorted(values)}.")
        data.setdefault(section, {}).update(values)
    return parse_config(data, where=f"{pipeline.path} (stage parameters)")


def _progress(quiet: bool):
    def bar(total: int, initial: int):
        from tqdm import tqdm

        return tqdm(total=total, initial=initial, unit="batch", desc="auditing", disable=quiet,
                    file=sys.stderr, dynamic_ncols=True, mininterval=0.5)

    return bar


def _start(config: AuditConfig, pipeline_path, out_dir, limit, baseline, quiet, prepare=None
           ) -> tuple[AuditConfig, Pipeline, RunFolder]:
    if config.demo is not None:
        from audit.demo import ensure_demo

        ensure_demo(config.demo.data_dir, size=config.demo.size, seed=config.seed, quiet=quiet)
    if limit is not None:
        config = config.model_copy(update={
            "dataset": config.dataset.model_copy(update={"limit": int(limit)})})
    pipeline = load_audit_pipeline(pipeline_path or config.pipeline)
    history_dir: Path | None = Path(config.report.out_dir)
    if out_dir is None:
        run_id, run_dir = _new_run_dir(history_dir, config.run_name)
    else:
        run_dir = Path(out_dir)
        run_id = run_dir.name
        if run_dir.exists() and not run_dir.is_dir():
            raise ConfigError(f"--out must name a folder (new or empty); got '{run_dir}', "
                              "which is a file")
        if run_dir.exists() and any(run_dir.iterdir()):
            raise ConfigError(f"Output folder '{run_dir}' is not empty; choose another or "
                              "remove it.")
        history_dir = None  # a run put elsewhere stays out of report.out_dir's history
    run_dir.mkdir(parents=True, exist_ok=True)
    folder = RunFolder(run_dir)
    extra = {}
    if prepare is not None:
        config, extra = prepare(config, run_dir)
    dump = redact(config.resolved_dump())  # no secret on disk (a resume takes them anew)
    dump["pipeline"] = str(pipeline.path)
    atomic_write_text(folder.path / "config.yaml", dump_yaml(dump, sort_keys=False))
    folder.write_status(status="running", run_id=run_id, started_at=now_iso(),
                        pipeline_path=str(pipeline.path),
                        history_dir=str(history_dir) if history_dir else None,
                        baseline=str(baseline) if baseline else None, **extra)
    return config, pipeline, folder


class AuditRunStatus(RunStatus):
    """``status.json`` of an audit run: the pipeline core's :class:`RunStatus` and what the
    audit records beside it."""

    pipeline_path: str | None = None
    history_dir: str | None = None
    baseline: str | None = None
    passed: bool | None = None
    error_log: str | None = None


def _fields_of(status: RunStatus) -> str:
    return repr(status.model_dump(exclude_unset=True))[:200]


def _check_baseline(baseline) -> None:
    """A baseline named by ``--baseline`` or ``report.baseline`` must be a readable run."""
    from audit.summary import read_summary

    try:
        read_summary(Path(baseline) / "summary.json")
    except AuditError as exc:
        raise ConfigError(f"the baseline run folder named by --baseline or report.baseline "
                          f"must be a finished run; got '{baseline}': {exc}") from None


def _with_engine(config: AuditConfig, engine: str | None) -> AuditConfig:
    if engine is None or engine == config.engine:
        return config
    if engine not in ("local", "beam"):
        raise ConfigError(f"engine must be 'local' or 'beam'; got {engine!r}.")
    return config.model_copy(update={"engine": engine})


def _reopen(resume, baseline, engine) -> tuple[AuditConfig, Pipeline, RunFolder]:
    folder = RunFolder(Path(resume))
    status = folder.read_status(AuditRunStatus)
    if status.complete:
        raise ConfigError(f"Run '{folder.path}' is already complete; nothing to resume.")
    if not status.pipeline_path or not status.run_id or not status.started_at:
        raise ConfigError(f"{folder.status_path}: run_id, started_at and pipeline_path must be "
                          f"recorded; got {_fields_of(status)}")
    config = _with_engine(load_config(folder.path / "config.yaml"), engine)
    pipeline = load_audit_pipeline(status.pipeline_path)
    folder.write_status(status="running", error=None,
                        baseline=str(baseline) if baseline else status.baseline)
    return config, pipeline, folder


def _inputs(config: AuditConfig, pipeline: Pipeline, folder: RunFolder) -> dict:
    status = folder.read_status(AuditRunStatus)
    history_dir, baseline = status.history_dir, status.baseline
    provenance = start_provenance(config, run_id=status.run_id, pipeline=pipeline.name,
                                  pipeline_path=str(pipeline.path))
    model_sha256 = getattr(status, "model_sha256", None)
    if model_sha256:  # a model handed in live: the hash of its weights
        provenance["model_sha256"] = model_sha256
    run = RunInfo(run_id=status.run_id, run_name=config.run_name, run_dir=folder.path,
                  started_at=status.started_at,
                  history_dir=Path(history_dir) if history_dir else None,
                  baseline=Path(baseline) if baseline else None,
                  provenance=redact(provenance),
                  config=config)
    params = {f"params:{name}": getattr(config, name)
              for name in AuditConfig.model_fields if name != "source"}
    return {"run": run, **params}


def _failed(folder: RunFolder, exc: BaseException) -> None:
    fields = {"status": "failed", "error": redact_text(f"{type(exc).__name__}: {exc}")}
    if not isinstance(exc, AuditError | PipelineError | KeyboardInterrupt):
        log = "".join(traceback.format_exception(exc))
        atomic_write_text(folder.path / ERROR_LOG, log)
        fields["error_log"] = ERROR_LOG
    folder.write_status(**fields)


def run_audit(config: AuditConfig | None = None, *, pipeline_path: str | Path | None = None,
              out_dir: str | Path | None = None, limit: int | None = None,
              resume: str | Path | None = None, quiet: bool = False,
              baseline: str | Path | None = None, engine: str | None = None,
              live_model=None,
              prepare: Callable[[AuditConfig, Path], tuple[AuditConfig, dict]] | None = None
              ) -> RunResult:
    """Run an audit, or resume an interrupted one from its run folder.

    Parameters
    ----------
    config : AuditConfig
        The validated configuration (ignored with ``resume``: the run folder's copy is used).
    pipeline_path : path, optional
        Overrides ``config.pipeline``.
    out_dir : path, optional
        The run folder; default ``<report.out_dir>/<run-id>``, which also adds the run to
        that folder's history (``index.html``) and compares it with the previous run on the
        same dataset. A run with ``out_dir`` compares only with an explicit ``baseline``.
    limit : int, optional
        Audit only the first ``limit`` samples of the manifest (sets ``dataset.limit``).
    resume : path, optional
        An interrupted run's folder: continue from its last complete batch.
    baseline : path, optional
        A run folder to compare with.
    engine : {"local", "beam"}, optional
        Overrides ``config.engine`` (also when resuming: both engines give the same results,
        so a run may go on with the other one).
    live_model : keras.Model, optional
        Explained in place of loading ``model.path`` (the ``load_model`` stage's optional
        input ``live_model``); the local engine only (:func:`audit.app.api.run`).
    prepare : callable, optional
        ``prepare(config, run_dir) -> (config, status fields)``, called once the new run
        folder exists and before its ``config.yaml`` is written: it may put inputs there (a
        dataset's images, a model file) and point the configuration at them. Its status
        fields are kept in ``status.json`` (``model_sha256`` replaces the provenance's).

    Raises
    ------
    AuditError
        Bad configuration or input (exit code 2); the run folder's status says ``failed``.
    StageError
        A stage failed unexpectedly (exit code 3); its traceback is in ``error.log``.
    """
    stream_engine = None
    named = baseline if baseline is not None else (
        config.report.baseline if config is not None and resume is None else None)
    if named is not None:
        _check_baseline(named)  # before anything runs: a mistyped path is bad input
    if resume is not None:
        config, pipeline, folder = _reopen(resume, baseline, engine)
    else:
        if config is None:
            raise ConfigError("run_audit needs a configuration or a run folder to resume.")
        config = _with_engine(config, engine)
        stream_engine = make_engine(config)  # a missing Beam or bad beam.options: no run folder
        config, pipeline, folder = _start(config, pipeline_path, out_dir, limit, baseline, quiet,
                                          prepare)
    try:
        config = _apply_overrides(config, pipeline)
        stream_engine = stream_engine or make_engine(config)
        inputs = _inputs(config, pipeline, folder)
        if live_model is not None:
            inputs["live_model"] = live_model
        catalog = run_pipeline(pipeline, inputs, folder=folder,
                               progress=_progress(quiet), engine=stream_engine)
        verdict: Verdict = catalog.get("verdict", Verdict())
        if verdict.exit_code == ExitCode.BAD_INPUT:
            summary = catalog["summary"]
            raise DatasetError(
                f"{summary.n_skipped} of {summary.n_skipped + summary.n_samples} samples "
                f"({summary.skipped_fraction:.1%}) of '{config.dataset.path}' were skipped, "
                f"above dataset.max_skipped_fraction ({config.dataset.max_skipped_fraction:.1%})"
                f"; reasons in {folder.path / 'skipped.csv'}. The results written are partial.")
    except BaseException as exc:
        _failed(folder, exc)
        raise
    folder.write_status(status="complete", passed=verdict.passed)
    folder.write_manifest()  # last: SHA256SUMS of every file, for `cam-audit verify`
    return RunResult(folder.path, catalog.get("results"), verdict.exit_code)
