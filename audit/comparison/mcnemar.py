"""McNemar's exact test: did a 0/1 outcome change on the same samples between two runs?

Only the samples whose outcome differs between the runs carry information: with ``b`` samples
yes in A and no in B, and ``c`` samples no in A and yes in B, "no change" means each of the
``b + c`` discordant samples is equally likely to have moved either way, so ``min(b, c)``
follows a binomial law with ``b + c`` trials and probability 1/2. The exact test sums that law
instead of using the chi-squared approximation, which fails for few discordant pairs.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import binomtest

from audit.comparison.difference import Difference
from audit.validation import check_int

__all__ = ["mcnemar_exact", "paired_proportions"]


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided p-value of McNemar's exact test from the discordant pairs.

    Parameters
    ----------
    b : int
        Samples with the outcome in run A and not in run B (correct in A, wrong in B).
    c : int
        Samples with the outcome in run B and not in run A.

    Returns
    -------
    p_value : float
        ``min(1, 2 P(X <= min(b, c)))`` for ``X ~ Binomial(b + c, 1/2)``; 1.0 without a
        discordant pair.

    Raises
    ------
    ValueError
        If ``b`` or ``c`` is not an integer >= 0.

    References
    ----------
    .. [1] Q. McNemar, "Note on the sampling error of the difference between correlated
       proportions or percentages", Psychometrika 12 (1947), 153-157.
    .. [2] M. W. Fagerland, S. Lydersen and P. Laake, "The McNemar test for binary
       matched-pairs data: mid-p and asymptotic are better than exact conditional", BMC
       Medical Research Methodology 13 (2013), 91. (The exact test is conservative; it is
       kept here because it never overstates a change.)

    Examples
    --------
    A model right on 119 of 120 samples, then wrong on all of them: 119 discordant pairs, all
    one way, so p = 2 (1/2)^119 = 2^-118.

    >>> p = mcnemar_exact(119, 0)
    >>> p == 2.0 ** -118, f"{p:.3e}"
    (True, '3.009e-36')

    Three samples broke and nine were fixed: 2 P(X <= 3), X ~ Binomial(12, 1/2), is
    2 (1 + 12 + 66 + 220) / 4096 = 598 / 4096.

    >>> mcnemar_exact(3, 9) == 598 / 4096
    True
    >>> mcnemar_exact(0, 0)
    1.0
    """
    b, c = check_int(b, "b", minimum=0), check_int(c, "c", minimum=0)
    if b + c == 0:
        return 1.0
    return float(min(1.0, binomtest(min(b, c), b + c, 0.5).pvalue))


def paired_proportions(a, b, *, confidence: float = 0.95) -> Difference:
    """McNemar's exact test of a 0/1 outcome recorded for the same samples in two runs.

    Parameters
    ----------
    a, b : array_like, shape (n,)
        The outcome of each sample in run A and in run B, in the same sample order: 1, 0 or
        NaN (undefined: no box, a degenerate map). Pairs with NaN on either side are left out.
    confidence : float, optional
        The change is significant when the p-value is below ``1 - confidence``.

    Returns
    -------
    Difference
        ``test="mcnemar-exact"``, ``difference`` = mean(b) - mean(a) over the pairs
        (``(c - b) / n_pairs``), ``p_value``, ``significant``, ``n_pairs`` and
        ``discordant = (b, c)``; without a pair the difference is None and nothing is
        significant.

    Raises
    ------
    ValueError
        If ``a`` and ``b`` are not 1-D of one length, or hold a value other than 0, 1 or NaN.

    Examples
    --------
    >>> result = paired_proportions([1, 1, 0, 0], [1, 0, 0, 1])
    >>> result.discordant, result.difference, result.p_value, result.significant
    ((1, 1), 0.0, 1.0, False)
    """
    x, y = _check_pairs(a, b)
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be strictly between 0 and 1; got {confidence!r}")
    both = ~(np.isnan(x) | np.isnan(y))
    x, y = x[both], y[both]
    n = int(x.size)
    only_a = int(np.count_nonzero((x == 1.0) & (y == 0.0)))
    only_b = int(np.count_nonzero((x == 0.0) & (y == 1.0)))
    p_value = mcnemar_exact(only_a, only_b)
    return Difference(
        test="mcnemar-exact",
        difference=(only_b - only_a) / n if n else None,
        p_value=p_value,
        significant=bool(p_value < 1.0 - confidence) if n else None,
        n_pairs=n,
        discordant=(only_a, only_b),
    )


def _check_pairs(a, b) -> tuple[np.ndarray, np.ndarray]:
    try:
        x, y = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError("a and b must be 1-D sequences of 0, 1 or NaN") from None
    if x.ndim != 1 or x.shape != y.shape:
        raise ValueError(f"a and b must be 1-D of one length; got shapes {x.shape} and {y.shape}")
    for name, values in (("a", x), ("b", y)):
        defined = values[~np.isnan(values)]
        stray = defined[(defined != 0.0) & (defined != 1.0)]
        if stray.size:
            raise ValueError(f"{name} must hold 0, 1 or NaN; got {float(stray[0])!r}")
    return x, y
