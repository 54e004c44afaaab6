"""The runs of an output folder as the history reads them: every child folder with a readable
``summary.json``, its ``records.csv``, whether it finished, and the times it records."""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from audit.errors import AuditError
from audit.metrics.records import read_records
from audit.pipeline.errors import RunFolderError
from audit.pipeline.run_folder import RunStatus
from audit.summary import RunSummary, read_summary

__all__ = ["completed", "load_records", "parse_time", "run_summaries"]


def parse_time(value: str | None) -> _dt.datetime | None:
    """An ISO 8601 time (``Z`` for UTC; a time without zone is UTC), or None when it is
    missing or no time."""
    if not value:
        return None
    try:
        moment = _dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=_dt.UTC)
    return moment


def run_summaries(out_dir: Path) -> Iterator[tuple[Path, RunSummary]]:
    """(run folder, summary) of every child folder of ``out_dir`` with a readable
    ``summary.json``; unreadable ones are not runs of the history."""
    if not out_dir.is_dir():
        return
    for child in sorted(out_dir.iterdir()):
        if child.name.startswith(".") or not (child / "summary.json").is_file():
            continue  # hidden: a run folder being deleted (retention) is no run any more
        try:
            yield child, read_summary(child / "summary.json")
        except AuditError:
            continue




def load_records(run_dir) -> pd.DataFrame | None:
    """A run folder's ``records.csv``, or None when it is missing or unreadable (the
    comparison then goes without pairing or per-sample changes, and says so)."""
    path = Path(run_dir) / "records.csv"
    if not path.is_file():
        return None
    try:
        return read_records(path)
    except (OSError, ValueError, KeyError, pd.errors.ParserError):
        return None


def completed(run_dir: Path) -> bool:
    """Whether a run folder holds a finished run: its ``status.json`` says ``complete`` (a
    ``summary.json`` without a ``status.json`` was written by a finished run too)."""
    try:
        return RunStatus.read(run_dir / "status.json").complete
    except FileNotFoundError:
        return True
    except RunFolderError:
        return False
