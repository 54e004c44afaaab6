"""Arrays a per-batch stage leaves on disk, one file per item of the stream.

A table row holds a few numbers; some per-item outputs are arrays (a small map per sample) that
a stage after the stream must read back without holding the whole run in memory. A per-batch
stage that names :class:`Shard` as the kind of a collected output returns one ``Shard`` per
item; the collector writes it to ``<run folder>/<name>/<item index>.npz`` (atomically, before
the checkpoint that counts the item, so a resumed run rewrites the items after the checkpoint
and keeps those before it), and after the stream the catalog holds a :class:`ShardSet`: the
paths, read one item at a time.

Arrays must be numeric, boolean or fixed-width text (NumPy ``U``) so that they load without
pickle.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

__all__ = ["Shard", "ShardSet", "write_shard"]


@dataclass(frozen=True)
class Shard:
    """One item's arrays, all with the same first dimension (the item's rows)."""

    arrays: Mapping[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        lengths = {name: len(a) for name, a in self.arrays.items()}
        if len(set(lengths.values())) > 1:
            raise ValueError(f"a Shard's arrays must have the same number of rows; got "
                             f"{lengths}")
        for name, array in self.arrays.items():
            if np.asarray(array).dtype.kind == "O":
                raise ValueError(f"a Shard's array {name!r} must not hold Python objects "
                                 "(it would need pickle to load); got dtype object")

    def __len__(self) -> int:
        return len(next(iter(self.arrays.values()))) if self.arrays else 0


def shard_path(folder: Path, name: str, index: int) -> Path:
    return folder / name / f"{index:07d}.npz"


def write_shard(folder: Path, name: str, index: int, shard: Shard | None) -> None:
    """Write item ``index``'s shard (an empty or missing one removes a stale file)."""
    path = shard_path(folder, name, index)
    if shard is None or not isinstance(shard, Shard) or not len(shard):
        path.unlink(missing_ok=True)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.npz")
    with open(tmp, "wb") as handle:
        np.savez(handle, **{k: np.asarray(v) for k, v in shard.arrays.items()})
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


@dataclass(frozen=True)
class ShardSet:
    """The shards of the stream's first ``n_items`` items, read one at a time."""

    folder: Path
    name: str
    n_items: int

    def paths(self) -> list[Path]:
        """The items' files that exist (an item with no rows has none), in item order."""
        return [p for i in range(self.n_items)
                if (p := shard_path(self.folder, self.name, i)).exists()]

    def __iter__(self) -> Iterator[dict[str, np.ndarray]]:
        """Each item's arrays, loaded whole, in item order."""
        for path in self.paths():
            with np.load(path, allow_pickle=False) as data:
                yield {key: data[key] for key in data.files}

    def column(self, key: str) -> Iterator[np.ndarray]:
        """One array of each item, in item order (the others are not read)."""
        for path in self.paths():
            with np.load(path, allow_pickle=False) as data:
                yield data[key]
