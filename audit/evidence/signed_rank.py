"""The one-sided paired test of faithfulness: Wilcoxon's signed-rank test.

Each sample gives one paired difference ``d`` (a method's score minus the random maps' on the
same image, signed so that positive is better, :mod:`audit.evidence.paired`). The question is
whether the differences lean positive. The signed-rank test uses the pairing (what every map
of one image shares cancels), needs no normal model of the areas (bounded, often skewed) and
is deterministic: no seed, the same p-value for the same differences.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

__all__ = ["signed_rank_p"]


def signed_rank_p(differences, *, shift: float = 0.0) -> float:
    """One-sided p-value of Wilcoxon's signed-rank test that ``differences - shift`` lean
    positive (H0: symmetric about 0; H1: shifted above 0).

    Parameters
    ----------
    differences : array_like of float, shape (n,)
        Paired differences; NaN values are dropped.
    shift : float, optional
        Tested against ``shift`` instead of 0.

    Returns
    -------
    p : float
        Zero differences are dropped (Wilcoxon's convention, ``zero_method="wilcox"``). SciPy
        computes the exact null distribution when at most 50 non-zero differences remain and
        none tie, and the normal approximation with tie correction otherwise (``method=
        "auto"``). 1.0 when no non-zero difference remains (nothing leans either way).

    References
    ----------
    .. [1] Wilcoxon, F. "Individual comparisons by ranking methods", Biometrics Bulletin 1
           (1945), 80-83.

    Examples
    --------
    >>> signed_rank_p([0.1, 0.2, 0.3, 0.4])  # all 4 positive: exact p = 1 / 2**4
    0.0625
    >>> signed_rank_p([0.0, float("nan")])
    1.0
    """
    d = np.asarray(differences, dtype=np.float64).ravel()
    d = d[~np.isnan(d)] - float(shift)
    d = d[d != 0]
    if not d.size:
        return 1.0
    result = stats.wilcoxon(d, alternative="greater", zero_method="wilcox", method="auto")
    p = float(result.pvalue)
    return 1.0 if math.isnan(p) else min(1.0, max(0.0, p))
