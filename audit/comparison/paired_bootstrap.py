"""A paired bootstrap: did a continuous score change on the same samples between two runs?

The runs scored the same samples, so their scores are correlated (a small object is hard for
both models). Resampling the per-sample differences keeps that correlation, and its interval
is much narrower than one built from two independent intervals, which would treat the shared
difficulty of the samples as noise.
"""

from __future__ import annotations

import numpy as np

from audit.comparison.difference import Difference, excludes_zero
from audit.metrics.bootstrap import bootstrap_ci

__all__ = ["paired_bootstrap"]


def paired_bootstrap(a, b, *, seed: int, n_resamples: int = 1000,
                     confidence: float = 0.95) -> Difference:
    """Seeded percentile-bootstrap interval of the mean per-sample difference ``b - a``.

    Parameters
    ----------
    a, b : array_like, shape (n,)
        The score of each sample in run A and in run B, in the same sample order; NaN where
        undefined. Pairs with NaN on either side are left out.
    seed : int
        Seed of the resampling (:func:`audit.metrics.bootstrap.bootstrap_ci`): the same scores
        and seed give the same interval.
    n_resamples : int, optional
        Number of bootstrap resamples.
    confidence : float, optional
        Confidence level of the interval.

    Returns
    -------
    Difference
        ``test="paired-bootstrap"``, ``difference`` = the mean of ``b - a`` over the pairs,
        its ``interval``, ``significant`` when the interval excludes 0, and ``n_pairs``. Without
        a pair the difference and interval are None.

    Raises
    ------
    ValueError
        If ``a`` and ``b`` are not 1-D of one length, hold an infinite value, or an option is
        out of range.

    References
    ----------
    .. [1] B. Efron and R. J. Tibshirani, "An Introduction to the Bootstrap", Chapman & Hall
       (1993), chapter 13 (percentile intervals) and section 16.2 (paired data).

    Examples
    --------
    Every sample gained 0.1: the differences are all 0.1, and so is every resampled mean.

    >>> result = paired_bootstrap([0.2, 0.5, 0.7], [0.3, 0.6, 0.8], seed=0)
    >>> round(result.difference, 6), [round(v, 6) for v in result.interval], result.significant
    (0.1, [0.1, 0.1], True)
    >>> paired_bootstrap([0.2, 0.5], [0.2, 0.5], seed=0).significant
    False
    """
    try:
        x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError("a and b must be 1-D sequences of numbers (NaN allowed)") from None
    if x.ndim != 1 or x.shape != y.shape:
        raise ValueError(f"a and b must be 1-D of one length; got shapes {x.shape} and {y.shape}")
    differences = y - x  # NaN where either side is undefined
    differences = differences[~np.isnan(differences)]
    interval = bootstrap_ci(differences, seed=seed, n_resamples=n_resamples,
                            confidence=confidence)
    if not differences.size:
        return Difference(test="paired-bootstrap", n_pairs=0)
    return Difference(
        test="paired-bootstrap",
        difference=float(differences.mean()),
        interval=interval,
        significant=excludes_zero(interval),
        n_pairs=int(differences.size),
    )
