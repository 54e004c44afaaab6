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
from audit.cams.results import NO_TARGET, PREDICTED, CamMaps, Explanation, Predictions

__all__ = ["DEFAULT_METHODS", "METHODS", "METHOD_NAMES", "NO_TARGET", "PREDICTED", "CamExplainer",
           "CamMaps", "CamMethod", "Explanation", "Predictions", "UnknownMethodError",
           "get_method", "make_registry", "ordered_methods"]
