"""Reading files that may live in object storage: ``gs://``, ``s3://``, ``hdfs://`` and any other
scheme Apache Beam's file systems know.

A path with a scheme (``gs://bucket/model.keras``) is a URL and is read through
:class:`apache_beam.io.filesystems.FileSystems`, so each scheme works when the matching Beam IO
extra is installed (``apache-beam[gcp]`` for ``gs://``, ``apache-beam[aws]`` for ``s3://``,
the ``hdfs`` package for ``hdfs://``). A path without one is a local file and is read as always,
without importing Beam. The same reader serves the local engine and Beam's workers.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from audit.errors import ConfigError

__all__ = ["BEAM_INSTALL", "RemoteReadError", "check_scheme", "is_url", "local_copy", "open_url",
           "read_bytes"]

#: How to install the optional Beam dependency.
BEAM_INSTALL = 'pip install "cam-audit[beam]"'

_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")

# The Beam extra that brings each common scheme's file system, for the error message.
_EXTRAS = {"gs": 'pip install "apache-beam[gcp]"', "s3": 'pip install "apache-beam[aws]"',
           "hdfs": "pip install hdfs", "az": 'pip install "apache-beam[azure]"'}


class RemoteReadError(OSError):
    """A URL could not be read (other than its absence, which is ``FileNotFoundError``)."""


def is_url(path) -> bool:
    """Whether ``path`` names a file by URL (``scheme://...``) rather than a local path.

    >>> is_url("gs://bucket/images/cat.jpg"), is_url("/data/cat.jpg"), is_url("C:\\\\cat.jpg")
    (True, False, False)
    """
    return isinstance(path, str) and bool(_URL.match(path))


def _filesystems():
    try:
        from apache_beam.io.filesystems import FileSystems
    except ImportError:
        raise ConfigError(f"Reading URLs such as gs:// needs Apache Beam's file systems, which "
                          f"are not installed: {BEAM_INSTALL}.") from None
    return FileSystems


def _scheme(url: str) -> str:
    return url.split("://", 1)[0].lower()


def check_scheme(url: str, *, what: str) -> None:
    """Raise a ConfigError naming ``what`` when ``url``'s scheme has no file system here (Beam
    is not installed, or not with the IO extra the scheme needs)."""
    filesystems = _filesystems()
    try:
        filesystems.get_filesystem(url)
    except ValueError:
        hint = _EXTRAS.get(_scheme(url))
        install = f": {hint}" if hint else ""
        raise ConfigError(f"{what}: no file system for '{_scheme(url)}://' URLs is installed"
                          f"{install}; got {url!r}") from None


def open_url(url: str):
    """A binary file object reading ``url`` (close it after use).

    Raises
    ------
    FileNotFoundError
        Nothing exists at ``url``.
    RemoteReadError
        The URL's scheme has no file system installed, or reading it failed.
    """
    filesystems = _filesystems()
    from apache_beam.io.filesystem import CompressionTypes

    try:
        if not filesystems.exists(url):
            raise FileNotFoundError(f"no file at {url}")
        return filesystems.open(url, compression_type=CompressionTypes.UNCOMPRESSED)
    except FileNotFoundError:
        raise
    except ValueError as exc:  # Beam: "Unable to get filesystem from specified path"
        hint = _EXTRAS.get(_scheme(url))
        install = f"; install its file system: {hint}" if hint else ""
        raise RemoteReadError(f"no file system for '{_scheme(url)}://' URLs ({exc})"
                              f"{install}") from None
    except Exception as exc:  # noqa: BLE001 - network, permission: each file system its own
        raise RemoteReadError(f"{type(exc).__name__}: {exc}") from exc


def read_bytes(url: str) -> bytes:
    """The whole content of ``url`` (see :func:`open_url` for the errors)."""
    with open_url(url) as handle:
        return handle.read()


@contextlib.contextmanager
def local_copy(url: str) -> Iterator[Path]:
    """A temporary local copy of ``url``, with the same file name, removed afterwards (for
    libraries that read local files only, like Keras's model loader)."""
    folder = Path(tempfile.mkdtemp(prefix="cam-audit-"))
    try:
        target = folder / (url.rstrip("/").rsplit("/", 1)[-1] or "file")
        with open_url(url) as source, open(target, "wb") as handle:
            shutil.copyfileobj(source, handle, 1 << 20)
        yield target
    finally:
        shutil.rmtree(folder, ignore_errors=True)

