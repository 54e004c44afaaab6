"""What a run records about its inputs and its environment when it starts."""

from __future__ import annotations

import hashlib
import platform
import socket
import sys
from pathlib import Path

from audit.app.engines import engine_provenance
from audit.config import AuditConfig
from audit.files import is_url, open_url
from audit.version import __version__

__all__ = ["sha256_of", "start_provenance"]


def sha256_of(path: str | Path) -> str | None:
    """SHA-256 of a file (local, or at a URL: see :mod:`audit.files`), or of a folder's files
    (sorted relative paths and contents); None when the path does not exist."""
    digest = hashlib.sha256()
    if is_url(path):
        try:
            with open_url(path) as handle:
                for chunk in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(chunk)
        except OSError:
            return None
        return digest.hexdigest()
    path = Path(path)
    if path.is_file():
        files = [path]
    elif path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file())
    else:
        return None
    for file in files:
        if path.is_dir():
            digest.update(str(file.relative_to(path)).encode() + b"\0")
        with open(file, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    return digest.hexdigest()


def start_provenance(config: AuditConfig, *, run_id: str, pipeline: str,
                     pipeline_path: str | None) -> dict:
    """Files and their hashes, the seed, library versions, the host, and the engine (and Beam
    runner) the stream runs on."""
    import keras
    import tensorflow as tf

    return {
        "run_id": run_id, "run_name": config.run_name, "pipeline": pipeline,
        "pipeline_path": pipeline_path,
        "model_path": str(config.model.path), "model_sha256": sha256_of(config.model.path),
        "manifest_path": str(config.dataset.path),
        "manifest_sha256": sha256_of(config.dataset.path),
        "dataset_format": config.dataset.format, "seed": config.seed,
        "python": sys.version.split()[0], "tensorflow": tf.__version__,
        "keras": keras.__version__, "cam_audit": __version__,
        "platform": platform.platform(), "host": socket.gethostname(),
        "gpus": len(tf.config.list_physical_devices("GPU")),
        **engine_provenance(config),
    }
