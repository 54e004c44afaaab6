"""Changes between two runs on different samples: interval-based rules.

Without the same samples in both runs (or without their ``records.csv``), each run's figure is
an independent estimate, and a change is judged from the two figures' own intervals:

- two proportions: Newcombe's hybrid score interval of their difference, built from the two
  Wilson intervals (:func:`newcombe_interval`);
- two means: the combined interval ``d ± √(h_a² + h_b²)``, where ``h`` is half the width of
  each run's bootstrap interval (:func:`combined_intervals`), the usual approximation of the
  interval of a difference of two independent estimates.
"""

from __future__ import annotations

import math

from audit.comparison.difference import Difference, excludes_zero
from audit.metrics.proportions import wilson_interval

__all__ = ["combined_intervals", "newcombe_interval", "two_proportions"]

Interval = tuple[float, float]


def newcombe_interval(count_a: int, n_a: int, count_b: int, n_b: int, *,
                      confidence: float = 0.95) -> Interval:
    """Newcombe's hybrid score interval of the difference ``p_b - p_a`` of two proportions.

    Parameters
    ----------
    count_a, n_a : int
        ``count_a`` of ``n_a`` samples of run A have the outcome.
    count_b, n_b : int
        The same for run B.
    confidence : float, optional
        Confidence level (of the difference and of the two Wilson intervals it is built from).

    Returns
    -------
    low, high : float
        With ``d = p_b - p_a`` and the Wilson intervals ``[l_a, u_a]``, ``[l_b, u_b]``::

            low  = d - √((p_b - l_b)² + (u_a - p_a)²)
            high = d + √((u_b - p_b)² + (p_a - l_a)²)

        ``(nan, nan)`` when ``n_a`` or ``n_b`` is 0.

    Raises
    ------
    ValueError
        If a count is not an integer >= 0 or larger than its ``n``, or ``confidence`` is not
        strictly between 0 and 1 (see :func:`audit.metrics.proportions.wilson_interval`).

    References
    ----------
    .. [1] R. G. Newcombe, "Interval estimation for the difference between independent
       proportions: comparison of eleven methods", Statistics in Medicine 17 (1998),
       873-890 (method 10).

    Examples
    --------
    Identical rates: the interval holds 0.

    >>> low, high = newcombe_interval(30, 100, 30, 100)
    >>> bool(low < 0 < high)
    True

    None of 120 then 66 of 120: the difference 0.55 has an interval well above 0.

    >>> [round(v, 3) for v in newcombe_interval(0, 120, 66, 120)]
    [0.456, 0.636]
    """
    low_a, high_a = wilson_interval(count_a, n_a, confidence=confidence)
    low_b, high_b = wilson_interval(count_b, n_b, confidence=confidence)
    if n_a == 0 or n_b == 0:
        return math.nan, math.nan
    p_a, p_b = count_a / n_a, count_b / n_b
    d = p_b - p_a
    return (d - math.hypot(p_b - low_b, high_a - p_a),
            d + math.hypot(high_b - p_b, p_a - low_a))


def two_proportions(count_a: int, n_a: int, count_b: int, n_b: int, *,
                    confidence: float = 0.95) -> Difference:
    """The change of a proportion between two runs on different samples.

    Returns
    -------
    Difference
        ``test="newcombe"``, ``difference`` = ``p_b - p_a``, its :func:`newcombe_interval`,
        and ``significant`` when the interval excludes 0. Undefined (no difference, not
        significant either way) when ``n_a`` or ``n_b`` is 0.

    Examples
    --------
    >>> two_proportions(119, 120, 0, 120).significant
    True
    >>> two_proportions(0, 0, 3, 10).significant is None
    True
    """
    interval = newcombe_interval(count_a, n_a, count_b, n_b, confidence=confidence)
    if n_a == 0 or n_b == 0:
        return Difference(test="newcombe")
    return Difference(test="newcombe", difference=count_b / n_b - count_a / n_a,
                      interval=interval, significant=excludes_zero(interval))


def combined_intervals(mean_a: float | None, ci_a: Interval | None, mean_b: float | None,
                       ci_b: Interval | None) -> Difference:
    """The change of a mean between two runs on different samples, from their own intervals.

    Parameters
    ----------
    mean_a, mean_b : float or None
        The two runs' means.
    ci_a, ci_b : (float, float) or None
        Their (bootstrap) intervals.

    Returns
    -------
    Difference
        ``test="combined-intervals"``, ``difference`` ``d = mean_b - mean_a`` and the interval
        ``d ± √(h_a² + h_b²)`` with ``h`` half of each interval's width; ``significant`` when it
        excludes 0. Without both means and both intervals, nothing is tested.

    Examples
    --------
    >>> result = combined_intervals(0.5, (0.4, 0.6), 0.8, (0.7, 0.9))
    >>> round(result.difference, 3), [round(v, 3) for v in result.interval], result.significant
    (0.3, [0.159, 0.441], True)
    """
    if mean_a is None or mean_b is None or ci_a is None or ci_b is None:
        return Difference(test="combined-intervals")
    d = float(mean_b) - float(mean_a)
    margin = math.hypot((ci_a[1] - ci_a[0]) / 2.0, (ci_b[1] - ci_b[0]) / 2.0)
    interval = (d - margin, d + margin)
    return Difference(test="combined-intervals", difference=d, interval=interval,
                      significant=excludes_zero(interval))
