"""The stream a run's per-batch stages go over: item descriptions and how to load one.

A :class:`Stream` separates *what* an item is (a cheap, picklable description: which samples
form batch 7) from *loading* it (reading and decoding its images). An engine can then load the
next item while the current one is computed, resume at any item, or ship descriptions to other
processes that load their own items.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["Stream"]


@dataclass(frozen=True)
class Stream:
    """``len(specs)`` items; item ``i`` is ``load(specs[i])``.

    Attributes
    ----------
    specs : sequence
        Item descriptions, in order.
    load : callable
        A pure function of one description (it may read files): the same description always
        gives the same item, in any process.
    """

    specs: Sequence[Any]
    load: Callable[[Any], Any]

    def __len__(self) -> int:
        return len(self.specs)
