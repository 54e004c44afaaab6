"""The run folder: status, and the tables the stream appends to, checkpointed batch by batch.

While the stream goes, each collected table is appended to ``<name>.partial.csv``; after each
item ``status.json`` is replaced atomically with the number of completed items, the byte
length of every table and the counts so far. A run killed at any moment resumes by truncating
the tables to the recorded lengths and going on with the next item. When the stream is done the
tables are renamed to ``<name>.csv`` and the status says so, so a run that fails after the
stream resumes without streaming again.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from audit.errors import ConfigError
from audit.io import atomic_write_json
from audit.pipeline import tables

__all__ = ["Checkpoint", "RunFolder", "now_iso"]


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
    def read_status(self) -> dict:
        try:
            self._status = json.loads(self.status_path.read_text(encoding="utf-8"))
            return dict(self._status)
        except FileNotFoundError:
            raise ConfigError(f"'{self.path}' is not a cam-audit run folder: it has no "
                              "status.json.") from None
        except (OSError, json.JSONDecodeError) as exc:
            raise ConfigError(f"{self.status_path}: unreadable run status: {exc}") from None

    def write_status(self, **fields) -> dict:
        """Update the status with ``fields`` and replace status.json atomically."""
        if self._status is None:
            self._status = self.read_status() if self.status_path.exists() else {}
        self._status.update(fields, updated_at=now_iso())
        atomic_write_json(self.status_path, self._status)
        return dict(self._status)

    def checkpoint(self) -> Checkpoint:
        """The stream's progress recorded in the status (a fresh run has none)."""
        status = self._status if self._status is not None else (
            self.read_status() if self.status_path.exists() else {})
        return Checkpoint(completed=int(status.get("completed_batches", 0)),
                          lengths=dict(status.get("tables", {})),
                          counts=dict(status.get("counts", {})),
                          stream_complete=bool(status.get("stream_complete", False)))

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
        status = self._status if self._status is not None else (
            self.read_status() if self.status_path.exists() else {})
        return dict(status.get("stage_seconds", {}))

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
                    raise ConfigError(f"Cannot resume '{self.path}': {path.name} is missing.")
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
            raise ConfigError(f"Cannot read '{path}': the run folder lacks its table '{name}'.")
        return tables.read_table(path, row_type)
