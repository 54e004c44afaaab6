"""The shipped pipeline files (``pipelines/*.yaml``), found by file name."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from audit.errors import ConfigError

__all__ = ["builtin_pipelines_dir", "resolve_pipeline_path"]


def builtin_pipelines_dir() -> Path:
    """The folder of the shipped pipeline files (source tree, or installed data files)."""
    source = Path(__file__).resolve().parents[2] / "pipelines"
    if source.is_dir():
        return source
    return Path(sys.prefix) / "share" / "cam-audit" / "pipelines"


def resolve_pipeline_path(path: str | os.PathLike) -> Path:
    """``path`` if it exists; else a shipped pipeline of the same file name."""
    path = Path(path)
    if path.is_file():
        return path
    shipped = builtin_pipelines_dir() / path.name
    if shipped.is_file():
        return shipped
    available = sorted(p.name for p in builtin_pipelines_dir().glob("*.yaml"))
    raise ConfigError(f"Pipeline file '{path}' does not exist. Shipped pipelines: "
                      f"{', '.join(available) or '(none found)'}.")
