"""The run folder: status, and the tables the stream appends to, checkpointed batch by batch.

While the stream goes, each collected table is appended to ``<name>.partial.csv``; after each
item ``status.json`` is replaced atomically with the number of completed items, the byte
length of every table and the counts so far. A run killed at any moment resumes by truncating
the tables to the recorded lengths and going on with the next item. When the stream is done the
tables are renamed to ``<name>.csv`` and the status says so, so a run that fails after the
stream resumes without streaming again.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
from pydantic import BaseModel, ConfigDict, ValidationError

from audit.io import atomic_write_json
from audit.pipeline import tables
from audit.pipeline.errors import RunFolderError

__all__ = ["Checkpoint", "RunFolder", "RunStatus", "now_iso"]


def now_iso() -> str:
    """The current UTC time, ISO 8601, to the second."""
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Checkpoint:
    """How far the stream got: items done, table lengths in bytes, counts, and whether the
    stream is complete (its tables renamed to their final names)."""

    completed: int = 0
    lengths: Mapping[str, int] = field(default_factory=dict)
    counts: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    stream_complete: bool = False


class RunStatus(BaseModel):
    """``status.json``: where a run stands. The runner's checkpoint (``completed_batches``,
    ``tables``, ``counts``, ``stream_complete``, ``stage_seconds``) and what the application
    records beside it (``status``: ``running``, ``complete`` or ``failed``; the run's id,
    start, error, ...): keys this model does not name are kept as they are."""

    model_config = ConfigDict(extra="allow", frozen=True)

    status: str | None = None
    run_id: str | None = None
    started_at: str | None = None
    updated_at: str | None = None
    error: str | None = None
    completed_batches: int = 0
    tables: dict[str, int] = {}
    counts: dict[str, dict[str, int]] = {}
    stream_complete: bool = False
    stage_seconds: dict[str, float] = {}

    @property
    def complete(self) -> bool:
        """The run finished (``status`` says ``complete``)."""
        return self.status == "complete"

    @property
    def finished(self) -> bool:
        """The run ended and wrote its results: ``complete``, or ``failed`` after them."""
        return self.status in ("complete", "failed")

    @classmethod
    def read(cls, path: Path) -> RunStatus:
        """Read ``path``.

        Raises
        ------
        FileNotFoundError
            There is no such file.
        RunFolderError
            It is unreadable or not a status.
        """
        try:
            return cls.model_validate_json(Path(path).read_bytes())
        except FileNotFoundError:
            raise
        except (OSError, ValidationError) as exc:
            raise RunFolderError(f"{path}: unreadable run status: {exc}") from None


@dataclass
class RunFolder:
    """One run's folder on disk."""

    path: Path
    _status: dict | None = field(default=None, repr=False)

    @property
    def status_path(self) -> Path:
        return self.path / "status.json"

    def partial(self, name: str) -> Path:
        return self.path / f"{name}.partial.csv"

    def final(self, name: str) -> Path:
        return self.path / f"{name}.csv"

    # ------------------------------------------------------------------ status
    def read_status(self, model: type[RunStatus] = RunStatus) -> RunStatus:
        """The run's ``status.json``, as ``model`` (a subclass may name the caller's keys).

        Raises
        ------
        RunFolderError
            The folder has no ``status.json`` (it is not a run folder) or an unreadable one.
        """
        try:
            status = model.read(self.status_path)
        except FileNotFoundError:
            raise RunFolderError(f"'{self.path}' is not a run folder: it has no "
                                 "status.json.") from None
        self._status = status.model_dump(exclude_unset=True)
        return status

    def write_status(self, **fields) -> RunStatus:
        """Update the status with ``fields`` and replace status.json atomically."""
        if self._status is None and self.status_path.exists():
            self.read_status()
        self._status = {**(self._status or {}), **fields, "updated_at": now_iso()}
        atomic_write_json(self.status_path, self._status)
        return RunStatus.model_validate(self._status)

    def _current(self) -> RunStatus:
        if self._status is not None:
            return RunStatus.model_validate(self._status)
        return self.read_status() if self.status_path.exists() else RunStatus()

    def checkpoint(self) -> Checkpoint:
        """The stream's progress recorded in the status (a fresh run has none)."""
        status = self._current()
        return Checkpoint(completed=status.completed_batches, lengths=dict(status.tables),
                          counts=dict(status.counts), stream_complete=status.stream_complete)

    def save_checkpoint(self, checkpoint: Checkpoint,
                        seconds: dict[str, float] | None = None) -> None:
        fields = {} if seconds is None else {"stage_seconds": {k: round(v, 3)
                                                               for k, v in seconds.items()}}
        self.write_status(completed_batches=checkpoint.completed,
                          tables=dict(checkpoint.lengths),
                          counts={k: dict(v) for k, v in checkpoint.counts.items()},
                          stream_complete=checkpoint.stream_complete, **fields)

    def stage_seconds(self) -> dict[str, float]:
        """Wall time per stage so far (``stage_seconds`` in the status; empty for a new run)."""
        return dict(self._current().stage_seconds)

    # ------------------------------------------------------------------ tables
    def open_tables(self, row_types: Mapping[str, type], checkpoint: Checkpoint) -> dict:
        """Start the tables (headers only) or, resuming, cut them back to the checkpoint.

        Returns the byte length of every table.
        """
        lengths = {}
        for name, row_type in row_types.items():
            path = self.partial(name)
            if name in checkpoint.lengths:
                if not path.exists():
                    raise RunFolderError(f"Cannot resume '{self.path}': {path.name} is missing.")
                with open(path, "r+b") as handle:
                    handle.truncate(int(checkpoint.lengths[name]))
            else:
                path.write_text(tables.header(row_type), encoding="utf-8")
            lengths[name] = path.stat().st_size
        return lengths

    def append(self, name: str, rows, row_type: type) -> int:
        """Append ``rows`` to the table ``name`` (flushed to disk); return its new length."""
        path = self.partial(name)
        text = tables.format_rows(rows, row_type)
        if text:
            with open(path, "a", encoding="utf-8", newline="") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
        return path.stat().st_size

    def finish_tables(self, names) -> None:
        """Rename the partial tables to their final names."""
        for name in names:
            os.replace(self.partial(name), self.final(name))

    def read_table(self, name: str, row_type: type) -> pd.DataFrame:
        """A finished table as a DataFrame (see :func:`audit.pipeline.tables.read_table`)."""
        path = self.final(name)
        if not path.exists():
            raise RunFolderError(f"Cannot read '{path}': the run folder lacks its table '{name}'.")
        return tables.read_table(path, row_type)
