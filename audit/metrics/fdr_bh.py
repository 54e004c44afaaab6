"""Benjamini-Hochberg adjusted p-values (false discovery rate control).

One small function so that the project's flags can share one (a lead may merge it with another
multiple-testing module).
"""

from __future__ import annotations

import numpy as np

__all__ = ["benjamini_hochberg"]


def benjamini_hochberg(p_values) -> np.ndarray:
    """Benjamini-Hochberg q-values: flag the tests with ``q <= alpha`` to keep the expected
    share of false discoveries among the flags at most ``alpha``. NaN p-values stay NaN and do
    not count as tests.

    References
    ----------
    Benjamini, Y. and Hochberg, Y. (1995). Controlling the false discovery rate. J. R. Stat.
    Soc. B 57(1), 289-300.

    Examples
    --------
    >>> benjamini_hochberg([0.01, 0.04, 0.03, float("nan")]).round(4).tolist()
    [0.03, 0.04, 0.04, nan]
    """
    p = np.asarray(p_values, dtype=np.float64)
    q = np.full(p.shape, np.nan)
    tested = np.flatnonzero(~np.isnan(p))
    if len(tested) == 0:
        return q
    order = tested[np.argsort(p[tested], kind="mergesort")]
    ranked = p[order] * len(tested) / np.arange(1, len(tested) + 1)
    q[order] = np.minimum(1.0, np.minimum.accumulate(ranked[::-1])[::-1])
    return q
