"""Scores of one class activation map against a sample's ground-truth boxes, and their statistics.

Plain functions in the style of ``skimage.metrics``: options are keyword-only, inputs are
checked first, and an undefined score (no box, an all-zero map) is NaN, never an error or a
division by zero. See ``docs/results-schema.md`` for where each score goes.
"""

from audit.metrics.bootstrap import bootstrap_ci, describe
from audit.metrics.energy import box_area_fraction, energy_in_box, enrichment
from audit.metrics.fixation import background_fixation
from audit.metrics.localization import loc_correct, loc_iou
from audit.metrics.masks import box_to_pixel_bounds, boxes_to_mask
from audit.metrics.pointing import centre_hit, pointing_hit

__all__ = [
    "background_fixation",
    "bootstrap_ci",
    "box_area_fraction",
    "box_to_pixel_bounds",
    "boxes_to_mask",
    "centre_hit",
    "describe",
    "energy_in_box",
    "enrichment",
    "loc_correct",
    "loc_iou",
    "pointing_hit",
]
