"""The run folder: status, the configuration as run, and records appended batch by batch.

While a run is going, records and skipped samples are appended to ``records.partial.csv`` and
``skipped.partial.csv``; after each batch ``status.json`` is replaced atomically with the
number of completed batches and the byte length of both files. A run killed at any moment
resumes by truncating the partial files to the last recorded lengths and continuing with the
next batch. On completion the partial files are renamed to ``records.csv`` and ``skipped.csv``.
"""

from __future__ import annotations

import csv
import io
import json
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from audit.errors import ConfigError
from audit.io import atomic_write_json
from audit.records import RECORD_COLUMNS, ScoreRecord

SKIPPED_COLUMNS = ("sample_id", "image", "reason")


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _format_value(value) -> str:
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, float):
        if value != value:  # NaN
            return ""
        return f"{value:.6g}"
    return str(value)


def records_csv_rows(records: list[ScoreRecord]) -> str:
    """CSV text for records (no header); floats to 6 significant digits, NaN as empty."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    for r in records:
        writer.writerow([_format_value(getattr(r, c)) for c in RECORD_COLUMNS])
    return buffer.getvalue()


def skipped_csv_rows(skipped) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    for s in skipped:
        writer.writerow([s.sample_id, s.image, s.reason])
    return buffer.getvalue()


@dataclass
class RunFolder:
    """One run's folder on disk."""

    path: Path
    _status: dict | None = field(default=None, repr=False)

    @property
    def status_path(self) -> Path:
        return self.path / "status.json"

    @property
    def records_partial(self) -> Path:
        return self.path / "records.partial.csv"

    @property
    def skipped_partial(self) -> Path:
        return self.path / "skipped.partial.csv"

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

    # ------------------------------------------------------------ appending
    def start_files(self) -> None:
        """Fresh partial files holding only their headers."""
        self.records_partial.write_text(",".join(RECORD_COLUMNS) + "\n", encoding="utf-8")
        self.skipped_partial.write_text(",".join(SKIPPED_COLUMNS) + "\n", encoding="utf-8")

    def lengths(self) -> dict:
        return {"records_bytes": self.records_partial.stat().st_size,
                "skipped_bytes": self.skipped_partial.stat().st_size}

    def truncate_to(self, status: dict) -> None:
        """Cut the partial files back to the last completed batch."""
        for path, key in ((self.records_partial, "records_bytes"),
                          (self.skipped_partial, "skipped_bytes")):
            if not path.exists():
                raise ConfigError(f"Cannot resume '{self.path}': {path.name} is missing.")
            with open(path, "r+b") as handle:
                handle.truncate(int(status[key]))

    def append(self, records: list[ScoreRecord], skipped) -> None:
        for path, text in ((self.records_partial, records_csv_rows(records)),
                           (self.skipped_partial, skipped_csv_rows(skipped))):
            if text:
                with open(path, "a", encoding="utf-8", newline="") as handle:
                    handle.write(text)
                    handle.flush()
                    os.fsync(handle.fileno())

    def finish_files(self) -> tuple[Path, Path]:
        records, skipped = self.path / "records.csv", self.path / "skipped.csv"
        os.replace(self.records_partial, records)
        os.replace(self.skipped_partial, skipped)
        return records, skipped

    def read_skipped(self, path: Path | None = None) -> pd.DataFrame:
        return pd.read_csv(path or self.skipped_partial, dtype=str, keep_default_na=False)
