"""Paired differences against the random maps, and their seeded bootstrap interval.

A method and the random maps are scored on the *same* images. Most of the spread of the
areas between images (an image whose class survives any deletion, one that none survives)
is shared by every map of the image, so the per-image difference is far less spread than
either score: comparing two separate intervals throws that away. Every difference here is
signed so that **positive means better than random**.
"""

from __future__ import annotations

import math

import numpy as np

from audit.evidence._checks import check_int, check_seed

__all__ = ["BETTER", "mean_interval", "paired_differences"]

#: Which way is better for each figure: ``"lower"`` (deletion AUC, Average Drop) or
#: ``"higher"`` (insertion AUC, Increase in Confidence).
BETTER = {"deletion": "lower", "insertion": "higher", "average_drop": "lower",
          "increase_in_confidence": "higher"}


def paired_differences(method, random, *, better: str) -> np.ndarray:
    """Per sample: the method's score against the mean of its ``K`` random maps' scores.

    Parameters
    ----------
    method : array_like of float, shape (n,)
        The method's score on each sample.
    random : array_like of float, shape (n,) or (n, K)
        The random maps' scores on the same samples (``K`` seeded maps per sample); NaN
        entries are left out of a sample's mean.
    better : {'lower', 'higher'}
        Which way is better: ``'lower'`` gives ``mean(random) - method`` (deletion),
        ``'higher'`` gives ``method - mean(random)`` (insertion).

    Returns
    -------
    d : ndarray of float64, shape (n,)
        Positive where the method beats the random maps; NaN where either side is undefined.

    Examples
    --------
    >>> paired_differences([0.2, 0.5], [[0.4, 0.6], [0.5, 0.5]], better="lower").tolist()
    [0.3, 0.0]
    >>> paired_differences([0.7], [0.5], better="higher").round(6).tolist()
    [0.2]
    """
    scores = np.asarray(method, dtype=np.float64).ravel()
    baseline = np.asarray(random, dtype=np.float64)
    if baseline.ndim == 1:
        baseline = baseline[:, None]
    if baseline.ndim != 2 or baseline.shape[0] != scores.size:
        raise ValueError(
            f"random must have shape (n,) or (n, K) with n = {scores.size} (the method's "
            f"samples); got shape {baseline.shape}")
    if better not in ("lower", "higher"):
        raise ValueError(f"better must be 'lower' or 'higher'; got {better!r}")
    counts = (~np.isnan(baseline)).sum(axis=1)
    sums = np.nansum(baseline, axis=1)
    mean = np.divide(sums, counts, out=np.full(scores.shape, np.nan), where=counts > 0)
    return mean - scores if better == "lower" else scores - mean


def mean_interval(d, *, seed: int, n_resamples: int = 2000, confidence: float = 0.95
                  ) -> tuple[float, float, float, int]:
    """The mean of the defined differences and its seeded percentile-bootstrap interval.

    Parameters
    ----------
    d : array_like of float, shape (n,)
        Paired differences (:func:`paired_differences`); NaN values are left out.
    seed : int
        Seed of ``numpy.random.default_rng``: the same differences and seed give the same
        interval.
    n_resamples : int, optional
        Bootstrap resamples (of the samples, with replacement).
    confidence : float, optional
        Two-sided level: the ``(1 - confidence) / 2`` and ``(1 + confidence) / 2`` quantiles
        of the resampled means (linear interpolation).

    Returns
    -------
    mean, low, high : float
        NaN without a defined difference; ``low == high == mean`` with one.
    n : int
        The defined differences.

    Examples
    --------
    >>> mean, low, high, n = mean_interval([0.1, 0.2, 0.3, 0.4], seed=0)
    >>> round(mean, 3), bool(0.1 <= low <= mean <= high <= 0.4), n
    (0.25, True, 4)
    """
    values = np.asarray(d, dtype=np.float64).ravel()
    values = values[~np.isnan(values)]
    resamples = check_int(n_resamples, "n_resamples", minimum=1)
    rng = np.random.default_rng(check_seed(seed))
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must lie in (0, 1); got confidence={confidence!r}")
    n = values.size
    if n == 0:
        return math.nan, math.nan, math.nan, 0
    mean = float(values.mean())
    if n == 1:
        return mean, mean, mean, 1
    means = np.empty(resamples)
    chunk = max(1, 2_000_000 // n)  # bounded memory whatever n
    for start in range(0, resamples, chunk):
        stop = min(resamples, start + chunk)
        means[start:stop] = values[rng.integers(0, n, size=(stop - start, n))].mean(axis=1)
    tail = (1.0 - confidence) / 2
    low, high = np.quantile(means, [tail, 1.0 - tail])
    return mean, float(min(low, mean)), float(max(high, mean)), n
