"""Scores of one class activation map against a sample's ground-truth boxes, and their statistics.

Plain functions in the style of ``skimage.metrics``: options are keyword-only, inputs are
checked first, and an undefined score (no box, an all-zero map) is NaN, never an error or a
division by zero. See ``docs/results-schema.md`` for where each score goes.

Their statistics: a share of samples (a 0/1 score) gets a Wilson interval
(:mod:`~audit.metrics.proportions`), a mean of a continuous score a seeded bootstrap interval
(:mod:`~audit.metrics.bootstrap`), and neither is judged below ``min_n`` samples
(:mod:`~audit.metrics.sample_size`).
"""

from audit.metrics.bootstrap import bootstrap_ci, describe
from audit.metrics.energy import box_area_fraction, energy_in_box, enrichment
from audit.metrics.fixation import background_fixation
from audit.metrics.localization import loc_correct, loc_iou
from audit.metrics.map_scores import map_scores
from audit.metrics.masks import box_to_pixel_bounds, boxes_to_mask
from audit.metrics.pointing import centre_hit, pointing_hit
from audit.metrics.proportions import describe_proportion, proportion, wilson_interval
from audit.metrics.sample_size import DEFAULT_MIN_N, TOO_FEW_TEXT, too_few

__all__ = [
    "DEFAULT_MIN_N",
    "TOO_FEW_TEXT",
    "background_fixation",
    "bootstrap_ci",
    "box_area_fraction",
    "box_to_pixel_bounds",
    "boxes_to_mask",
    "centre_hit",
    "describe",
    "describe_proportion",
    "energy_in_box",
    "enrichment",
    "loc_correct",
    "loc_iou",
    "map_scores",
    "pointing_hit",
    "proportion",
    "too_few",
    "wilson_interval",
]
