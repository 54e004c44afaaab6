"""Background fixation: a wrong decision whose explanation sits on the background."""

from __future__ import annotations

import math
from numbers import Real

import numpy as np

__all__ = ["DEFAULT_BELOW", "background_fixation"]

#: Enrichment below which a misclassified sample's map counts as fixed on the background.
DEFAULT_BELOW = 1.0


def background_fixation(
    enrichment_value: float, *, correct: bool, below: float = DEFAULT_BELOW
) -> float:
    """Whether a misclassified sample's map puts less than chance weight on the object.

    Parameters
    ----------
    enrichment_value : float
        The :func:`~audit.metrics.energy.enrichment` of the map of the *predicted* class;
        non-negative, or NaN when undefined (no box, degenerate map).
    correct : bool
        Whether the sample was classified correctly.
    below : float, optional
        The map is fixed on the background when its enrichment is strictly below this value
        (1.0 = chance).

    Returns
    -------
    fixation : float
        1.0 when misclassified and ``enrichment_value < below``, 0.0 when misclassified and
        ``enrichment_value >= below``, NaN when the sample is correct or the enrichment is NaN.

    Raises
    ------
    ValueError
        If ``correct`` is not a bool, ``enrichment_value`` is negative or infinite, or
        ``below`` is not a finite number >= 0.

    Examples
    --------
    >>> background_fixation(0.4, correct=False)
    1.0
    >>> background_fixation(1.0, correct=False)
    0.0
    >>> background_fixation(0.4, correct=True)
    nan
    """
    if not isinstance(correct, bool | np.bool_):
        raise ValueError(f"correct must be a bool; got {correct!r}")
    if (
        isinstance(below, bool)
        or not isinstance(below, Real)
        or not math.isfinite(below)
        or below < 0
    ):
        raise ValueError(f"below must be a finite number >= 0; got {below!r}")
    if isinstance(enrichment_value, bool) or not isinstance(enrichment_value, Real):
        raise ValueError(f"enrichment_value must be a number >= 0 or NaN; got {enrichment_value!r}")
    if math.isnan(enrichment_value):
        return math.nan
    if math.isinf(enrichment_value) or enrichment_value < 0:
        raise ValueError(
            f"enrichment_value must be a finite number >= 0 or NaN; got {enrichment_value!r}"
        )
    if correct:
        return math.nan
    return 1.0 if enrichment_value < below else 0.0
