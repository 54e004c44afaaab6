"""What every section of the configuration shares: unknown keys are errors (a typo must not
silently fall back to a default) and a section does not change once read."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
