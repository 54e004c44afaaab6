"""Retention of an output folder's runs: ``report.keep_runs``.

Only the newest ``keep_runs`` run folders of the history are kept, and the baseline of each of
them (a kept report's comparison can always be checked against its baseline); the rest are
deleted. A folder is deleted only when it is plainly a finished cam-audit run of this history:
a folder directly under the output folder (not a link), whose ``status.json`` says
``complete`` (or ``failed`` after writing its results) and whose ``summary.json`` names the
run of the history's row. A running, interrupted or foreign folder is never touched, and
neither is anything outside the output folder.

The history keeps every pruned run's row (``pruned: true``) so its trends survive; the caller
writes the history first and deletes second (:func:`delete_runs`): a folder is renamed to a
hidden ``.pruned-<name>`` (atomic, and no longer a run to any reader) and then removed, and a
deletion interrupted half-way is finished by the next run.
"""

from __future__ import annotations

import shutil
import warnings
from collections.abc import Sequence
from pathlib import Path

from audit.errors import AuditError
from audit.history.index import HistoryRow, run_folder
from audit.pipeline.errors import RunFolderError
from audit.pipeline.run_folder import RunStatus
from audit.summary import read_summary

__all__ = ["TRASH_PREFIX", "delete_runs", "plan_retention", "run_folder"]  # run_folder: index's

#: What a run folder is renamed to while it is deleted; hidden, so no reader takes it for a run.
TRASH_PREFIX = ".pruned-"


def _finished_run_of(folder: Path, out_dir: Path, run_id: str) -> bool:
    """Whether ``folder`` is a finished cam-audit run folder of ``run_id`` directly in
    ``out_dir``, the only kind of folder retention deletes."""
    try:
        if folder.is_symlink() or not folder.is_dir():
            return False
        if folder.resolve().parent != out_dir.resolve():
            return False
        status = RunStatus.read(folder / "status.json")
        summary = read_summary(folder / "summary.json")
    except (OSError, ValueError, AuditError, RunFolderError):
        return False
    if not status.finished:
        return False
    return (summary.run_id or summary.provenance.run_id or folder.name) == run_id


def _baselines(rows: Sequence[HistoryRow], index: int) -> set[str]:
    """The run id of the baseline of ``rows[index]``: the one it recorded, or, for a row of an
    earlier cam-audit that did not record it, the run it would have found (the next older row
    on the same dataset)."""
    row = rows[index]
    if "baseline_run_id" in row.model_fields_set:
        return {row.baseline_run_id} if row.baseline_run_id else set()
    if not row.manifest_sha256:
        return set()
    older = next((r for r in rows[index + 1:] if r.manifest_sha256 == row.manifest_sha256),
                 None)
    return {older.run_id} if older is not None else set()


def plan_retention(rows: Sequence[HistoryRow], out_dir: Path, *, keep_runs: int,
                   current: str | None = None) -> tuple[list[HistoryRow], list[Path]]:
    """Which run folders to delete to keep ``keep_runs`` runs.

    Parameters
    ----------
    rows : sequence of HistoryRow
        The history, newest first.
    out_dir : Path
        The output folder.
    keep_runs : int
        How many runs with a folder to keep (at least 1).
    current : str, optional
        The run being recorded now: always kept.

    Returns
    -------
    (rows, folders)
        The rows with those to delete marked ``pruned``, and their folders.
    """
    if keep_runs < 1:
        raise ValueError(f"keep_runs must be 1 or more; got keep_runs={keep_runs!r}")
    rows = list(rows)
    present = [i for i, r in enumerate(rows)
               if (folder := run_folder(out_dir, r)) is not None and folder.is_dir()]
    kept = present[:keep_runs]
    protected = {current} | {rows[i].run_id for i in kept}
    for i in kept:
        protected |= _baselines(rows, i)
    doomed = []
    for i in present[keep_runs:]:
        row = rows[i]
        folder = run_folder(out_dir, row)
        if row.run_id in protected or not _finished_run_of(folder, out_dir, row.run_id):
            continue
        rows[i] = row.model_copy(update={"pruned": True})
        doomed.append(folder)
    return rows, doomed


def delete_runs(out_dir: Path, folders: Sequence[Path]) -> list[Path]:
    """Delete run folders (each renamed to a hidden ``.pruned-<name>`` first, then removed),
    and what an interrupted deletion left behind. A folder that cannot be deleted is left
    with a warning: its row already says pruned, and the next run tries again.

    Returns
    -------
    list of Path
        The folders deleted.
    """
    deleted = []
    for folder in folders:
        trash = out_dir / f"{TRASH_PREFIX}{folder.name}"
        try:
            if trash.exists():
                shutil.rmtree(trash)
            folder.rename(trash)
        except OSError as error:
            warnings.warn(f"cam-audit: could not delete the old run folder {folder} "
                          f"(report.keep_runs): {error}", stacklevel=2)
            continue
        deleted.append(folder)
    for leftover in sorted(out_dir.glob(f"{TRASH_PREFIX}*")):
        if leftover.is_dir() and not leftover.is_symlink():
            shutil.rmtree(leftover, ignore_errors=True)
    return deleted
