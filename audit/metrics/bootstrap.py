"""Seeded percentile-bootstrap confidence intervals of a mean, ignoring undefined values.

For means of continuous scores (energy in box, enrichment, IoU). Shares of samples (0/1
scores) take the Wilson interval of :mod:`audit.metrics.proportions` instead.
"""

from __future__ import annotations

import math
from numbers import Integral, Real

import numpy as np

from audit.metrics.sample_size import check_min_n

__all__ = ["MEAN_METHOD", "bootstrap_ci", "describe"]

#: The interval method recorded with every mean (``"method"`` in ``summary.json``).
MEAN_METHOD = "bootstrap"

# Resampled indices are drawn in chunks of at most this many, to bound memory on big data.
_CHUNK_ELEMENTS = 1 << 22


def _check_values(values) -> tuple[np.ndarray, int]:
    """The defined values sorted ascending, and the number of NaN values dropped."""
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(
            f"values must be a 1-D sequence of numbers (NaN allowed); got {type(values).__name__}"
        ) from None
    if array.ndim != 1:
        raise ValueError(f"values must be 1-D; got {array.ndim}-D shape {array.shape}")
    missing = np.isnan(array)
    if np.any(np.isinf(array)):
        raise ValueError("values must be finite or NaN; got an infinite value")
    return np.sort(array[~missing]), int(np.count_nonzero(missing))


def _check_options(seed, n_resamples, confidence) -> None:
    if isinstance(seed, bool) or not isinstance(seed, Integral) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0; got {seed!r}")
    if isinstance(n_resamples, bool) or not isinstance(n_resamples, Integral) or n_resamples < 1:
        raise ValueError(f"n_resamples must be an integer >= 1; got {n_resamples!r}")
    if isinstance(confidence, bool) or not isinstance(confidence, Real) or not 0 < confidence < 1:
        raise ValueError(
            f"confidence must be a number strictly between 0 and 1; got {confidence!r}"
        )


def _resampled_means(x: np.ndarray, rng: np.random.Generator, n_resamples: int) -> np.ndarray:
    """Means of ``n_resamples`` resamples with replacement of the sorted values ``x``."""
    n = x.size
    distinct, counts = np.unique(x, return_counts=True)
    if 8 * distinct.size <= n:
        # Many repeated values (0/1 scores): how often each distinct value is drawn follows a
        # multinomial law, which is the same bootstrap at O(distinct) instead of O(n) cost.
        drawn = rng.multinomial(n, counts / n, size=n_resamples)
        return drawn @ distinct / n
    means = np.empty(n_resamples, dtype=np.float64)
    rows = max(1, _CHUNK_ELEMENTS // n)
    for start in range(0, n_resamples, rows):
        stop = min(start + rows, n_resamples)
        means[start:stop] = x[rng.integers(0, n, size=(stop - start, n))].mean(axis=1)
    return means


def _interval(
    x: np.ndarray, mean: float, seed: int, n_resamples: int, confidence: float
) -> tuple[float, float]:
    if x.size == 0:
        return math.nan, math.nan
    if x[0] == x[-1]:  # one value, or all equal: every resample has the same mean
        return mean, mean
    rng = np.random.default_rng(seed)
    means = _resampled_means(x, rng, n_resamples)
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(means, [tail, 1.0 - tail])
    # The percentile interval of a mean holds the point estimate up to rounding; make sure.
    return min(float(low), mean), max(float(high), mean)


def bootstrap_ci(
    values, *, seed: int, n_resamples: int = 1000, confidence: float = 0.95
) -> tuple[float, float]:
    """Percentile-bootstrap confidence interval of the mean of the defined values.

    Parameters
    ----------
    values : array_like, shape (n,)
        Finite numbers; NaN marks an undefined value and is left out.
    seed : int
        Seed of the resampling (``numpy.random.default_rng(seed)``); the same values and
        seed give the same interval.
    n_resamples : int, optional
        Number of bootstrap resamples.
    confidence : float, optional
        Confidence level, strictly between 0 and 1.

    Returns
    -------
    low, high : float
        The ``(1 - confidence) / 2`` and ``(1 + confidence) / 2`` quantiles of the resampled
        means, widened if need be so that they hold the mean itself. ``(nan, nan)`` when no
        value is defined; ``(v, v)`` when every defined value equals ``v``.

    Raises
    ------
    ValueError
        If ``values`` is not 1-D numeric or holds an infinite value, or an option is out of
        range.

    Notes
    -----
    The defined values are sorted before resampling, so the interval does not depend on
    their order. Resamples of data with few distinct values (0/1 scores) are drawn as
    multinomial counts of the distinct values, the same bootstrap at a lower cost.

    Examples
    --------
    >>> low, high = bootstrap_ci([0.0, 1.0, 1.0, 1.0, float("nan")], seed=0)
    >>> bool(low <= 0.75 <= high)
    True
    >>> bootstrap_ci([0.25], seed=0)
    (0.25, 0.25)
    >>> bootstrap_ci([float("nan")], seed=0)
    (nan, nan)
    """
    _check_options(seed, n_resamples, confidence)
    x, _ = _check_values(values)
    mean = float(np.mean(x)) if x.size else math.nan
    return _interval(x, mean, int(seed), int(n_resamples), float(confidence))


def describe(values, *, seed: int, n_resamples: int = 1000, min_n: int = 1) -> dict:
    """Count, mean and seeded 95% bootstrap interval of the defined values: a ``STAT``.

    The shape of ``STAT`` in ``docs/results-schema.md``, ready for ``json.dumps``. For the
    share of a 0/1 score use :func:`audit.metrics.proportions.describe_proportion`, whose
    Wilson interval holds for small n.

    Parameters
    ----------
    values : array_like, shape (n,)
        Finite numbers; NaN marks an undefined value (no box, degenerate map).
    seed : int
        Seed of the bootstrap (see :func:`bootstrap_ci`).
    n_resamples : int, optional
        Number of bootstrap resamples.
    min_n : int, optional
        Below this many defined values the mean is reported without an interval (none is
        computed) and marked ``too_few`` (see :mod:`audit.metrics.sample_size`).

    Returns
    -------
    stat : dict
        ``{"n": int, "mean": float | None, "ci": [low, high] | None, "n_nan": int,
        "method": "bootstrap", "too_few": bool}``: the number of defined values, their mean,
        the 95% interval of the mean, the number of NaN values, how the interval is made and
        whether ``n < min_n``. ``mean`` is None when no value is defined, ``ci`` when fewer
        than ``min_n`` are.

    Examples
    --------
    >>> describe([1.0, 1.0, float("nan")], seed=0)
    {'n': 2, 'mean': 1.0, 'ci': [1.0, 1.0], 'n_nan': 1, 'method': 'bootstrap', 'too_few': False}
    >>> describe([0.2, 0.4], seed=0, min_n=10)["ci"] is None
    True
    >>> describe([], seed=0)["mean"] is None
    True
    """
    _check_options(seed, n_resamples, 0.95)
    min_n = check_min_n(min_n)
    x, n_nan = _check_values(values)
    few = x.size < min_n
    if x.size == 0:
        return {"n": 0, "mean": None, "ci": None, "n_nan": n_nan, "method": MEAN_METHOD,
                "too_few": few}
    mean = float(np.mean(x))
    ci = None
    if not few:
        low, high = _interval(x, mean, int(seed), int(n_resamples), 0.95)
        ci = [low, high]
    return {"n": int(x.size), "mean": mean, "ci": ci, "n_nan": n_nan, "method": MEAN_METHOD,
            "too_few": few}
