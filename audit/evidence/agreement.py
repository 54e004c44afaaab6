"""Agreement of two binary verdicts on the same samples: plain share and Cohen's kappa.

Used to compare the behavioural verdict (:func:`audit.evidence.behaviour.background_decision`)
with a CAM method's background-fixation verdict, or two methods with each other. A verdict
is 1, 0 or NaN (undefined: a correct sample, no box); a sample counts only when both
verdicts are defined (pairwise deletion).
"""

from __future__ import annotations

import math

import numpy as np

from audit.validation import check_same_length, check_vector

__all__ = ["agreement", "cohens_kappa", "verdict_agreement"]

#: Why kappa is undefined, as :func:`verdict_agreement` reports it.
NO_PAIR = "no sample has both verdicts defined"
CHANCE_IS_ONE = (
    "both verdicts are constant and equal, so chance agreement is 1 and kappa is 0/0"
)


def _pairs(a, b) -> tuple[np.ndarray, np.ndarray]:
    """The two verdicts where both are defined, as bool arrays."""
    first = check_vector(a, "a", binary=True)
    second = check_vector(b, "b", binary=True)
    check_same_length(a=first, b=second)
    defined = ~np.isnan(first) & ~np.isnan(second)
    return first[defined] == 1, second[defined] == 1


def _counts(x: np.ndarray, y: np.ndarray) -> tuple[int, int, int]:
    """``n``, the number of agreements and the chance term ``n * n * p_e`` (all integers)."""
    n = int(x.size)
    x1, y1 = int(np.count_nonzero(x)), int(np.count_nonzero(y))
    agree = int(np.count_nonzero(x == y))
    chance = x1 * y1 + (n - x1) * (n - y1)
    return n, agree, chance


def agreement(a, b) -> float:
    """Share of the samples on which two binary verdicts agree.

    Parameters
    ----------
    a, b : array_like, shape (n,)
        Verdicts 0, 1 (or bool), NaN when undefined; paired sample by sample.

    Returns
    -------
    share : float
        In [0, 1], over the samples where both are defined; NaN when there are none.

    Examples
    --------
    >>> agreement([1, 1, 0, 0, 1, float("nan")], [1, 0, 0, 0, 1, 1])
    0.8
    """
    x, y = _pairs(a, b)
    if x.size == 0:
        return math.nan
    return float(np.count_nonzero(x == y) / x.size)


def cohens_kappa(a, b) -> float:
    """Cohen's kappa of two binary verdicts: agreement beyond chance.

    ``kappa = (p_o - p_e) / (1 - p_e)``, with ``p_o`` the share of agreements and
    ``p_e = p_a p_b + (1 - p_a)(1 - p_b)`` the agreement expected by chance from each
    verdict's own share of 1s.

    Parameters
    ----------
    a, b : array_like, shape (n,)
        Verdicts 0, 1 (or bool), NaN when undefined; a NaN in either drops the pair.

    Returns
    -------
    kappa : float
        In [-1, 1]. NaN when no pair is defined, or when both verdicts are constant and
        equal (all 1 or all 0 on both sides): then ``p_e = 1`` and kappa is 0/0, although
        the share of agreement is 1 (see :func:`verdict_agreement` for the reason in
        words). Both constant but different gives ``p_o = p_e = 0``, so kappa 0.0.

    Raises
    ------
    ValueError
        If an input is not 1-D, holds a value other than 0, 1 or NaN, or the lengths differ.

    Notes
    -----
    Computed from integer counts, ``(n * agreements - n**2 p_e) / (n**2 - n**2 p_e)``, so
    the degenerate case is found exactly, not up to rounding.

    References
    ----------
    .. [1] Cohen, J. "A Coefficient of Agreement for Nominal Scales", Educational and
           Psychological Measurement 20(1), 1960.

    Examples
    --------
    >>> round(cohens_kappa([1, 1, 0, 0, 1], [1, 0, 0, 0, 1]), 6)  # 8/13
    0.615385
    >>> cohens_kappa([1, 1, 1], [1, 1, 1])
    nan
    >>> cohens_kappa([1, 1], [0, 0])
    0.0
    """
    n, agree, chance = _counts(*_pairs(a, b))
    if n == 0 or chance == n * n:
        return math.nan
    return (n * agree - chance) / (n * n - chance)


def verdict_agreement(a, b) -> dict:
    """Count, share of agreement and kappa of two verdicts, ready for ``json.dumps``.

    Returns
    -------
    summary : dict
        ``{"n": int, "agreement": float | None, "kappa": float | None,
        "kappa_undefined": str | None}``: the number of samples where both verdicts are
        defined, :func:`agreement`, :func:`cohens_kappa` (None where NaN), and why kappa is
        undefined (None when it is defined).

    Examples
    --------
    >>> verdict_agreement([1, 1, 0], [1, 1, 0])["kappa"]
    1.0
    >>> summary = verdict_agreement([0, 0], [0, 0])
    >>> summary["agreement"], summary["kappa"]
    (1.0, None)
    >>> summary["kappa_undefined"]
    'both verdicts are constant and equal, so chance agreement is 1 and kappa is 0/0'
    """
    x, y = _pairs(a, b)
    n, agree, chance = _counts(x, y)
    if n == 0:
        return {"n": 0, "agreement": None, "kappa": None, "kappa_undefined": NO_PAIR}
    if chance == n * n:
        return {"n": n, "agreement": agree / n, "kappa": None, "kappa_undefined": CHANCE_IS_ONE}
    kappa = (n * agree - chance) / (n * n - chance)
    return {"n": n, "agreement": agree / n, "kappa": kappa, "kappa_undefined": None}
