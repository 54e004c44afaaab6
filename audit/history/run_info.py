"""What the stages may know about the run itself: its id, folder, start, history and baseline."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from audit.config import AuditConfig

__all__ = ["RunInfo"]


@dataclass(frozen=True)
class RunInfo:
    """The run, as the ``run`` input of a stage.

    Attributes
    ----------
    run_id, run_name : str
    run_dir : Path
        The run folder.
    started_at : str
        ISO 8601 UTC time the run started (the first start, when resumed).
    history_dir : Path or None
        The output folder whose history (``index.html``) this run joins; None for a run put
        elsewhere with ``--out``.
    baseline : Path or None
        A run folder to compare with, given explicitly.
    provenance : mapping
        Facts recorded when the run started (files and their hashes, versions, host).
    config : AuditConfig or None
        The configuration as run (for the report).
    """

    run_id: str
    run_name: str
    run_dir: Path
    started_at: str
    history_dir: Path | None = None
    baseline: Path | None = None
    provenance: Mapping[str, Any] = field(default_factory=dict)
    config: AuditConfig | None = None
