"""The seed of each statistic of a run, derived from the run's seed and the statistic's name, so
that a figure does not change when others are added, dropped or computed in another order."""

from __future__ import annotations

import zlib

import numpy as np

__all__ = ["sub_seed"]


def sub_seed(seed: int, name: str) -> int:
    """The seed of the statistic ``name``, derived from the run's ``seed``.

    ``numpy.random.SeedSequence([seed, crc32(name)])``: stable across processes and Python
    versions (unlike ``hash``), and different for every name.

    Examples
    --------
    >>> sub_seed(0, "accuracy") == sub_seed(0, "accuracy")
    True
    >>> sub_seed(0, "accuracy") == sub_seed(0, "centre_baseline")
    False
    """
    entropy = [int(seed), zlib.crc32(name.encode("utf-8"))]
    return int(np.random.SeedSequence(entropy).generate_state(1, dtype=np.uint64)[0])
