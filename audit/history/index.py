"""The history's rows: ``index.json`` in an output folder, one :class:`HistoryRow` per run,
newest first. A missing or corrupt ``index.json`` is rebuilt from the run folders' summaries
(:func:`audit.history.runs.run_summaries`), so the history can never be lost for good while
the runs are kept; a pruned run (``report.keep_runs``) lives on only as its row."""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError

from audit.history.runs import parse_time, run_summaries
from audit.io import atomic_write_json
from audit.summary import Change, RunSummary

__all__ = ["INDEX_JSON", "HistoryRow", "history_row", "load_index", "run_folder", "sort_key",
           "write_index"]

INDEX_JSON = "index.json"

Interval = tuple[float, float]


class HistoryRow(BaseModel):
    """One run in ``index.json``. Keys a later cam-audit adds are kept as they are; a row
    written before a key existed reads with its default (and is written back without it)."""

    model_config = ConfigDict(extra="allow", frozen=True)

    run_id: str
    run_name: str | None = None
    finished_at: str | None = None
    model_sha256: str | None = None
    manifest_sha256: str | None = None
    passed: bool | None = None
    accuracy: float | None = None
    accuracy_ci: Interval | None = None
    background_fixation_rate: dict[str, float | None] = {}  # method -> rate among errors
    background_fixation_rate_ci: dict[str, Interval | None] = {}
    # method -> fixated errors per sample: unlike the rate among errors, comparable run to run
    background_fixation_per_sample: dict[str, float | None] = {}
    background_fixation_per_sample_ci: dict[str, Interval | None] = {}
    energy_in_box_misclassified: dict[str, float | None] = {}  # method -> mean
    background_reliance: float | None = None  # the behavioural test's, when the run had it
    background_reliance_ci: Interval | None = None
    thresholds: dict[str, float] = {}  # gate (without its method) -> threshold
    baseline_run_id: str | None = None  # the run the changes are against
    changes: list[Change] = []  # flagged changes against the baseline run
    report: str = ""  # the run's report.html, relative to the output folder
    pruned: bool = False  # its folder was deleted by report.keep_runs


_ROWS = TypeAdapter(list[HistoryRow])


def sort_key(row: HistoryRow):
    moment = parse_time(row.finished_at)
    return (moment is not None, moment.timestamp() if moment else 0.0, row.run_id)


def _gate_base(name: str) -> str:
    return name.split("[", 1)[0]


def history_row(summary: RunSummary, run_dir, out_dir) -> HistoryRow:
    """The history row of one run (see :func:`update_history`)."""
    provenance = summary.provenance
    run_dir, out_dir = Path(run_dir), Path(out_dir)
    report = os.path.relpath(run_dir.resolve() / "report.html", out_dir.resolve())
    methods = summary.methods
    reliance = summary.behaviour.background_reliance if summary.behaviour else None
    thresholds: dict[str, float] = {}
    for name, gate in summary.gates.items():
        if gate.threshold is not None:
            thresholds.setdefault(_gate_base(name), gate.threshold)
    recorded = {}
    if "baseline_run_id" in summary.model_fields_set:  # unknown for older summaries
        recorded["baseline_run_id"] = summary.baseline_run_id
    return HistoryRow(
        run_id=summary.run_id or provenance.run_id or run_dir.name,
        run_name=summary.run_name,
        finished_at=provenance.finished_at,
        model_sha256=provenance.model_sha256,
        manifest_sha256=provenance.manifest_sha256,
        passed=summary.passed,
        accuracy=summary.accuracy,
        accuracy_ci=summary.correct.ci or summary.accuracy_ci,
        background_fixation_rate={m: f.background_fixation_rate for m, f in methods.items()},
        background_fixation_rate_ci={m: f.background_fixation.ci for m, f in methods.items()},
        background_fixation_per_sample={m: f.background_fixation_per_sample.mean
                                        for m, f in methods.items()},
        background_fixation_per_sample_ci={m: f.background_fixation_per_sample.ci
                                           for m, f in methods.items()},
        energy_in_box_misclassified={m: f.energy_in_box.misclassified.mean
                                     for m, f in methods.items()},
        background_reliance=reliance.value if reliance else None,
        background_reliance_ci=(reliance.ci_low, reliance.ci_high)
        if reliance and reliance.ci_low is not None and reliance.ci_high is not None else None,
        thresholds=thresholds,
        changes=list(summary.changes),
        report=Path(report).as_posix(),
        **recorded,
    )


def load_index(out_dir: Path) -> list[HistoryRow]:
    try:
        return _ROWS.validate_json((out_dir / INDEX_JSON).read_bytes())
    except (OSError, ValidationError):
        # Missing or corrupt: the run folders are the truth.
        return [history_row(summary, child, out_dir)
                for child, summary in run_summaries(out_dir)]


def run_folder(out_dir: Path, row: HistoryRow) -> Path | None:
    """The folder of a history row's run: the folder of its ``report``, when that is a plain
    child of ``out_dir`` (``"<run>/report.html"``); None otherwise."""
    parts = PurePosixPath(row.report).parts if row.report else ()
    if len(parts) != 2 or parts[0] in ("", ".", "..") or parts[0].startswith("."):
        return None
    return out_dir / parts[0]


def write_index(out_dir: Path, rows: list[HistoryRow]) -> Path:
    """Write ``out_dir/index.json`` atomically (each row without the keys it left unset)."""
    return atomic_write_json(out_dir / INDEX_JSON,
                             [r.model_dump(mode="json", exclude_unset=True) for r in rows])
