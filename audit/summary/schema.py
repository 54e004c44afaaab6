"""What every model of ``summary.json`` shares: the schema version, the base model that reads
files of other versions, and the interval types."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

#: The version :func:`~audit.summary.write_summary` writes.
SCHEMA_VERSION = 2

#: The versions :func:`~audit.summary.read_summary` reads.
READABLE_VERSIONS = (1, 2)

Interval = tuple[float, float]


class _Model(BaseModel):
    # Unknown keys in a file written by a later version are ignored rather than refused, so an
    # older cam-audit can still compare against a newer run; every field has a default so a
    # version-1 file missing a figure still reads.
    model_config = ConfigDict(extra="ignore", frozen=True)


#: How an interval was made: a seeded percentile bootstrap of a mean, or a Wilson score
#: interval of a proportion. ``None`` in files written before it was recorded (bootstrap).
IntervalMethod = Literal["bootstrap", "wilson"]
