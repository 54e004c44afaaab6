"""``cam-audit verify RUN_DIR``: is an archived run folder as its run left it?

A finished run writes ``SHA256SUMS`` last (the SHA-256 of every other file of its folder,
:meth:`audit.pipeline.RunFolder.write_manifest`). Verifying recomputes them: exit 0 when every
file is intact, 1 when a file was modified, removed or added (each named), 2 when the folder
is not a finished run folder. ``sha256sum -c SHA256SUMS`` in the folder checks the same
digests without cam-audit (but not for added files).
"""

from __future__ import annotations

from pathlib import Path

from audit.errors import ConfigError, ExitCode
from audit.pipeline import RunFolder

__all__ = ["MODIFIED", "verify_run"]

#: The exit code of a run folder that differs from its SHA256SUMS.
MODIFIED = 1


def verify_run(run_dir: str | Path) -> tuple[int, list[str]]:
    """The exit code and the problems of ``run_dir`` (see the module's docstring).

    Raises
    ------
    ConfigError
        ``run_dir`` is not a folder, or has no ``SHA256SUMS``.
    """
    path = Path(run_dir)
    if not path.is_dir():
        raise ConfigError(f"RUN_DIR must be a run folder; got '{path}', which is not a folder")
    problems = RunFolder(path).verify()
    return (MODIFIED if problems else int(ExitCode.PASSED)), problems
