"""The outcome of testing one figure's change between two runs: :class:`Difference`.

Every test of :mod:`audit.comparison` returns one, whatever it computes (a p-value or an
interval of the difference), so the comparison, the report and the run history read the same
fields.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

__all__ = ["Difference", "TestName", "excludes_zero"]

Interval = tuple[float, float]

#: The tests, by the name ``comparison.json`` gives them.
TestName = Literal["mcnemar-exact", "paired-bootstrap", "newcombe", "combined-intervals"]


class Difference(BaseModel):
    """The change ``b - a`` of one figure and the test of it.

    Attributes
    ----------
    test : str
        ``"mcnemar-exact"`` (paired 0/1 outcomes), ``"paired-bootstrap"`` (paired scores),
        ``"newcombe"`` (two independent proportions) or ``"combined-intervals"`` (two
        independent means).
    difference : float or None
        ``b - a``: of the means of the paired samples for a paired test, of the two figures
        otherwise; None when either side is undefined.
    p_value : float or None
        The test's two-sided p-value (McNemar); None for the interval-based tests.
    interval : (float, float) or None
        The interval of the difference at the comparison's confidence level (the interval
        tests); None for McNemar.
    significant : bool or None
        Whether the change is significant: ``p_value < 1 - confidence``, or the interval
        excludes 0. None when the change could not be tested (an undefined side).
    n_pairs : int or None
        Samples defined in both runs (paired tests).
    discordant : (int, int) or None
        McNemar's discordant pairs: (yes in A only, yes in B only).
    """

    model_config = ConfigDict(frozen=True)

    test: TestName
    difference: float | None = None
    p_value: float | None = None
    interval: Interval | None = None
    significant: bool | None = None
    n_pairs: int | None = None
    discordant: tuple[int, int] | None = None


def excludes_zero(interval: Interval | None) -> bool | None:
    """Whether an interval of a difference lies wholly above or below 0 (None: no interval).

    >>> excludes_zero((0.01, 0.2)), excludes_zero((-0.1, 0.2)), excludes_zero((0.0, 0.0))
    (True, False, False)
    """
    if interval is None:
        return None
    low, high = interval
    return bool(low > 0.0 or high < 0.0)
