"""The baseline of a run: the run it is compared with (``cam-audit run --baseline``,
``report.baseline``, or the most recent earlier completed run on the same dataset in the output
folder's history)."""

from __future__ import annotations

import datetime as _dt
from pathlib import Path

from audit.config import ReportSection
from audit.history.run_info import RunInfo
from audit.history.runs import completed, parse_time, run_summaries
from audit.summary import Provenance, RunSummary

__all__ = ["baseline_of", "find_baseline"]


def _same_dir(a: Path, b) -> bool:
    if b is None:
        return False
    try:
        return a.resolve() == Path(b).resolve()
    except OSError:
        return False


def find_baseline(out_dir, *, summary: RunSummary, exclude_run_dir=None) -> Path | None:
    """The most recent earlier completed run in ``out_dir`` on the same dataset, or None.

    A candidate is a child folder of ``out_dir`` (not ``exclude_run_dir``, not the same run
    id) whose ``summary.json`` (any readable schema version) has the same
    ``provenance.manifest_sha256`` as ``summary``, whose ``status.json`` (when present) says
    ``complete`` and whose ``provenance.finished_at`` is a timestamp no later than this run's
    finish (or start, when it has not finished yet). The latest by ``finished_at`` wins.
    """
    provenance = summary.provenance
    manifest = provenance.manifest_sha256
    if not manifest:
        return None
    run_id = summary.run_id or provenance.run_id
    limit = parse_time(provenance.finished_at) or parse_time(provenance.started_at)
    best: tuple[_dt.datetime, str] | None = None
    best_dir = None
    for child, other in run_summaries(Path(out_dir)):
        if _same_dir(child, exclude_run_dir):
            continue
        if other.provenance.manifest_sha256 != manifest:
            continue
        if run_id and (other.run_id or other.provenance.run_id) == run_id:
            continue
        finished = parse_time(other.provenance.finished_at)
        if finished is None or (limit is not None and finished > limit):
            continue
        if not completed(child):
            continue
        key = (finished, child.name)
        if best is None or key > best:
            best, best_dir = key, child
    return best_dir


def baseline_of(run: RunInfo, report: ReportSection) -> Path | None:
    """The baseline run folder of a run that is still going (its summary is not written yet).

    ``run.baseline`` (``cam-audit run --baseline``) wins, then ``report.baseline``; otherwise
    the most recent earlier completed run in the run's history (``run.history_dir``) on the
    same dataset (the manifest SHA-256 recorded at the run's start), finished before this run
    started. None when there is none, and for a run put elsewhere with ``--out`` that names
    no baseline.
    """
    for explicit in (run.baseline, report.baseline):
        if explicit is not None:
            return Path(explicit)
    if run.history_dir is None:
        return None
    lookup = RunSummary(run_id=run.run_id, provenance=Provenance(**{
        **dict(run.provenance), "run_id": run.run_id, "started_at": run.started_at,
        "finished_at": None}))
    return find_baseline(run.history_dir, summary=lookup, exclude_run_dir=run.run_dir)
