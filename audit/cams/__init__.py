"""Class activation maps: one engine, one file per method."""

from audit.cams.engine import METHODS, CamExplainer, CamMaps, Predictions

__all__ = ["METHODS", "CamExplainer", "CamMaps", "Predictions"]
