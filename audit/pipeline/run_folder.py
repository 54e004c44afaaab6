"""The run folder: status, and the tables the stream appends to, checkpointed batch by batch.

While the stream goes, each collected table is appended to ``<name>.partial.csv``; after each
item ``status.json`` is replaced atomically with the number of completed items, the byte
length and SHA-256 of every table and the counts so far, sealed by a SHA-256 of them all. A run
killed at any moment resumes by checking each table's first recorded bytes against their
digest, truncating the tables to the recorded lengths and going on with the next item. When the
stream is done the tables are renamed to ``<name>.csv`` and the status says so, so a run that
fails after the stream resumes without streaming again (its tables checked whole).

A resume never repairs: a table shorter than its checkpoint, bytes that do not match their
digest, a status whose seal does not match, or a checkpoint written by another version
(:data:`CHECKPOINT_VERSION`) is refused (``RunFolderError``, exit 2), naming the file.

A finished run folder carries ``SHA256SUMS`` (:meth:`RunFolder.write_manifest`, the format of
``sha256sum``), so that an archived folder can be checked later (:meth:`RunFolder.verify`,
``sha256sum -c SHA256SUMS``).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
from pydantic import BaseModel, ConfigDict, ValidationError

from audit.io import atomic_write_json, atomic_write_text
from audit.pipeline import tables
from audit.pipeline.errors import RunFolderError

__all__ = ["CHECKPOINT_VERSION", "MANIFEST_NAME", "Checkpoint", "RunFolder", "RunStatus",
           "now_iso"]

#: The checkpoint's layout; a run folder checkpointed by another layout is not resumed.
CHECKPOINT_VERSION = 2

#: The file of a finished run folder listing every other file's SHA-256.
MANIFEST_NAME = "SHA256SUMS"

_CHUNK = 1 << 20


def now_iso() -> str:
    """The current UTC time, ISO 8601, to the second."""
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class Checkpoint:
    """How far the stream got: items done, table lengths in bytes, counts, whether the
    stream is complete (its tables renamed to their final names), and the SHA-256 of every
    table's recorded bytes."""

    completed: int = 0
    lengths: Mapping[str, int] = field(default_factory=dict)
    counts: Mapping[str, Mapping[str, int]] = field(default_factory=dict)
    stream_complete: bool = False
    digests: Mapping[str, str] = field(default_factory=dict)

    def seal(self) -> str:
        """SHA-256 of everything the checkpoint records (status.json edited by hand fails)."""
        state = {"completed": self.completed, "lengths": dict(self.lengths),
                 "counts": {k: dict(v) for k, v in self.counts.items()},
                 "stream_complete": self.stream_complete, "digests": dict(self.digests)}
        text = json.dumps(state, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()


def file_sha256(path: Path, length: int | None = None):
    """The running SHA-256 of the first ``length`` bytes of ``path`` (all when ``None``), and
    how many bytes there were."""
    digest = hashlib.sha256()
    read = 0
    with open(path, "rb") as handle:
        while length is None or read < length:
            block = handle.read(_CHUNK if length is None else min(_CHUNK, length - read))
            if not block:
                break
            digest.update(block)
            read += len(block)
    return digest, read


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
    _hashes: dict = field(default_factory=dict, repr=False)

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

    def _modified(self, what: str) -> RunFolderError:
        return RunFolderError(f"run folder {self.path} was modified after its checkpoint: {what}; "
                           "start a new run")

    def checkpoint(self) -> Checkpoint:
        """The stream's progress recorded in the status (a fresh run has none).

        Raises
        ------
        RunFolderError
            The status holds a checkpoint of another version, or one whose seal does not
            match what it records.
        """
        status = self._current().model_dump(exclude_unset=True)
        if "tables" not in status and "completed_batches" not in status:
            return Checkpoint()
        if status.get("checkpoint_version") != CHECKPOINT_VERSION:
            raise RunFolderError(
                f"run folder {self.path} was written by another version "
                f"(checkpoint version {status.get('checkpoint_version')!r}; this one reads "
                f"{CHECKPOINT_VERSION}) and cannot be resumed; start a new run")
        try:
            checkpoint = Checkpoint(completed=int(status["completed_batches"]),
                                    lengths={k: int(v) for k, v in status["tables"].items()},
                                    counts=dict(status["counts"]),
                                    stream_complete=bool(status["stream_complete"]),
                                    digests=dict(status["table_sha256"]))
            sealed = status["checkpoint_sha256"]
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise self._modified(f"status.json lacks or garbles its checkpoint ({exc!r:.80})"
                                 ) from None
        if checkpoint.seal() != sealed:
            raise self._modified("status.json's checkpoint does not match its SHA-256")
        if set(checkpoint.digests) != set(checkpoint.lengths):
            raise self._modified("status.json records a table without its SHA-256")
        return checkpoint

    def save_checkpoint(self, checkpoint: Checkpoint,
                        seconds: dict[str, float] | None = None) -> None:
        fields = {} if seconds is None else {"stage_seconds": {k: round(v, 3)
                                                               for k, v in seconds.items()}}
        self.write_status(checkpoint_version=CHECKPOINT_VERSION,
                          completed_batches=checkpoint.completed,
                          tables=dict(checkpoint.lengths),
                          counts={k: dict(v) for k, v in checkpoint.counts.items()},
                          stream_complete=checkpoint.stream_complete,
                          table_sha256=dict(checkpoint.digests),
                          checkpoint_sha256=checkpoint.seal(), **fields)

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
                    raise self._modified(f"{path.name} is missing")
                self._hashes[name] = self._check_prefix(path, checkpoint.lengths[name],
                                                        checkpoint.digests[name])
                with open(path, "r+b") as handle:
                    handle.truncate(int(checkpoint.lengths[name]))
            else:
                text = tables.header(row_type)
                path.write_text(text, encoding="utf-8")
                self._hashes[name] = hashlib.sha256(text.encode("utf-8"))
            lengths[name] = path.stat().st_size
        return lengths

    def _check_prefix(self, path: Path, length: int, expected: str):
        size = path.stat().st_size
        if size < length:
            raise self._modified(f"{path.name} is {size:,} bytes, shorter than the {length:,} "
                                 "bytes its checkpoint recorded")
        digest, _ = file_sha256(path, length)
        if digest.hexdigest() != expected:
            raise self._modified(f"{path.name}: its first {length:,} bytes do not match their "
                                 "SHA-256 in the checkpoint")
        return digest

    def table_digests(self) -> dict[str, str]:
        """The SHA-256 of every open table as written so far."""
        return {name: h.hexdigest() for name, h in self._hashes.items()}

    def verify_tables(self, checkpoint: Checkpoint) -> None:
        """Check the finished tables against a complete stream's checkpoint (length and
        SHA-256 of the whole file); raise ``RunFolderError`` naming the first that differs."""
        for name, length in checkpoint.lengths.items():
            path = self.final(name)
            if not path.exists():
                raise self._modified(f"{path.name} is missing")
            if path.stat().st_size != length:
                raise self._modified(f"{path.name} is {path.stat().st_size:,} bytes; its "
                                     f"checkpoint recorded {length:,}")
            self._check_prefix(path, length, checkpoint.digests[name])

    # ------------------------------------------------------------------ manifest
    def write_manifest(self) -> Path:
        """Write ``SHA256SUMS``: the SHA-256 of every file of the folder (``sha256sum``'s
        format, paths relative to the folder, sorted). Call it last."""
        lines = [f"{file_sha256(p)[0].hexdigest()}  {rel}" for rel, p in self._files()]
        return atomic_write_text(self.path / MANIFEST_NAME, "\n".join(lines) + "\n")

    def verify(self) -> list[str]:
        """What differs from ``SHA256SUMS``: one line per modified, missing or added file
        (empty when the folder is intact).

        Raises
        ------
        RunFolderError
            The folder has no ``SHA256SUMS`` (not a finished run folder).
        """
        manifest = self.path / MANIFEST_NAME
        try:
            text = manifest.read_text(encoding="utf-8")
        except (FileNotFoundError, NotADirectoryError):
            raise RunFolderError(f"'{self.path}' is not a finished run folder: it has no "
                              f"{MANIFEST_NAME}") from None
        expected: dict[str, str] = {}
        for number, line in enumerate(text.splitlines(), start=1):
            digest, sep, rel = line.partition("  ")
            if not sep or len(digest) != 64:
                return [f"{MANIFEST_NAME} line {number} is not '<sha256>  <file>'"]
            expected[rel] = digest
        problems = []
        present = dict(self._files())
        for rel, digest in expected.items():
            if rel not in present:
                problems.append(f"{rel}: missing")
            elif file_sha256(present[rel])[0].hexdigest() != digest:
                problems.append(f"{rel}: modified (its SHA-256 differs)")
        problems += [f"{rel}: added after the run" for rel in present if rel not in expected]
        return problems

    def _files(self) -> list[tuple[str, Path]]:
        found = []
        for path in sorted(self.path.rglob("*")):
            if path.is_file() and not path.is_symlink() and path.name != MANIFEST_NAME:
                found.append((path.relative_to(self.path).as_posix(), path))
        return found

    def append(self, name: str, rows, row_type: type) -> int:
        """Append ``rows`` to the table ``name`` (flushed to disk); return its new length."""
        path = self.partial(name)
        text = tables.format_rows(rows, row_type)
        if text:
            with open(path, "a", encoding="utf-8", newline="") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            if name in self._hashes:
                self._hashes[name].update(text.encode("utf-8"))
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
