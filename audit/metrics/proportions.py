"""Proportions (accuracy, fixation rates, pointing and localisation accuracy) with Wilson score
intervals.

A share of samples is a count of n. Its interval is the Wilson score interval, not a bootstrap:
a percentile bootstrap of 1 of 1 is ``[1, 1]`` (it claims certainty from one sample) and of 119
of 120 is ``[0.975, 1]`` (too narrow); Wilson gives ``[0.207, 1]`` and ``[0.954, 0.999]``.
Wilson rather than Clopper-Pearson: Clopper-Pearson guarantees at least the nominal coverage
and so is wider than it needs to be for every n, while Wilson's coverage stays close to the
nominal 95% on average even for small n and rates near 0 or 1 (Brown, Cai and DasGupta 2001,
who recommend it for n below 40), and it has a closed form that anyone can check by hand.
"""

from __future__ import annotations

import math
from numbers import Integral, Real
from statistics import NormalDist

import numpy as np

from audit.metrics.sample_size import check_min_n

__all__ = ["PROPORTION_METHOD", "describe_proportion", "proportion", "wilson_interval"]

#: The interval method recorded with every proportion (``"method"`` in ``summary.json``).
PROPORTION_METHOD = "wilson"


def _check_confidence(confidence) -> float:
    if isinstance(confidence, bool) or not isinstance(confidence, Real) or not (
            0 < confidence < 1):
        raise ValueError(
            f"confidence must be a number strictly between 0 and 1; got {confidence!r}")
    return float(confidence)


def _check_counts(count, n) -> tuple[int, int]:
    for name, value in (("count", count), ("n", n)):
        if isinstance(value, bool) or not isinstance(value, Integral) or value < 0:
            raise ValueError(f"{name} must be an integer >= 0; got {value!r}")
    if count > n:
        raise ValueError(f"count must be at most n; got count={count!r} of n={n!r}")
    return int(count), int(n)


def wilson_interval(count: int, n: int, *, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of the proportion ``count / n``.

    Parameters
    ----------
    count : int
        Samples with the outcome (correct, fixated, hit).
    n : int
        Samples the proportion is taken over.
    confidence : float, optional
        Confidence level, strictly between 0 and 1.

    Returns
    -------
    low, high : float
        With ``p = count / n`` and ``z`` the ``(1 + confidence) / 2`` quantile of the standard
        normal distribution (1.95996 for 95%)::

            centre = (count + z²/2) / (n + z²)
            half   = z √n / (n + z²) · √(p (1 - p) + z² / (4 n))

        the interval is ``[centre - half, centre + half]``; it always lies in [0, 1], holds
        ``p``, and reaches 0 (1) exactly when ``count`` is 0 (``n``). ``(nan, nan)`` when
        ``n == 0``.

    Raises
    ------
    ValueError
        If ``count`` or ``n`` is not an integer >= 0, ``count > n``, or ``confidence`` is not
        strictly between 0 and 1.

    Notes
    -----
    The interval inverts the score test of a binomial proportion. At the ends it has a closed
    form worth checking by hand: for 1 of 1 the lower bound is ``1 / (1 + z²)`` and for 0 of
    n the upper bound is ``z² / (n + z²)``.

    References
    ----------
    .. [1] E. B. Wilson, "Probable inference, the law of succession, and statistical
       inference", Journal of the American Statistical Association 22 (1927), 209-212.
    .. [2] L. D. Brown, T. T. Cai and A. DasGupta, "Interval estimation for a binomial
       proportion", Statistical Science 16 (2001), 101-133.

    Examples
    --------
    One of one: the lower bound is 1 / (1 + 1.95996²) = 1 / 4.84146.

    >>> [round(v, 4) for v in wilson_interval(1, 1)]
    [0.2065, 1.0]
    >>> [round(v, 4) for v in wilson_interval(119, 120)]
    [0.9543, 0.9985]

    None of 120: the upper bound is 1.95996² / (120 + 1.95996²) = 3.84146 / 123.84146.

    >>> [round(v, 4) for v in wilson_interval(0, 120)]
    [0.0, 0.031]
    >>> wilson_interval(0, 0)
    (nan, nan)
    """
    count, n = _check_counts(count, n)
    confidence = _check_confidence(confidence)
    if n == 0:
        return math.nan, math.nan
    z = NormalDist().inv_cdf(0.5 + confidence / 2.0)
    z2 = z * z
    p = count / n
    centre = (count + z2 / 2.0) / (n + z2)
    half = z * math.sqrt(n) / (n + z2) * math.sqrt(p * (1.0 - p) + z2 / (4.0 * n))
    # Exact at the ends (the formula reaches them only up to rounding), and around p.
    low = 0.0 if count == 0 else min(max(0.0, centre - half), p)
    high = 1.0 if count == n else max(min(1.0, centre + half), p)
    return low, high


def proportion(count: int, n: int, *, min_n: int = 1, confidence: float = 0.95) -> dict:
    """A proportion from its counts: a ``PROPORTION`` of ``docs/results-schema.md``.

    Parameters
    ----------
    count, n : int
        ``count`` of ``n`` samples have the outcome.
    min_n : int, optional
        Below this ``n`` the proportion is reported without an interval and marked
        ``too_few`` (see :mod:`audit.metrics.sample_size`).
    confidence : float, optional
        Confidence level of the Wilson interval.

    Returns
    -------
    dict
        ``{"n", "count", "mean", "ci", "n_nan", "method", "too_few"}``: ``mean`` is
        ``count / n`` (None when ``n == 0``), ``ci`` the :func:`wilson_interval` (None when
        ``n < min_n``), ``n_nan`` 0, ``method`` ``"wilson"``.

    Examples
    --------
    >>> proportion(1, 1, min_n=10)
    {'n': 1, 'count': 1, 'mean': 1.0, 'ci': None, 'n_nan': 0, 'method': 'wilson', 'too_few': True}
    >>> proportion(0, 0)["mean"] is None
    True
    """
    count, n = _check_counts(count, n)
    min_n = check_min_n(min_n)
    confidence = _check_confidence(confidence)
    few = n < min_n
    return {
        "n": n,
        "count": count,
        "mean": count / n if n else None,
        "ci": None if few or n == 0 else list(wilson_interval(count, n, confidence=confidence)),
        "n_nan": 0,
        "method": PROPORTION_METHOD,
        "too_few": few,
    }


def describe_proportion(values, *, min_n: int = 1, confidence: float = 0.95) -> dict:
    """The proportion of 1s among the defined values of a 0/1 score, with its Wilson interval.

    Parameters
    ----------
    values : array_like, shape (n,)
        1.0 (yes), 0.0 (no) or NaN (undefined: no box, a degenerate map, a correct sample for
        the fixation flag). Booleans count as 1 and 0.
    min_n : int, optional
        Below this many defined values the proportion has no interval and is ``too_few``.
    confidence : float, optional
        Confidence level of the interval.

    Returns
    -------
    dict
        As :func:`proportion`, with ``n_nan`` the number of undefined values.

    Raises
    ------
    ValueError
        If ``values`` is not 1-D or holds a value other than 0, 1 or NaN.

    Examples
    --------
    >>> stat = describe_proportion([1.0, 1.0, 0.0, float("nan")])
    >>> stat["n"], stat["count"], stat["n_nan"], round(stat["mean"], 3)
    (3, 2, 1, 0.667)
    >>> describe_proportion([1.0], min_n=10)["ci"] is None
    True
    """
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"values must be a 1-D sequence of 0, 1 or NaN; got "
                         f"{type(values).__name__}") from None
    if array.ndim != 1:
        raise ValueError(f"values must be 1-D; got {array.ndim}-D shape {array.shape}")
    missing = np.isnan(array)
    defined = array[~missing]
    stray = defined[(defined != 0.0) & (defined != 1.0)]
    if stray.size:
        raise ValueError(f"values must be 0, 1 or NaN; got {float(stray[0])!r}")
    result = proportion(int(np.count_nonzero(defined == 1.0)), int(defined.size), min_n=min_n,
                        confidence=confidence)
    result["n_nan"] = int(np.count_nonzero(missing))
    return result
