"""Writing and reading ``summary.json``, of every readable schema version."""

from __future__ import annotations

import json
import os
from pathlib import Path

from pydantic import ValidationError

from audit.errors import AuditError
from audit.io import atomic_write_json
from audit.summary.run import RunSummary
from audit.summary.schema import READABLE_VERSIONS
from audit.validation import echo, must_phrase


def write_summary(path: str | os.PathLike, summary: RunSummary) -> Path:
    """Write ``summary`` as ``summary.json`` (indented, ``null`` for undefined), atomically."""
    return atomic_write_json(path, summary.model_dump(mode="json"))


def read_summary(path: str | os.PathLike) -> RunSummary:
    """Read a ``summary.json`` of any readable schema version.

    Raises
    ------
    AuditError
        When the file is missing, is not JSON, or is not a cam-audit summary of a readable
        version; the message names the file and what was found.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise AuditError(f"{path}: no summary.json; is {path.parent} a completed cam-audit run "
                         "folder?") from None
    except RecursionError:
        raise AuditError(f"{path}: cannot read the run summary: JSON nested too deeply"
                         ) from None
    except (OSError, ValueError, UnicodeDecodeError) as error:
        raise AuditError(f"{path}: cannot read the run summary: {error}") from None
    if not isinstance(data, dict):
        raise AuditError(f"{path}: expected a JSON object; got {type(data).__name__}.")
    version = data.get("schema_version", 1)
    if version not in READABLE_VERSIONS:
        raise AuditError(f"{path}: schema_version {version!r} is not one this cam-audit reads "
                         f"({', '.join(map(str, READABLE_VERSIONS))}); upgrade cam-audit.")
    try:
        return RunSummary.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        key = ".".join(str(p) for p in first["loc"])
        raise AuditError(f"{path}: {must_phrase(key, first['msg'])}; got "
                         f"{echo(first.get('input'))}") from None
