"""Class activation maps: one engine, one file per method, one registry of methods."""

from audit.cams.base import CamMethod
from audit.cams.engine import CamExplainer
from audit.cams.methods import (
    DEFAULT_METHODS,
    METHOD_NAMES,
    METHODS,
    UnknownMethodError,
    get_method,
    make_registry,
    ordered_methods,
)
from audit.cams.results import CamMaps, Predictions

__all__ = ["DEFAULT_METHODS", "METHODS", "METHOD_NAMES", "CamExplainer", "CamMaps", "CamMethod",
           "Predictions", "UnknownMethodError", "get_method", "make_registry",
           "ordered_methods"]
