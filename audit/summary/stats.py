"""A figure with its interval: a mean (:class:`Stat`), a share of samples (:class:`Proportion`),
and one score split by correctness (:class:`Split`, :class:`ProportionSplit`)."""

from __future__ import annotations

from pydantic import model_validator

from audit.summary.schema import Interval, IntervalMethod, _Model


class Stat(_Model):
    """A mean with its interval (``STAT`` in the schema): ``n`` defined values, their mean, the
    seeded 95% bootstrap interval of the mean, and how many rows had no value.

    ``too_few`` marks a figure over fewer than ``metrics.min_n`` values: it is shown with its
    ``n`` and no interval (``ci`` is None), and no gate or comparison takes it as evidence.
    """

    n: int = 0
    mean: float | None = None
    ci: Interval | None = None
    n_nan: int = 0
    method: IntervalMethod | None = None
    too_few: bool = False


class Proportion(Stat):
    """A share of samples (``PROPORTION`` in the schema): ``count`` of ``n``, ``mean`` =
    ``count / n``, and its 95% Wilson score interval (``method == "wilson"``).

    A file written before proportions recorded their count (schema 1, early schema 2) has it
    derived from ``n`` and ``mean``; its ``ci`` is the bootstrap interval it was written with.
    """

    count: int = 0

    @model_validator(mode="before")
    @classmethod
    def _derive_count(cls, data):
        if isinstance(data, Stat) and not isinstance(data, Proportion):
            data = data.model_dump()  # a share built as a plain Stat (before Proportion)
        if isinstance(data, dict) and "count" not in data:
            n, mean = data.get("n"), data.get("mean")
            if isinstance(n, int) and isinstance(mean, int | float):
                data = {**data, "count": int(round(mean * n))}
        return data


#: The background-fixation rate among misclassified samples with a defined flag (the name it
#: had before every proportion shared one model).
FixationFigure = Proportion


class Split(_Model):
    """One score over all, correctly classified and misclassified samples."""

    all: Stat = Stat()
    correct: Stat = Stat()
    misclassified: Stat = Stat()


class ProportionSplit(Split):
    """A 0/1 score (pointing hit, localisation correct) over all, correctly classified and
    misclassified samples: three proportions."""

    all: Proportion = Proportion()
    correct: Proportion = Proportion()
    misclassified: Proportion = Proportion()

    @model_validator(mode="before")
    @classmethod
    def _from_split(cls, data):
        if isinstance(data, Split) and not isinstance(data, ProportionSplit):
            return {"all": data.all, "correct": data.correct, "misclassified": data.misclassified}
        return data
