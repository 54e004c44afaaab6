"""When the faithfulness stage may stop: a group-sequential design with alpha spending.

Looking at the data after every batch and stopping at the first p-value below alpha would
call a random map "faithful" far more often than alpha (every look is another chance). Here
the stage looks only at fixed sample counts, set before any data is seen (:func:`looks`:
16, 32, 64, ... and the cap, each at least twice the one before), and each look ``k`` may
spend only its share ``a_k`` of the error budget (:func:`look_levels`, the Hwang-Shih-DeCani
spending function with ``gamma = -2``). A decision at look ``k`` is made at level ``a_k``; as
``sum(a_k) = alpha``, the union bound keeps the chance of any false decision over all looks
within ``alpha``, whatever the dependence between the looks (Bonferroni across looks:
conservative, but valid without the normal model that exact group-sequential boundaries need,
so it holds for the signed-rank test and for bootstrap intervals alike).

The looks are sample counts, not batches, so the same seed, configuration and data stop at
the same sample and give the same figures whatever the batch size or engine.
"""

from __future__ import annotations

import math

import numpy as np

from audit.evidence._checks import check_int

__all__ = ["FIRST_LOOK", "GAMMA", "look_levels", "looks", "spent"]

#: The first look's sample count; later looks double it, the last is the cap.
FIRST_LOOK = 16

#: The Hwang-Shih-DeCani spending function's parameter (``gamma = -2``: little of the budget
#: early, about three quarters of it kept for the last look of a five-look design).
GAMMA = -2.0


def looks(n_max: int, *, first: int = FIRST_LOOK) -> tuple[int, ...]:
    """The sample counts at which the stage looks.

    ``first, 2 first, 4 first, ...`` and the cap, each look at least twice the one before:
    a doubling that the cap would follow with fewer new samples than it has is left out
    (``looks(40)`` is 16 and 40, not 16, 32 and 40). A look close before the cap could
    hardly stop the stage early, yet it would spend its share of alpha, which the cap's
    look then lacks: with looks at 16, 32 and 40 the last may test at 0.019 of 0.05, with
    16 and 40 at 0.040 (:func:`look_levels`).

    Examples
    --------
    >>> looks(256)
    (16, 32, 64, 128, 256)
    >>> looks(40)
    (16, 40)
    >>> looks(100)
    (16, 32, 100)
    >>> looks(24)
    (24,)
    >>> looks(12)
    (12,)
    """
    cap = check_int(n_max, "n_max", minimum=1)
    step = check_int(first, "first", minimum=1)
    out = []
    n = step
    while 2 * n <= cap:
        out.append(n)
        n *= 2
    return (*out, cap)


def spent(t, *, alpha: float, gamma: float = GAMMA) -> np.ndarray:
    """The error budget spent by information fraction ``t`` (samples so far / the cap):
    ``alpha (1 - exp(-gamma t)) / (1 - exp(-gamma))`` (Hwang, Shih and DeCani 1990).

    References
    ----------
    .. [1] Hwang, I. K., Shih, W. J. and DeCani, J. S. "Group sequential designs using a
           family of type I error probability spending functions", Statistics in Medicine
           9 (1990), 1439-1445.

    Examples
    --------
    >>> float(spent(1.0, alpha=0.05))
    0.05
    >>> round(float(spent(0.5, alpha=0.05)), 5)  # 0.05 (e - 1) / (e^2 - 1)
    0.01345
    """
    fraction = np.asarray(t, dtype=np.float64)
    if np.any((fraction < 0) | (fraction > 1)):
        raise ValueError(f"t must lie within [0, 1]; got {fraction.tolist()!r}")
    if gamma == 0:
        return alpha * fraction
    return alpha * (1.0 - np.exp(-gamma * fraction)) / (1.0 - math.exp(-gamma))


def look_levels(counts, *, alpha: float, gamma: float = GAMMA) -> tuple[float, ...]:
    """The level each look may test at: the budget spent between it and the look before.

    Parameters
    ----------
    counts : sequence of int
        The looks' sample counts, increasing (:func:`looks`); the last is the cap.
    alpha : float
        The whole budget, within (0, 1).

    Returns
    -------
    levels : tuple of float
        ``spent(n_k / n_K) - spent(n_(k-1) / n_K)``; they sum to ``alpha``. A single look
        gets all of ``alpha``.

    Examples
    --------
    >>> [round(a, 5) for a in look_levels((16, 32, 64, 128, 256), alpha=0.05)]
    [0.00104, 0.00118, 0.00285, 0.00837, 0.03655]
    >>> look_levels((24,), alpha=0.05)
    (0.05,)
    """
    values = [check_int(c, "counts", minimum=1) for c in counts]
    if not values or any(b <= a for a, b in zip(values, values[1:], strict=False)):
        raise ValueError(f"counts must be increasing sample counts; got {list(counts)!r}")
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must lie in (0, 1); got alpha={alpha!r}")
    fractions = np.asarray(values, dtype=np.float64) / values[-1]
    cumulative = spent(fractions, alpha=alpha, gamma=gamma)
    cumulative[-1] = alpha
    levels = np.diff(np.concatenate([[0.0], cumulative]))
    return tuple(float(a) for a in levels)
