"""The staging folder: one file per item's outputs, written atomically, readable by the driver
while the job runs."""

from __future__ import annotations

import logging
import os
import pickle
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from apache_beam.io.filesystem import CompressionTypes
from apache_beam.io.filesystems import FileSystems

_LOG = logging.getLogger(__name__)

_SHARD_SIZE = 64  # specs per shard file the job's first step reads
_PICKLE = pickle.HIGHEST_PROTOCOL


# --------------------------------------------------------------------------------- staging


def _is_remote(path: str) -> bool:
    return "://" in path


def _join(root: str, *parts: str) -> str:
    """``root/part/...``: with ``/`` for URLs (no file system needed to name a path)."""
    if _is_remote(root):
        return "/".join([root.rstrip("/"), *parts])
    return os.path.join(root, *parts)


@dataclass(frozen=True)
class _Staging:
    """The folder workers write item outputs to and the driver reads them from."""

    root: str

    def item(self, index: int, failed: bool = False) -> str:
        suffix = ".failed.pkl" if failed else ".pkl"
        return _join(self.root, "items", f"{index:09d}{suffix}")

    def shard(self, attempt: str, number: int) -> str:
        return _join(self.root, "specs", attempt, f"{number:05d}.pkl")

    def write(self, path: str, value) -> None:
        """Write ``value`` pickled to ``path``: to a temporary name, then renamed, so a reader
        never sees half a file."""
        temporary = f"{path}.{uuid.uuid4().hex}.tmp"
        handle = FileSystems.create(temporary, compression_type=CompressionTypes.UNCOMPRESSED)
        try:
            handle.write(pickle.dumps(value, protocol=_PICKLE))
        finally:
            handle.close()
        FileSystems.rename([temporary], [path])

    def read(self, path: str):
        """The value pickled at ``path``, or None when there is no file (yet)."""
        if not FileSystems.exists(path):
            return None
        with FileSystems.open(path, compression_type=CompressionTypes.UNCOMPRESSED) as handle:
            return pickle.loads(handle.read())

    def staged(self) -> set[str]:
        """The names of the item files already in the staging folder."""
        pattern = _join(self.root, "items", "*.pkl")
        try:
            result = FileSystems.match([pattern])[0]
        except Exception:  # noqa: BLE001 - no folder yet: nothing staged
            return set()
        return {m.path.rsplit("/", 1)[-1] for m in result.metadata_list}

    def delete(self, paths: Sequence[str]) -> None:
        if paths:
            FileSystems.delete(list(paths))

    def remove(self, subfolder: str = "") -> None:
        """Delete the staging folder (or one of its subfolders); a failure is only logged."""
        path = _join(self.root, subfolder) if subfolder else self.root
        try:
            if FileSystems.exists(path):
                FileSystems.delete([path.rstrip("/") + "/" if _is_remote(path) else path])
        except Exception as exc:  # noqa: BLE001 - leftovers in a temp location are harmless
            _LOG.warning("could not remove the staging folder %s: %s", path, exc)
