"""Run a pipeline: the stages before the stream, the per-batch stages over every batch, the
stages after it; with a run folder that makes the run resumable and its outputs atomic."""

from __future__ import annotations

import hashlib
import platform
import socket
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import yaml

from audit import __version__
from audit.config import AuditConfig, load_config, parse_config
from audit.errors import ConfigError, DatasetError
from audit.io import atomic_write_json, atomic_write_text
from audit.pipeline.build import Pipeline, load_pipeline
from audit.pipeline.run_folder import RunFolder, now_iso
from audit.records import read_records


def sha256_of(path: str | Path) -> str | None:
    """SHA-256 of a file, or of a folder's files (sorted relative paths and contents)."""
    path = Path(path)
    digest = hashlib.sha256()
    if path.is_file():
        files = [path]
    elif path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file())
    else:
        return None
    for file in files:
        if path.is_dir():
            digest.update(str(file.relative_to(path)).encode() + b"\0")
        with open(file, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


@dataclass
class RunContext:
    """What the stages may know about the run itself (the catalog's ``run``)."""

    run_id: str
    folder: RunFolder
    started_at: str
    pipeline: Pipeline
    quiet: bool = False
    baseline: Path | None = None
    history_dir: Path | None = None
    counts: dict = field(default_factory=dict)
    provenance: dict = field(default_factory=dict)
    max_skipped_fraction: float = 1.0
    _finished: str | None = None

    @property
    def run_dir(self) -> Path:
        return self.folder.path

    def final_summary(self, summary: dict, verdict: dict | None) -> dict:
        """The summary.json content: figures, counts, gates, verdict, provenance."""
        if self._finished is None:
            self._finished = now_iso()
        start = datetime.fromisoformat(self.started_at)
        end = datetime.fromisoformat(self._finished)
        provenance = dict(self.provenance, started_at=self.started_at,
                          finished_at=self._finished,
                          duration_s=round((end - start).total_seconds(), 1))
        verdict = verdict or {"gates": {}, "passed": True}
        fraction = self.counts.get("skipped_fraction")
        if fraction is not None and fraction > self.max_skipped_fraction:
            gate = {"value": fraction, "threshold": self.max_skipped_fraction, "passed": False,
                    "reason": f"{fraction:.1%} of the samples were skipped, above "
                              f"dataset.max_skipped_fraction {self.max_skipped_fraction:.1%}; "
                              "the figures describe only part of the dataset"}
            verdict = {"gates": {"max_skipped_fraction": gate, **verdict["gates"]},
                       "passed": False}
        out = {"schema_version": summary.get("schema_version", 1), "run_id": self.run_id,
               "run_name": self.provenance.get("run_name")}
        out.update(summary)
        out.update(self.counts)
        out["gates"] = verdict["gates"]
        out["passed"] = bool(verdict["passed"])
        out["provenance"] = provenance
        return out


@dataclass(frozen=True)
class RunResult:
    run_dir: Path
    summary: dict

    @property
    def exit_code(self) -> int:
        return 0 if self.summary.get("passed") else 1


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
        data.setdefault(section, {}).update(values)
    return parse_config(data, where=f"{pipeline.path} (stage parameters)")


def _provenance(config: AuditConfig, run_id: str, pipeline: Pipeline) -> dict:
    import keras
    import tensorflow as tf

    return {
        "run_id": run_id, "run_name": config.run_name, "pipeline": pipeline.name,
        "pipeline_path": str(pipeline.path) if pipeline.path else None,
        "model_path": str(config.model.path), "model_sha256": sha256_of(config.model.path),
        "manifest_path": str(config.dataset.path),
        "manifest_sha256": sha256_of(config.dataset.path),
        "dataset_format": config.dataset.format, "seed": config.seed,
        "python": sys.version.split()[0], "tensorflow": tf.__version__,
        "keras": keras.__version__, "cam_audit": __version__,
        "platform": platform.platform(), "host": socket.gethostname(),
        "gpus": len(tf.config.list_physical_devices("GPU")),
    }


def _progress(total: int, initial: int, quiet: bool):
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, unit="batch", desc="auditing", disable=quiet,
                file=sys.stderr, dynamic_ncols=True, mininterval=0.5)


def run_audit(config: AuditConfig | None = None, *, pipeline_path: str | Path | None = None,
              out_dir: str | Path | None = None, limit: int | None = None,
              resume: str | Path | None = None, quiet: bool = False,
              baseline: str | Path | None = None) -> RunResult:
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
        Audit only the first ``limit`` samples of the manifest.
    resume : path, optional
        An interrupted run's folder: continue from its last complete batch.
    """
    if resume is not None:
        folder = RunFolder(Path(resume))
        status = folder.read_status()
        if status.get("status") == "complete":
            raise ConfigError(f"Run '{folder.path}' is already complete; nothing to resume.")
        config = load_config(folder.path / "config.yaml")
        pipeline = load_pipeline(status["pipeline_path"])
        limit, run_id, started_at = status.get("limit"), status["run_id"], status["started_at"]
        folder.truncate_to(status)
        start_batch = int(status["completed_batches"])
        history_dir = Path(status["history_dir"]) if status.get("history_dir") else None
        baseline = baseline or status.get("baseline")
    else:
        if config is None:
            raise ConfigError("run_audit needs a configuration or a run folder to resume.")
        if config.demo is not None:
            from audit.demo import ensure_demo

            ensure_demo(config.demo.data_dir, size=config.demo.size, seed=config.seed,
                        quiet=quiet)
        pipeline = load_pipeline(pipeline_path or config.pipeline)
        history_dir = Path(config.report.out_dir)
        if out_dir is None:
            run_id, run_dir = _new_run_dir(history_dir, config.run_name)
        else:
            run_dir = Path(out_dir)
            run_id = run_dir.name
            if run_dir.exists() and any(run_dir.iterdir()):
                raise ConfigError(f"Output folder '{run_dir}' is not empty; choose another or "
                                  "remove it.")
            history_dir = None  # a run put elsewhere stays out of report.out_dir's history
        run_dir.mkdir(parents=True, exist_ok=True)
        folder = RunFolder(run_dir)
        started_at, start_batch = now_iso(), 0
        dump = config.resolved_dump()
        dump["pipeline"] = str(pipeline.path)
        atomic_write_text(folder.path / "config.yaml", yaml.safe_dump(dump, sort_keys=False))
        folder.start_files()
        folder.write_status(status="running", run_id=run_id, started_at=started_at,
                            pipeline_path=str(pipeline.path), limit=limit,
                            completed_batches=0,
                            history_dir=str(history_dir) if history_dir else None,
                            baseline=str(baseline) if baseline else None,
                            n_boxes_clipped_stream=0, **folder.lengths())
        status = folder.read_status()
    config = _apply_overrides(config, pipeline)
    ctx = RunContext(run_id=run_id, folder=folder, started_at=started_at, pipeline=pipeline,
                     quiet=quiet, baseline=Path(baseline) if baseline else None,
                     history_dir=history_dir,
                     provenance=_provenance(config, run_id, pipeline),
                     max_skipped_fraction=config.dataset.max_skipped_fraction)
    try:
        return _execute(config, pipeline, ctx, status, start_batch, limit)
    except BaseException as exc:
        folder.write_status(status="failed", error=f"{type(exc).__name__}: {exc}")
        raise


def _execute(config, pipeline, ctx, status, start_batch, limit) -> RunResult:
    from audit.datasets import StreamStats, iter_batches, n_batches

    folder = ctx.folder
    catalog: dict = {"config": config, "run": ctx}
    stages = list(pipeline.stages)
    batch_stages = [s for s in stages if s.per_batch]
    first_batch = stages.index(batch_stages[0]) if batch_stages else len(stages)
    before, after = stages[:first_batch], stages[first_batch + len(batch_stages):]
    for stage_ in before:
        catalog.update(stage_.run(catalog))

    stream_clipped = int(status.get("n_boxes_clipped_stream", 0))
    manifest = catalog.get("manifest")
    if batch_stages:
        if manifest is None or "model_info" not in catalog:
            raise ConfigError(f"{pipeline.path}: per-batch stages need load_model and "
                              "load_dataset before them.")
        samples = manifest.samples[:limit] if limit else manifest.samples
        if start_batch == 0:
            folder.append([], manifest.skipped)
            folder.write_status(**folder.lengths())
        info = catalog["model_info"]
        total = n_batches(len(samples), config.cams.batch_size)
        stats = StreamStats()
        with _progress(total, start_batch, ctx.quiet) as bar:
            for batch in iter_batches(samples, batch_size=config.cams.batch_size,
                                      input_size=info.input_size, channels=info.channels,
                                      preprocess=info.preprocessor, start_batch=start_batch,
                                      stats=stats):
                scope = dict(catalog, batch=batch)
                records = []
                if len(batch):
                    for stage_ in batch_stages:
                        scope.update(stage_.run(scope))
                    records = scope.get("batch_records", [])
                folder.append(records, batch.skipped)
                folder.write_status(completed_batches=batch.index + 1,
                                    n_boxes_clipped_stream=stream_clipped + stats.n_boxes_clipped,
                                    **folder.lengths())
                bar.update(1)
        stream_clipped += stats.n_boxes_clipped

    records = read_records(folder.records_partial)
    skipped = folder.read_skipped()
    n_samples = int(records["sample_id"].nunique()) if len(records) else 0
    n_skipped = int(skipped["sample_id"].nunique()) if len(skipped) else 0
    ctx.counts = {"n_skipped": n_skipped,
                  "n_boxes_clipped": (manifest.n_boxes_clipped if manifest else 0)
                  + stream_clipped,
                  "n_duplicates": manifest.n_duplicates if manifest else 0,
                  "skipped_fraction": n_skipped / max(1, n_skipped + n_samples)}
    if batch_stages and n_samples == 0:
        raise DatasetError(f"No sample of '{config.dataset.path}' could be audited "
                           f"({n_skipped} skipped); see {folder.skipped_partial}.")
    catalog.update(records=records, skipped=skipped)
    for stage_ in after:
        catalog.update(stage_.run(catalog))
    summary = ctx.final_summary(catalog.get("summary", {}), catalog.get("verdict"))
    atomic_write_json(folder.path / "summary.json", summary)
    folder.finish_files()
    fraction = ctx.counts["skipped_fraction"]
    if fraction > config.dataset.max_skipped_fraction:
        folder.write_status(status="failed", error="too many skipped samples")
        raise DatasetError(
            f"{n_skipped} of {n_skipped + n_samples} samples ({fraction:.1%}) of "
            f"'{config.dataset.path}' were skipped, above dataset.max_skipped_fraction "
            f"({config.dataset.max_skipped_fraction:.1%}); reasons in "
            f"{folder.path / 'skipped.csv'}. The results written are partial.")
    folder.write_status(status="complete", passed=summary["passed"])
    return RunResult(folder.path, summary)


__all__ = ["RunContext", "RunResult", "run_audit", "sha256_of"]
