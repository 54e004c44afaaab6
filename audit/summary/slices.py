"""The figures of one subgroup of samples (a slice, see :mod:`audit.analysis.slices`)."""

from __future__ import annotations

from audit.summary.evidence import BehaviourSplit
from audit.summary.schema import _Model
from audit.summary.stats import Proportion, Stat

#: How a sample without a value for a column is named in its slice's key.
MISSING = "(missing)"


def slice_key(values: dict[str, str | None]) -> str:
    """The key of the slice whose columns have ``values`` (in order; None: no value).

    >>> slice_key({"site": "A"})
    'site=A'
    >>> slice_key({"site": "A", "device": None})
    'site=A,device=(missing)'
    """
    return ",".join(f"{column}={MISSING if value is None else value}"
                    for column, value in values.items())


class SliceMethodFigures(_Model):
    """The figures of one CAM method over the samples of one slice (maps of the predicted
    class): the fixation rate among the slice's errors and per sample, the mean energy in box,
    the pointing hit rate and the degenerate maps (the figures the gates read)."""

    n_maps: int = 0
    n_degenerate: int = 0
    background_fixation: Proportion = Proportion()
    background_fixation_per_sample: Proportion = Proportion()
    energy_in_box: Stat = Stat()
    pointing_hit: Proportion = Proportion()


class SliceFigures(_Model):
    """The samples whose manifest columns have the values ``values`` (``None``: no value).

    ``n`` counts the slice's audited samples. A slice of fewer than ``metrics.min_slice_size``
    samples is listed but not ``scored``: its ``accuracy`` and ``behaviour`` are None and its
    ``methods`` empty. ``behaviour`` is None too when the pipeline has no ``behaviour`` stage.
    """

    values: dict[str, str | None] = {}
    n: int = 0
    scored: bool = False
    accuracy: Proportion | None = None
    methods: dict[str, SliceMethodFigures] = {}
    behaviour: BehaviourSplit | None = None
