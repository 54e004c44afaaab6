"""False-discovery-rate control: the Benjamini-Hochberg step-up procedure, and p-values for the
tests that give an interval or a threshold rather than a p-value.

A run tests many figures at once (the drift of every key figure against the baseline run, a
gate on every slice): at 5% each, 30 slices fail one by chance about four times in five. The
Benjamini-Hochberg procedure keeps the expected share of false flags among the flags at ``q``
instead. One function here, used by the comparison of two runs (drift flags, ``cam-audit
compare``) and by the per-slice gates.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

__all__ = ["DEFAULT_FDR", "benjamini_hochberg", "p_above", "p_from_interval"]

#: ``report.fdr``'s default: the false-discovery rate of a run's many flags.
DEFAULT_FDR = 0.05


def benjamini_hochberg(p_values, *, q: float = 0.05) -> tuple[np.ndarray, np.ndarray]:
    """Which hypotheses to reject at false-discovery rate ``q``, and the adjusted p-values.

    Parameters
    ----------
    p_values : array_like of float, shape (m,)
        One p-value per hypothesis, in [0, 1]; NaN for a hypothesis that was not tested (it
        is neither counted in ``m`` nor rejected).
    q : float, optional
        The false-discovery rate, in (0, 1).

    Returns
    -------
    rejected : ndarray of bool, shape (m,)
        With the tested p-values sorted, ``p_(1) <= ... <= p_(m)``, and ``k`` the largest
        rank with ``p_(k) <= k q / m``: the hypotheses of ranks 1..k (step-up; ties at the
        cut-off are all rejected).
    adjusted : ndarray of float, shape (m,)
        ``min(1, min over j >= rank of p_(j) m / j)``: a hypothesis is rejected exactly when
        its adjusted p-value is at most ``q``. NaN where the p-value was NaN.

    Raises
    ------
    ValueError
        If ``q`` is not in (0, 1) or a p-value lies outside [0, 1].

    References
    ----------
    .. [1] Benjamini, Y. and Hochberg, Y. "Controlling the False Discovery Rate: A Practical
           and Powerful Approach to Multiple Testing", J. R. Stat. Soc. B 57 (1995) 289-300.

    Examples
    --------
    Worked by hand, m = 4, q = 0.05: the thresholds k q / m are 0.0125, 0.025, 0.0375, 0.05;
    sorted p 0.01, 0.02, 0.03, 0.5 lie under the first three, so k = 3:

    >>> rejected, adjusted = benjamini_hochberg([0.03, 0.5, 0.01, 0.02])
    >>> rejected.tolist()
    [True, False, True, True]
    >>> [round(float(a), 4) for a in adjusted]  # 0.03*4/3, 0.5*4/4, 0.01*4/1 -> 0.04, 0.02*4/2
    [0.04, 0.5, 0.04, 0.04]
    """
    if not (isinstance(q, float | int) and 0 < q < 1):
        raise ValueError(f"q must be a number in (0, 1); got q={q!r}")
    p = np.asarray(p_values, dtype=np.float64).reshape(-1)
    tested = ~np.isnan(p)
    if np.any((p[tested] < 0) | (p[tested] > 1)):
        raise ValueError(f"p_values must lie in [0, 1]; got {p[tested].tolist()[:20]}")
    rejected = np.zeros(p.shape, dtype=bool)
    adjusted = np.full(p.shape, np.nan)
    m = int(tested.sum())
    if m == 0:
        return rejected, adjusted
    index = np.flatnonzero(tested)
    order = index[np.argsort(p[index], kind="mergesort")]
    ranked = p[order]
    ranks = np.arange(1, m + 1)
    under = np.flatnonzero(ranked <= ranks * q / m)
    if under.size:
        rejected[order[:under[-1] + 1]] = True
    scaled = np.minimum.accumulate((ranked * m / ranks)[::-1])[::-1]
    adjusted[order] = np.minimum(scaled, 1.0)
    return rejected, adjusted


def p_from_interval(difference: float | None, interval, *, confidence: float = 0.95
                    ) -> float:
    """The two-sided p-value of ``difference != 0`` recovered from its interval (normal
    approximation: ``se = width / (2 z)``, Altman and Bland, BMJ 343 (2011) d2090).

    For the tests that give an interval and no p-value (paired bootstrap, Newcombe,
    combined intervals). NaN without an interval or difference; 0 for an interval of zero
    width around a non-zero difference, 1 around zero.

    Examples
    --------
    >>> round(p_from_interval(0.1, (0.0, 0.2)), 3)  # the 95% interval touches 0: p = 0.05
    0.05
    >>> p_from_interval(None, (0.0, 0.2))
    nan
    """
    if difference is None or interval is None or not math.isfinite(difference):
        return math.nan
    low, high = (float(v) for v in interval)
    z = float(stats.norm.ppf(0.5 + confidence / 2))
    se = (high - low) / (2 * z)
    if se <= 0:
        return 0.0 if difference != 0 else 1.0
    return float(2 * stats.norm.sf(abs(difference) / se))


def p_above(value: float | None, threshold: float, *, n: int | None = None,
            count: int | None = None, interval=None, higher: bool = True,
            confidence: float = 0.95) -> float:
    """One-sided p-value that a figure truly lies beyond a gate's threshold.

    ``higher=True`` tests H0: true value <= threshold against "above" (a maximum gate's
    failure); ``higher=False`` H0: true value >= threshold against "below" (a minimum
    gate's). A share with its ``count`` of ``n``: the exact binomial tail; a mean with its
    ``interval``: the normal approximation of :func:`p_from_interval`. NaN when neither is
    known.

    Examples
    --------
    >>> round(p_above(0.8, 0.5, n=10, count=8), 4)  # P(X >= 8 | 10, 0.5) = 56/1024
    0.0547
    >>> round(p_above(0.3, 0.1, interval=(0.1, 0.5)), 4)  # z = 1.96: one-sided 0.025
    0.025
    """
    if value is None or not math.isfinite(value):
        return math.nan
    if count is not None and n:
        if higher:
            return float(stats.binom.sf(count - 1, n, threshold))
        return float(stats.binom.cdf(count, n, threshold))
    if interval is None:
        return math.nan
    low, high = (float(v) for v in interval)
    z = float(stats.norm.ppf(0.5 + confidence / 2))
    se = (high - low) / (2 * z)
    excess = (value - threshold) if higher else (threshold - value)
    if se <= 0:
        return 0.0 if excess > 0 else 1.0
    return float(stats.norm.sf(excess / se))
