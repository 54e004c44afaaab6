"""cam-audit: audit trained Keras image classifiers with class activation maps.

``audit.run`` and ``audit.explain`` (see :mod:`audit.app.api`) are imported on first use, so
``import audit`` stays light (no TensorFlow).
"""

from audit.version import __version__

__all__ = ["AuditResult", "Explanation", "__version__", "explain", "run"]

_API = {"run", "explain", "AuditResult", "Explanation"}


def __getattr__(name: str):
    if name in _API:
        from audit.app import api

        return getattr(api, name)
    raise AttributeError(f"module 'audit' has no attribute {name!r}")
