"""The smallest sample a figure is judged on (``metrics.min_n``).

A rate of 1 of 1 or a mean of three maps is a fact about those samples, not evidence about the
model: any interval drawn from so few is either meaningless (a bootstrap of one value has width
zero) or so wide that it says nothing. Below ``min_n`` defined values, a figure is shown with
its ``n`` and no interval, marked "too few samples to judge", and no gate or comparison takes
it as evidence.
"""

from __future__ import annotations

from numbers import Integral

__all__ = ["DEFAULT_MIN_N", "TOO_FEW_TEXT", "check_min_n", "too_few"]

#: ``metrics.min_n``'s default: below 10 samples no figure is judged.
DEFAULT_MIN_N = 10

#: How a figure below ``min_n`` is described wherever it is shown.
TOO_FEW_TEXT = "too few samples to judge"


def check_min_n(min_n) -> int:
    """``min_n`` as an int; ``ValueError`` unless it is an integer >= 1.

    >>> check_min_n(10)
    10
    """
    if isinstance(min_n, bool) or not isinstance(min_n, Integral) or min_n < 1:
        raise ValueError(f"min_n must be an integer >= 1; got {min_n!r}")
    return int(min_n)


def too_few(n: int, *, min_n: int = DEFAULT_MIN_N) -> bool:
    """Whether a figure over ``n`` defined values is too small to judge: ``n < min_n``.

    Parameters
    ----------
    n : int
        The number of defined values the figure is computed from (0 for an undefined figure).
    min_n : int, optional
        The smallest ``n`` that is judged.

    Returns
    -------
    bool
        True when ``n < min_n``; an undefined figure (``n == 0``) is too few as well.

    Raises
    ------
    ValueError
        If ``n`` is not an integer >= 0 or ``min_n`` not an integer >= 1.

    Examples
    --------
    >>> too_few(1), too_few(9), too_few(10)
    (True, True, False)
    >>> too_few(3, min_n=3)
    False
    """
    min_n = check_min_n(min_n)
    if isinstance(n, bool) or not isinstance(n, Integral) or n < 0:
        raise ValueError(f"n must be an integer >= 0; got {n!r}")
    return int(n) < min_n
