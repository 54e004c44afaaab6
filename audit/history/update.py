"""Recording a run in its output folder's history: its row in ``index.json`` and, with
``report.keep_runs``, the retention of the run folders (:mod:`audit.history.retention`).

The caller renders ``index.html`` between the two steps
(:func:`audit.report.history.update_history`):
:func:`record_run` writes ``index.json`` with the pruned rows marked, and only then
:func:`finish_retention` deletes their folders, so a pruned run's row is on disk first.
"""

from __future__ import annotations

from pathlib import Path

from audit.history.index import (
    HistoryRow,
    history_row,
    load_index,
    run_folder,
    sort_key,
    write_index,
)
from audit.history.retention import TRASH_PREFIX, delete_runs, plan_retention
from audit.summary import RunSummary

__all__ = ["finish_retention", "record_run"]


def _unprune(rows: list[HistoryRow], out_dir: Path) -> list[HistoryRow]:
    """Rows marked pruned whose folder is still there (a deletion that did not finish) are
    runs again; retention decides anew."""
    return [r.model_copy(update={"pruned": False})
            if r.pruned and (folder := run_folder(out_dir, r)) is not None and folder.is_dir()
            else r for r in rows]


def record_run(out_dir, *, summary: RunSummary, run_dir, keep_runs: int | None = None
               ) -> tuple[list[HistoryRow], Path, list[Path]]:
    """Add (or replace) this run's row in ``out_dir/index.json`` and, with ``keep_runs``,
    plan which run folders retention deletes (their rows marked ``pruned``).

    Returns
    -------
    (rows, index.json path, folders to delete)
        The rows newest first; pass the folders to :func:`finish_retention` once everything
        else the history shows is written.
    """
    out_dir = Path(out_dir)
    row = history_row(summary, run_dir, out_dir)
    rows = [r for r in load_index(out_dir) if r.run_id != row.run_id]
    rows.append(row)
    rows.sort(key=sort_key, reverse=True)
    rows = _unprune(rows, out_dir)
    doomed: list[Path] = []
    if keep_runs is not None:
        rows, doomed = plan_retention(rows, out_dir, keep_runs=keep_runs, current=row.run_id)
    return rows, write_index(out_dir, rows), doomed


def finish_retention(out_dir, doomed: list[Path]) -> None:
    """Delete the folders :func:`record_run` pruned, and what an interrupted deletion left."""
    out_dir = Path(out_dir)
    if doomed or any(out_dir.glob(f"{TRASH_PREFIX}*")):
        delete_runs(out_dir, doomed)
