"""Holm's step-down correction: many methods tested on one run, one family-wise error rate.

A run tests every CAM method against the random map; at alpha = 0.05 each, three methods
would call one of three random maps "faithful" one time in seven. Holm (1979) controls the
chance of *any* false call at alpha, under any dependence between the tests, and is never
less powerful than Bonferroni.
"""

from __future__ import annotations

import numpy as np

__all__ = ["holm"]


def holm(p_values) -> np.ndarray:
    """Holm-adjusted p-values.

    Reject hypothesis ``i`` at level alpha when ``adjusted[i] <= alpha``.

    Sort the ``m`` defined p-values ascending, ``p_(1) <= ... <= p_(m)``; the adjusted value of
    ``p_(j)`` is ``max_{i <= j} min(1, (m - i + 1) p_(i))`` (the running maximum keeps the
    step-down order). Undefined (NaN) p-values stay NaN and do not count in ``m``.

    Parameters
    ----------
    p_values : array_like of float, shape (m,)
        Within [0, 1], or NaN.

    Returns
    -------
    adjusted : ndarray of float64, shape (m,)

    Raises
    ------
    ValueError
        If a p-value is outside [0, 1] or the input is not one-dimensional.

    References
    ----------
    .. [1] Holm, S. "A simple sequentially rejective multiple test procedure", Scandinavian
           Journal of Statistics 6 (1979), 65-70.

    Examples
    --------
    >>> holm([0.01, 0.04, 0.03]).tolist()  # 3 x 0.01, 2 x 0.03, max(0.06, 1 x 0.04)
    [0.03, 0.06, 0.06]
    >>> holm([0.2, float("nan")]).tolist()
    [0.2, nan]
    """
    p = np.asarray(p_values, dtype=np.float64)
    if p.ndim != 1:
        raise ValueError(f"p_values must be one-dimensional; got shape {p.shape}")
    defined = ~np.isnan(p)
    if np.any((p[defined] < 0) | (p[defined] > 1)):
        raise ValueError(f"p_values must lie within [0, 1]; got {p.tolist()[:20]}")
    out = np.full(p.shape, np.nan)
    index = np.flatnonzero(defined)
    m = index.size
    if not m:
        return out
    order = index[np.argsort(p[index], kind="stable")]
    scaled = np.minimum(1.0, (m - np.arange(m)) * p[order])
    out[order] = np.maximum.accumulate(scaled)
    return out
