"""Scores of one map against ground-truth boxes: hand-computed cases and properties."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import ndimage

import audit.metrics.bootstrap as bootstrap_module
from audit.datasets.types import Box
from audit.metrics import (
    background_fixation,
    bootstrap_ci,
    box_area_fraction,
    box_to_pixel_bounds,
    boxes_to_mask,
    centre_hit,
    describe,
    energy_in_box,
    enrichment,
    loc_correct,
    loc_iou,
    map_scores,
    pointing_hit,
)

# Undefined scores must be NaN without a division warning.
pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")

FAST = settings(max_examples=40, deadline=None)


def mask_of(shape, *slices):
    mask = np.zeros(shape, dtype=bool)
    for rows, cols in slices:
        mask[rows, cols] = True
    return mask


def point_map(shape, *points, value=1.0):
    heatmap = np.zeros(shape)
    for row, col in points:
        heatmap[row, col] = value
    return heatmap


# --------------------------------------------------------------------------------------- masks


class TestBoxToPixelBounds:
    def test_whole_pixels(self):
        # x 2..5 covers columns 2, 3, 4; y 1..3 covers rows 1, 2.
        assert box_to_pixel_bounds(Box(2, 1, 5, 3), (10, 10)) == (1, 2, 3, 5)

    def test_fractional_edges_cover_every_touched_pixel(self):
        assert box_to_pixel_bounds(Box(2.5, 1.2, 4.1, 3.9), (10, 10)) == (1, 2, 4, 5)

    def test_accepts_four_numbers(self):
        assert box_to_pixel_bounds((2, 1, 5, 3), (10, 10)) == (1, 2, 3, 5)
        assert box_to_pixel_bounds(np.array([2.0, 1.0, 5.0, 3.0]), (10, 10)) == (1, 2, 3, 5)

    def test_partly_outside_is_clipped(self):
        assert box_to_pixel_bounds(Box(-3, -2.5, 4, 100), (6, 8)) == (0, 0, 6, 4)

    def test_entirely_outside_is_empty(self):
        min_row, min_col, max_row, max_col = box_to_pixel_bounds(Box(20, 1, 30, 3), (6, 8))
        assert max_col == min_col
        min_row, min_col, max_row, max_col = box_to_pixel_bounds(Box(1, -9, 3, -1), (6, 8))
        assert max_row == min_row

    def test_floating_point_noise_is_snapped(self):
        noisy = Box(1.9999999999, 0.0000000001, 5.0000000001, 2.9999999999)
        assert box_to_pixel_bounds(noisy, (10, 10)) == (0, 2, 3, 5)

    @pytest.mark.parametrize(
        "box, match",
        [
            (Box(5, 1, 2, 3), "x_min <= x_max"),
            (Box(1, 4, 2, 3), "y_min <= y_max"),
            (Box(math.nan, 1, 2, 3), "finite"),
            (Box(0, 0, math.inf, 3), "finite"),
            ((1, 2, 3), "four numbers"),
            ("abcd", "four numbers"),
        ],
    )
    def test_rejects_malformed_boxes(self, box, match):
        with pytest.raises(ValueError, match=match):
            box_to_pixel_bounds(box, (10, 10))

    @pytest.mark.parametrize("shape", [(0, 5), (5,), (5.0, 5), (-1, 3), (True, 3), "ab"])
    def test_rejects_bad_shape(self, shape):
        with pytest.raises(ValueError, match="shape must be"):
            box_to_pixel_bounds(Box(0, 0, 1, 1), shape)


class TestBoxesToMask:
    def test_union_of_overlapping_boxes(self):
        mask = boxes_to_mask([Box(1, 0, 3, 2), Box(2, 1, 4, 3)], (4, 5))
        expected = np.array(
            [
                [0, 1, 1, 0, 0],
                [0, 1, 1, 1, 0],
                [0, 0, 1, 1, 0],
                [0, 0, 0, 0, 0],
            ],
            dtype=bool,
        )
        np.testing.assert_array_equal(mask, expected)
        assert mask.dtype == bool

    def test_array_input_equals_box_input(self):
        boxes = [Box(1, 0, 3, 2), Box(2.5, 1.5, 9, 3)]
        array = np.array([b.as_tuple() for b in boxes])
        np.testing.assert_array_equal(boxes_to_mask(array, (4, 5)), boxes_to_mask(boxes, (4, 5)))

    def test_no_boxes_give_an_empty_mask(self):
        assert not boxes_to_mask([], (3, 4)).any()
        assert not boxes_to_mask(np.zeros((0, 4)), (3, 4)).any()
        assert boxes_to_mask([], (3, 4)).shape == (3, 4)

    def test_box_partly_outside_is_clipped(self):
        mask = boxes_to_mask([Box(-5, 2, 2, 10)], (4, 4))
        np.testing.assert_array_equal(mask, mask_of((4, 4), (slice(2, 4), slice(0, 2))))

    def test_box_entirely_outside_adds_nothing(self):
        assert not boxes_to_mask([Box(10, 10, 12, 12)], (4, 4)).any()

    @pytest.mark.parametrize("boxes", [np.zeros((2, 3)), np.zeros(4), 42, "boxes"])
    def test_rejects_bad_containers(self, boxes):
        with pytest.raises(ValueError, match="boxes"):
            boxes_to_mask(boxes, (4, 4))


# -------------------------------------------------------------------------------------- energy


class TestEnergy:
    def test_hand_computed(self):
        heatmap = np.array([[1.0, 2.0, 0.0], [0.0, 3.0, 1.0], [1.0, 0.0, 2.0]])  # sum 10
        mask = mask_of((3, 3), (slice(0, 2), slice(1, 3)))  # 2 + 0 + 3 + 1 = 6, 4 of 9 pixels
        assert energy_in_box(heatmap, mask) == pytest.approx(0.6)
        assert box_area_fraction(mask) == pytest.approx(4 / 9)
        assert enrichment(heatmap, mask) == pytest.approx(0.6 * 9 / 4)

    def test_overlapping_boxes_count_each_pixel_once(self):
        heatmap = np.arange(16, dtype=float).reshape(4, 4)  # sum 120
        mask = boxes_to_mask([Box(0, 0, 2, 2), Box(1, 1, 3, 3), Box(0, 0, 2, 2)], (4, 4))
        # Pixels (0,0) (0,1) (1,0) (1,1) (1,2) (2,1) (2,2): 0 + 1 + 4 + 5 + 6 + 9 + 10 = 35.
        assert energy_in_box(heatmap, mask) == pytest.approx(35 / 120)
        assert box_area_fraction(mask) == 7 / 16

    @pytest.mark.parametrize("shape", [(1, 1), (3, 5), (7, 2), (64, 48)])
    @pytest.mark.parametrize("value", [1.0, 0.3, 1e-200, 1e200])
    def test_uniform_map_has_enrichment_one(self, shape, value):
        mask = np.zeros(shape, dtype=bool)
        mask[: max(1, shape[0] // 2), : max(1, shape[1] // 3)] = True
        assert enrichment(np.full(shape, value), mask) == 1.0

    def test_box_covering_the_image(self):
        heatmap = np.array([[0.0, 5.0], [1.0, 0.0]])
        mask = np.ones((2, 2), dtype=bool)
        assert energy_in_box(heatmap, mask) == 1.0
        assert box_area_fraction(mask) == 1.0
        assert enrichment(heatmap, mask) == 1.0

    def test_map_off_the_box_scores_zero(self):
        heatmap = point_map((4, 4), (3, 3))
        mask = mask_of((4, 4), (slice(0, 2), slice(0, 2)))
        assert energy_in_box(heatmap, mask) == 0.0
        assert enrichment(heatmap, mask) == 0.0

    def test_zero_map_is_nan(self):
        mask = mask_of((3, 3), (0, 0))
        assert math.isnan(energy_in_box(np.zeros((3, 3)), mask))
        assert math.isnan(enrichment(np.zeros((3, 3)), mask))

    def test_empty_mask_is_nan(self):
        empty = np.zeros((3, 3), dtype=bool)
        heatmap = np.ones((3, 3))
        assert math.isnan(energy_in_box(heatmap, empty))
        assert math.isnan(box_area_fraction(empty))
        assert math.isnan(enrichment(heatmap, empty))
        assert math.isnan(enrichment(np.zeros((3, 3)), empty))

    def test_accepts_integer_maps_and_0_1_masks(self):
        heatmap = np.array([[1, 3], [0, 0]])
        assert energy_in_box(heatmap, np.array([[0, 1], [0, 0]])) == 0.75
        assert energy_in_box(heatmap.tolist(), [[False, True], [False, False]]) == 0.75

    def test_returns_python_floats(self):
        heatmap = np.ones((2, 2), dtype=np.float32)
        mask = mask_of((2, 2), (0, 0))
        for value in (energy_in_box(heatmap, mask), box_area_fraction(mask)):
            assert type(value) is float
        assert type(enrichment(heatmap, mask)) is float

    @pytest.mark.parametrize(
        "heatmap, match",
        [
            (np.ones((2, 2, 1)), "2-D"),
            (np.ones(4), "2-D"),
            (np.zeros((0, 3)), "at least one pixel"),
            (np.array([[1.0, math.nan], [0.0, 0.0]]), "finite"),
            (np.array([[1.0, math.inf], [0.0, 0.0]]), "finite"),
            (np.array([[1.0, -0.5], [0.0, 0.0]]), "non-negative"),
            (np.array([["a", "b"], ["c", "d"]]), "real numbers"),
            (np.ones((2, 2), dtype=complex), "real numbers"),
        ],
    )
    def test_rejects_bad_maps(self, heatmap, match):
        mask = np.ones(np.shape(heatmap)[:2] if np.ndim(heatmap) >= 2 else (2, 2), dtype=bool)
        with pytest.raises(ValueError, match=match):
            energy_in_box(heatmap, mask)
        with pytest.raises(ValueError, match=match):
            enrichment(heatmap, mask)

    def test_rejects_shape_mismatch(self):
        with pytest.raises(ValueError, match=r"same shape.*\(2, 3\).*\(3, 2\)"):
            energy_in_box(np.ones((2, 3)), np.ones((3, 2), dtype=bool))

    @pytest.mark.parametrize(
        "mask, match",
        [
            (np.full((2, 2), 2), "only 0 and 1"),
            (np.ones((2, 2, 2), dtype=bool), "2-D"),
            (np.array([["x"]]), "boolean"),
        ],
    )
    def test_rejects_bad_masks(self, mask, match):
        with pytest.raises(ValueError, match=match):
            box_area_fraction(mask)


# ------------------------------------------------------------------------------------ pointing


class TestPointingHit:
    def test_maximum_inside_the_box(self):
        heatmap = point_map((50, 50), (10, 10))
        mask = mask_of((50, 50), (slice(5, 15), slice(5, 15)))
        assert pointing_hit(heatmap, mask) == 1.0
        assert pointing_hit(heatmap, mask, tolerance=0) == 1.0

    def test_maximum_far_from_the_box(self):
        heatmap = point_map((50, 50), (45, 45))
        mask = mask_of((50, 50), (slice(0, 10), slice(0, 10)))
        assert pointing_hit(heatmap, mask) == 0.0

    def test_exactly_at_the_tolerance_is_a_hit(self):
        heatmap = point_map((40, 40), (0, 0))
        straight = mask_of((40, 40), (0, 15))  # distance 15
        diagonal = mask_of((40, 40), (9, 12))  # distance sqrt(81 + 144) = 15
        for mask in (straight, diagonal):
            assert pointing_hit(heatmap, mask, tolerance=15) == 1.0
            assert pointing_hit(heatmap, mask) == 1.0
            assert pointing_hit(heatmap, mask, tolerance=14.99) == 0.0

    def test_just_beyond_the_tolerance_is_a_miss(self):
        heatmap = point_map((40, 40), (20, 20))
        mask = mask_of((40, 40), (21, 35))  # distance sqrt(1 + 225) = 15.033
        assert pointing_hit(heatmap, mask, tolerance=15) == 0.0
        assert pointing_hit(heatmap, mask, tolerance=15.01) == 0.0
        assert pointing_hit(heatmap, mask, tolerance=15.04) == 1.0

    def test_ties_take_the_first_maximum_in_row_major_order(self):
        box = mask_of((30, 30), (slice(25, 30), slice(0, 30)))
        # (2, 29) comes before (28, 0) in row-major order and lies far from the box.
        heatmap = point_map((30, 30), (2, 29), (28, 0))
        assert pointing_hit(heatmap, box, tolerance=3) == 0.0
        # Same row: the smaller column comes first.
        heatmap = point_map((30, 30), (27, 3), (27, 1))
        left_box = mask_of((30, 30), (27, 1))
        assert pointing_hit(heatmap, left_box, tolerance=0) == 1.0
        assert pointing_hit(heatmap, mask_of((30, 30), (27, 3)), tolerance=0) == 0.0

    def test_nearest_of_several_boxes_counts(self):
        heatmap = point_map((60, 60), (30, 30))
        mask = boxes_to_mask([Box(0, 0, 5, 5), Box(40, 30, 50, 31)], (60, 60))  # col 40: 10 px
        assert pointing_hit(heatmap, mask, tolerance=10) == 1.0
        assert pointing_hit(heatmap, mask, tolerance=9.9) == 0.0

    def test_zero_map_is_nan(self):
        mask = mask_of((5, 5), (2, 2))
        assert math.isnan(pointing_hit(np.zeros((5, 5)), mask))

    def test_empty_mask_is_nan(self):
        assert math.isnan(pointing_hit(np.ones((5, 5)), np.zeros((5, 5), dtype=bool)))

    def test_large_tolerance_and_large_map(self):
        heatmap = point_map((1000, 1000), (999, 999))
        mask = mask_of((1000, 1000), (0, 0))
        assert pointing_hit(heatmap, mask, tolerance=1e6) == 1.0
        assert pointing_hit(heatmap, mask, tolerance=1412) == 0.0  # distance 1412.8
        assert pointing_hit(heatmap, mask, tolerance=1413) == 1.0

    @pytest.mark.parametrize("tolerance", [-1, math.nan, math.inf, True, "15", None])
    def test_rejects_bad_tolerance(self, tolerance):
        with pytest.raises(ValueError, match="tolerance must be"):
            pointing_hit(np.ones((3, 3)), np.ones((3, 3), dtype=bool), tolerance=tolerance)
        with pytest.raises(ValueError, match="tolerance must be"):
            centre_hit(np.ones((3, 3), dtype=bool), tolerance=tolerance)

    def test_rejects_shape_mismatch(self):
        with pytest.raises(ValueError, match="same shape"):
            pointing_hit(np.ones((3, 3)), np.ones((3, 4), dtype=bool))


class TestCentreHit:
    @pytest.mark.parametrize(
        "shape, centre", [((5, 5), (2, 2)), ((4, 6), (1, 2)), ((1, 1), (0, 0))]
    )
    def test_centre_pixel(self, shape, centre):
        assert centre_hit(mask_of(shape, centre), tolerance=0) == 1.0
        other = mask_of(shape)
        other[tuple((c + 1) % s for c, s in zip(centre, shape, strict=True))] = True
        if shape != (1, 1):
            assert centre_hit(other, tolerance=0) == 0.0
            assert centre_hit(other, tolerance=1.5) == 1.0

    def test_corner_box_misses_the_centre(self):
        mask = mask_of((100, 100), (slice(0, 10), slice(0, 10)))
        assert centre_hit(mask) == 0.0  # (49, 49) to (9, 9): 56.6 px

    def test_empty_mask_is_nan(self):
        assert math.isnan(centre_hit(np.zeros((4, 4), dtype=bool)))

    def test_equals_pointing_hit_of_a_map_peaking_at_the_centre(self):
        mask = mask_of((31, 40), (slice(0, 3), slice(30, 40)))
        heatmap = point_map((31, 40), (15, 19))
        for tolerance in (5, 15, 17, 18, 25):
            assert centre_hit(mask, tolerance=tolerance) == pointing_hit(
                heatmap, mask, tolerance=tolerance
            )


# -------------------------------------------------------------------------------- localisation


class TestLocIou:
    def test_exact_match(self):
        heatmap = np.zeros((10, 10))
        heatmap[2:6, 3:8] = 1.0
        assert loc_iou(heatmap, [Box(3, 2, 8, 6)]) == 1.0

    def test_partial_overlap(self):
        heatmap = np.zeros((10, 10))
        heatmap[2:6, 2:6] = 1.0  # rows 2-5, cols 2-5: 16 px
        # Box covers rows 2-5, cols 4-7: 16 px, 8 shared, union 24.
        assert loc_iou(heatmap, [Box(4, 2, 8, 6)]) == pytest.approx(1 / 3)

    def test_best_matching_box_wins(self):
        heatmap = np.zeros((10, 10))
        heatmap[2:6, 2:6] = 1.0
        boxes = [Box(0, 0, 1, 1), Box(4, 2, 8, 6), Box(2, 2, 6, 5)]  # IoU 0, 1/3, 12/16
        assert loc_iou(heatmap, boxes) == pytest.approx(0.75)
        assert loc_iou(heatmap, np.array([b.as_tuple() for b in boxes])) == pytest.approx(0.75)

    def test_disjoint_is_zero(self):
        heatmap = np.zeros((10, 10))
        heatmap[0:2, 0:2] = 1.0
        assert loc_iou(heatmap, [Box(5, 5, 9, 9)]) == 0.0

    def test_bounding_box_of_an_irregular_region(self):
        heatmap = np.zeros((10, 10))
        heatmap[1, 1:8] = 1.0  # an L: bounding box rows 1-6, cols 1-7 (42 px)
        heatmap[1:7, 1] = 1.0
        assert loc_iou(heatmap, [Box(1, 1, 8, 7)]) == 1.0
        assert loc_iou(heatmap, [Box(1, 1, 8, 4)]) == pytest.approx(21 / 42)

    def test_threshold_is_inclusive_and_relative_to_the_maximum(self):
        heatmap = np.zeros((10, 10))
        heatmap[4, 4] = 2.0
        heatmap[4, 5] = 0.3  # 0.15 * 2.0: kept
        heatmap[4, 3] = 0.29  # below: dropped
        assert loc_iou(heatmap, [Box(4, 4, 6, 5)]) == 1.0
        assert loc_iou(heatmap, [Box(4, 4, 6, 5)], threshold=0.5) == pytest.approx(0.5)
        assert loc_iou(heatmap, [Box(3, 4, 6, 5)], threshold=0.1) == 1.0

    def test_largest_component_wins_over_the_one_holding_the_maximum(self):
        heatmap = np.zeros((12, 12))
        heatmap[0:2, 0:2] = 1.0  # 4 px, holds the maximum
        heatmap[6:9, 6:10] = 0.5  # 12 px
        assert loc_iou(heatmap, [Box(6, 6, 10, 9)]) == 1.0
        assert loc_iou(heatmap, [Box(0, 0, 2, 2)]) == 0.0

    def test_diagonal_pixels_are_connected(self):
        heatmap = np.zeros((10, 10))
        heatmap[[0, 1, 2], [0, 1, 2]] = 1.0  # 3 px, one region under 8-connectivity
        heatmap[8, 5:7] = 1.0  # 2 px
        assert loc_iou(heatmap, [Box(0, 0, 3, 3)]) == 1.0

    def test_tie_goes_to_the_region_holding_the_maximum(self):
        heatmap = np.zeros((10, 10))
        heatmap[0:2, 0:2] = 0.5  # 4 px, first in row-major order
        heatmap[6:8, 6:8] = 0.5  # 4 px
        heatmap[7, 7] = 1.0  # the maximum is in the second region
        assert loc_iou(heatmap, [Box(6, 6, 8, 8)]) == 1.0
        assert loc_iou(heatmap, [Box(0, 0, 2, 2)]) == 0.0

    def test_tie_without_the_maximum_goes_to_the_first_region(self):
        heatmap = np.zeros((10, 10))
        heatmap[6:8, 0:2] = 0.5  # 4 px, starts at row 6
        heatmap[0:2, 6:8] = 0.5  # 4 px, starts at row 0: first in row-major order
        heatmap[9, 9] = 1.0  # the maximum, alone
        assert loc_iou(heatmap, [Box(6, 0, 8, 2)]) == 1.0
        assert loc_iou(heatmap, [Box(0, 6, 2, 8)]) == 0.0

    def test_box_partly_outside_is_clipped(self):
        heatmap = np.zeros((6, 6))
        heatmap[3:6, 4:6] = 1.0
        assert loc_iou(heatmap, [Box(4, 3, 20, 20)]) == 1.0

    def test_zero_map_is_nan(self):
        assert math.isnan(loc_iou(np.zeros((5, 5)), [Box(0, 0, 2, 2)]))

    def test_no_boxes_is_nan(self):
        heatmap = np.ones((5, 5))
        assert math.isnan(loc_iou(heatmap, []))
        assert math.isnan(loc_iou(heatmap, np.zeros((0, 4))))
        assert math.isnan(loc_iou(heatmap, [Box(10, 10, 12, 12)]))  # entirely outside

    def test_uniform_map_boxes_the_whole_image(self):
        assert loc_iou(np.ones((10, 10)), [Box(0, 0, 5, 10)]) == 0.5

    @pytest.mark.parametrize("threshold", [-0.1, 1.5, math.nan, True, "0.15"])
    def test_rejects_bad_threshold(self, threshold):
        with pytest.raises(ValueError, match="threshold must be"):
            loc_iou(np.ones((3, 3)), [Box(0, 0, 1, 1)], threshold=threshold)

    def test_rejects_bad_map(self):
        with pytest.raises(ValueError, match="non-negative"):
            loc_iou(-np.ones((3, 3)), [Box(0, 0, 1, 1)])


class TestLocCorrect:
    def test_values(self):
        assert loc_correct(0.5) == 1.0
        assert loc_correct(1.0) == 1.0
        assert loc_correct(0.4999) == 0.0
        assert loc_correct(0.0) == 0.0
        assert math.isnan(loc_correct(math.nan))
        assert math.isnan(loc_correct(np.float64("nan")))
        assert loc_correct(0.3, min_iou=0.3) == 1.0
        assert loc_correct(0.29, min_iou=0.3) == 0.0

    @pytest.mark.parametrize("iou", [1.5, -0.1, math.inf, "0.5", None, True])
    def test_rejects_bad_iou(self, iou):
        with pytest.raises(ValueError, match="iou must be"):
            loc_correct(iou)

    @pytest.mark.parametrize("min_iou", [1.5, -0.1, math.nan])
    def test_rejects_bad_min_iou(self, min_iou):
        with pytest.raises(ValueError, match="min_iou must be"):
            loc_correct(0.5, min_iou=min_iou)


# ------------------------------------------------------------------------------------ fixation


class TestBackgroundFixation:
    def test_values(self):
        assert background_fixation(0.4, correct=False) == 1.0
        assert background_fixation(0.999, correct=False) == 1.0
        assert background_fixation(1.0, correct=False) == 0.0
        assert background_fixation(3.0, correct=False) == 0.0
        assert background_fixation(0.0, correct=False) == 1.0
        assert math.isnan(background_fixation(0.4, correct=True))
        assert math.isnan(background_fixation(3.0, correct=True))
        assert math.isnan(background_fixation(math.nan, correct=False))
        assert math.isnan(background_fixation(math.nan, correct=True))

    def test_configurable_threshold(self):
        assert background_fixation(0.6, correct=False, below=0.5) == 0.0
        assert background_fixation(0.5, correct=False, below=0.5) == 0.0
        assert background_fixation(0.4, correct=False, below=0.5) == 1.0

    def test_accepts_numpy_scalars(self):
        assert background_fixation(np.float32(0.4), correct=np.bool_(False)) == 1.0

    @pytest.mark.parametrize("correct", [0, 1, None, "no"])
    def test_rejects_non_bool_correct(self, correct):
        with pytest.raises(ValueError, match="correct must be a bool"):
            background_fixation(0.4, correct=correct)

    @pytest.mark.parametrize("value", [-0.1, math.inf, "0.4", None])
    def test_rejects_bad_enrichment(self, value):
        with pytest.raises(ValueError, match="enrichment_value must be"):
            background_fixation(value, correct=False)

    @pytest.mark.parametrize("below", [-1.0, math.nan, math.inf, "1"])
    def test_rejects_bad_below(self, below):
        with pytest.raises(ValueError, match="below must be"):
            background_fixation(0.4, correct=False, below=below)


# ----------------------------------------------------------------------------------- bootstrap


class TestBootstrap:
    def test_no_value(self):
        for values in ([], [math.nan, math.nan], np.array([])):
            low, high = bootstrap_ci(values, seed=0)
            assert math.isnan(low) and math.isnan(high)

    def test_single_and_constant_values(self):
        assert bootstrap_ci([0.25], seed=0) == (0.25, 0.25)
        assert bootstrap_ci([math.nan, 0.25, math.nan], seed=0) == (0.25, 0.25)
        assert bootstrap_ci([1.0] * 50, seed=0) == (1.0, 1.0)

    def test_reproducible_and_seed_dependent(self):
        values = np.random.default_rng(1).random(40)
        assert bootstrap_ci(values, seed=7) == bootstrap_ci(values, seed=7)
        assert bootstrap_ci(values, seed=7) != bootstrap_ci(values, seed=8)

    def test_ignores_nan_and_order(self):
        values = np.random.default_rng(2).random(30)
        with_nan = np.concatenate([values, [math.nan] * 5])
        shuffled = np.random.default_rng(3).permutation(with_nan)
        assert bootstrap_ci(shuffled, seed=4) == bootstrap_ci(values, seed=4)

    def test_binary_interval_is_about_right(self):
        values = np.array([0.0, 1.0] * 200)  # p = 0.5, n = 400: normal interval +- 0.049
        low, high = bootstrap_ci(values, seed=0, n_resamples=4000)
        assert low == pytest.approx(0.451, abs=0.01)
        assert high == pytest.approx(0.549, abs=0.01)

    def test_continuous_interval_is_about_right(self):
        values = np.random.default_rng(5).normal(10.0, 2.0, size=400)
        low, high = bootstrap_ci(values, seed=0, n_resamples=4000)
        half = 1.96 * values.std(ddof=1) / math.sqrt(values.size)
        assert low == pytest.approx(values.mean() - half, abs=0.03)
        assert high == pytest.approx(values.mean() + half, abs=0.03)

    def test_higher_confidence_gives_a_wider_interval(self):
        values = np.random.default_rng(6).random(50)
        low_50, high_50 = bootstrap_ci(values, seed=1, confidence=0.5)
        low_99, high_99 = bootstrap_ci(values, seed=1, confidence=0.99)
        assert low_99 < low_50 < high_50 < high_99

    def test_chunking_does_not_change_the_result(self, monkeypatch):
        values = np.random.default_rng(7).random(300)
        whole = bootstrap_ci(values, seed=3, n_resamples=100)
        monkeypatch.setattr(bootstrap_module, "_CHUNK_ELEMENTS", 300 * 7)
        assert bootstrap_ci(values, seed=3, n_resamples=100) == whole

    @pytest.mark.parametrize(
        "kwargs, match",
        [
            ({"seed": -1}, "seed must be"),
            ({"seed": 1.5}, "seed must be"),
            ({"seed": True}, "seed must be"),
            ({"seed": None}, "seed must be"),
            ({"seed": 0, "n_resamples": 0}, "n_resamples must be"),
            ({"seed": 0, "n_resamples": 10.0}, "n_resamples must be"),
            ({"seed": 0, "confidence": 1.0}, "confidence must be"),
            ({"seed": 0, "confidence": 0}, "confidence must be"),
        ],
    )
    def test_rejects_bad_options(self, kwargs, match):
        with pytest.raises(ValueError, match=match):
            bootstrap_ci([0.0, 1.0], **kwargs)

    @pytest.mark.parametrize(
        "values, match",
        [
            (np.ones((2, 2)), "1-D"),
            (3.0, "1-D"),
            ([1.0, math.inf], "infinite"),
            (["a", "b"], "numbers"),
        ],
    )
    def test_rejects_bad_values(self, values, match):
        with pytest.raises(ValueError, match=match):
            bootstrap_ci(values, seed=0)
        with pytest.raises(ValueError, match=match):
            describe(values, seed=0)


class TestDescribe:
    def test_shape(self):
        stat = describe([0.0, 1.0, 1.0, math.nan], seed=0, n_resamples=200)
        assert stat.keys() == {"n", "mean", "ci", "n_nan", "method", "too_few"}
        assert stat["n"] == 3 and stat["n_nan"] == 1
        assert stat["mean"] == pytest.approx(2 / 3)
        assert stat["ci"] == list(bootstrap_ci([0.0, 1.0, 1.0], seed=0, n_resamples=200))
        assert type(stat["n"]) is int and type(stat["mean"]) is float
        assert all(type(v) is float for v in stat["ci"])
        assert (stat["method"], stat["too_few"]) == ("bootstrap", False)

    def test_no_defined_value(self):
        empty = {"n": 0, "mean": None, "ci": None, "method": "bootstrap", "too_few": True}
        assert describe([math.nan] * 3, seed=0) == {**empty, "n_nan": 3}
        assert describe([], seed=0) == {**empty, "n_nan": 0}

    def test_single_value(self):
        assert describe([0.5], seed=0) == {"n": 1, "mean": 0.5, "ci": [0.5, 0.5], "n_nan": 0,
                                           "method": "bootstrap", "too_few": False}

    def test_below_min_n_no_interval_is_drawn(self):
        stat = describe([0.2, 0.4, 0.9], seed=0, min_n=4)
        assert (stat["n"], stat["ci"], stat["too_few"]) == (3, None, True)
        assert stat["mean"] == pytest.approx(0.5)
        with pytest.raises(ValueError, match="min_n must be an integer >= 1; got 0"):
            describe([0.2], seed=0, min_n=0)

    def test_accepts_pandas_and_booleans(self):
        import pandas as pd

        stat = describe(pd.Series([True, False, True, True]), seed=0)
        assert stat["n"] == 4 and stat["mean"] == 0.75


# ------------------------------------------------------------------------------------ properties

pixel_values = st.one_of(st.just(0.0), st.floats(1e-3, 1e3))
shapes = st.tuples(st.integers(1, 12), st.integers(1, 12))


@st.composite
def maps_and_boxes(draw, min_boxes=0):
    shape = draw(shapes)
    heatmap = draw(arrays(np.float64, shape, elements=pixel_values))
    height, width = shape
    coordinate = st.floats(-3, 15, allow_nan=False)
    boxes = []
    for _ in range(draw(st.integers(min_boxes, 3))):
        x0, x1 = sorted(draw(st.tuples(coordinate, coordinate)))
        y0, y1 = sorted(draw(st.tuples(coordinate, coordinate)))
        boxes.append(Box(x0, y0, x1, y1))
    return heatmap, boxes


@FAST
@given(maps_and_boxes())
def test_energy_is_a_share_and_enrichment_times_fraction_is_energy(case):
    heatmap, boxes = case
    mask = boxes_to_mask(boxes, heatmap.shape)
    energy = energy_in_box(heatmap, mask)
    if not heatmap.any() or not mask.any():
        assert math.isnan(energy) and math.isnan(enrichment(heatmap, mask))
        return
    assert 0.0 <= energy <= 1.0
    fraction = box_area_fraction(mask)
    assert 0.0 < fraction <= 1.0
    assert enrichment(heatmap, mask) * fraction == pytest.approx(energy, rel=1e-12, abs=1e-15)


@FAST
@given(maps_and_boxes(min_boxes=1), st.floats(1e-3, 1e3), st.integers(-20, 20))
def test_scaling_the_map_changes_nothing(case, factor, exponent):
    heatmap, boxes = case
    mask = boxes_to_mask(boxes, heatmap.shape)
    for name, score in (("energy", energy_in_box), ("enrichment", enrichment)):
        before, after = score(heatmap, mask), score(heatmap * factor, mask)
        assert (math.isnan(before) and math.isnan(after)) or after == pytest.approx(
            before, rel=1e-9
        ), name
    # A power of two scales exactly, so argmax and the threshold give the same pixels.
    power = 2.0**exponent
    for before, after in (
        (pointing_hit(heatmap, mask), pointing_hit(heatmap * power, mask)),
        (loc_iou(heatmap, boxes), loc_iou(heatmap * power, boxes)),
    ):
        assert (math.isnan(before) and math.isnan(after)) or before == after


@FAST
@given(maps_and_boxes(min_boxes=1), st.data(), st.floats(0, 20))
def test_pointing_hits_when_the_maximum_is_in_a_box(case, data, tolerance):
    heatmap, boxes = case
    mask = boxes_to_mask(boxes, heatmap.shape)
    if not mask.any():
        return
    rows, cols = np.nonzero(mask)
    pick = data.draw(st.integers(0, rows.size - 1))
    heatmap = heatmap.copy()
    heatmap[rows[pick], cols[pick]] = heatmap.max() + 1.0
    assert pointing_hit(heatmap, mask, tolerance=tolerance) == 1.0


@FAST
@given(maps_and_boxes(min_boxes=1), st.floats(0, 20))
def test_pointing_matches_a_distance_transform(case, tolerance):
    heatmap, boxes = case
    mask = boxes_to_mask(boxes, heatmap.shape)
    hit = pointing_hit(heatmap, mask, tolerance=tolerance)
    if not heatmap.any() or not mask.any():
        assert math.isnan(hit)
        return
    row, col = np.unravel_index(np.argmax(heatmap), heatmap.shape)
    rows, cols = np.nonzero(mask)
    nearest = int(np.min((rows - row) ** 2 + (cols - col) ** 2))  # whole image, exact
    assert ndimage.distance_transform_edt(~mask)[row, col] ** 2 == pytest.approx(nearest)
    assert hit == float(nearest <= tolerance * tolerance)


@FAST
@given(maps_and_boxes(), st.floats(0, 1))
def test_loc_iou_is_in_the_unit_interval(case, threshold):
    heatmap, boxes = case
    iou = loc_iou(heatmap, boxes, threshold=threshold)
    if not heatmap.any() or not boxes_to_mask(boxes, heatmap.shape).any():
        assert math.isnan(iou)
    else:
        assert 0.0 <= iou <= 1.0
        assert loc_correct(iou) in (0.0, 1.0)


def _reference_bounds(heatmap, threshold):
    """The largest region's bounds the plain way: label the whole map, count, break ties."""
    from skimage.measure import label

    peak = int(np.argmax(heatmap))
    labels = label(heatmap >= threshold * heatmap.flat[peak], connectivity=2)
    sizes = np.bincount(labels.ravel())
    sizes[0] = 0
    tied = np.flatnonzero(sizes == sizes.max())
    chosen = labels.flat[peak] if labels.flat[peak] in tied else tied[0]
    rows, cols = np.nonzero(labels == chosen)
    return rows.min(), cols.min(), rows.max() + 1, cols.max() + 1


@FAST
@given(maps_and_boxes(), st.floats(0, 1))
def test_largest_region_on_the_cropped_map_is_the_whole_maps(case, threshold):
    from audit.metrics.localization import _largest_component_bounds

    heatmap, _ = case
    if not heatmap.any():
        return
    assert _largest_component_bounds(heatmap, threshold) == _reference_bounds(heatmap,
                                                                              threshold)


def test_largest_region_ties_and_several_regions():
    from audit.metrics.localization import _largest_component_bounds

    heatmap = np.zeros((9, 9))
    heatmap[1:3, 1:3] = 0.5  # four pixels, first in row-major order
    heatmap[6:8, 6:8] = 0.6  # four pixels, holds the maximum
    heatmap[4, 0] = 0.2  # one pixel
    assert _largest_component_bounds(heatmap, 0.15) == (6, 6, 8, 8)
    heatmap[7, 7] = 0.4
    heatmap[0, 8] = 1.0  # the maximum alone: the tie goes to the first region
    assert _largest_component_bounds(heatmap, 0.15) == (1, 1, 3, 3)


@FAST
@given(maps_and_boxes(), st.floats(0, 20), st.floats(0, 1))
def test_map_scores_are_each_functions_own(case, tolerance, threshold):
    heatmap, boxes = case
    mask = boxes_to_mask(boxes, heatmap.shape)
    scores = map_scores(heatmap, mask, boxes, tolerance=tolerance, loc_threshold=threshold)
    expected = {
        "energy_in_box": energy_in_box(heatmap, mask),
        "box_area_fraction": box_area_fraction(mask),
        "enrichment": enrichment(heatmap, mask),
        "pointing_hit": pointing_hit(heatmap, mask, tolerance=tolerance),
        "loc_iou": loc_iou(heatmap, boxes, threshold=threshold) if boxes else math.nan,
    }
    assert scores.keys() == expected.keys()
    for key, value in expected.items():  # to the last bit
        assert (math.isnan(value) and math.isnan(scores[key])) or scores[key] == value, key


def test_map_scores_checks_its_inputs_first():
    mask = np.ones((3, 3), bool)
    with pytest.raises(ValueError, match="must be non-negative"):
        map_scores(-np.ones((3, 3)), mask, [])
    with pytest.raises(ValueError, match=r"same shape; got heatmap \(3, 3\) and box_mask"):
        map_scores(np.ones((3, 3)), np.ones((2, 3), bool), [])
    with pytest.raises(ValueError, match="loc_threshold must be a number in"):
        map_scores(np.ones((3, 3)), mask, [], loc_threshold=2.0)


@pytest.mark.parametrize("name", ["energy", "pointing", "localization", "masks", "map_scores",
                                  "fixation", "proportions", "bootstrap", "sample_size"])
def test_doctests(name):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(f"audit.metrics.{name}"))
    assert result.failed == 0 and result.attempted > 0


@FAST
@given(maps_and_boxes())
def test_mask_is_the_union_of_single_box_masks(case):
    heatmap, boxes = case
    union = np.zeros(heatmap.shape, dtype=bool)
    for box in boxes:
        single = boxes_to_mask([box], heatmap.shape)
        min_row, min_col, max_row, max_col = box_to_pixel_bounds(box, heatmap.shape)
        assert single.sum() == (max_row - min_row) * (max_col - min_col)
        assert single[min_row:max_row, min_col:max_col].all()
        union |= single
    np.testing.assert_array_equal(boxes_to_mask(boxes, heatmap.shape), union)


values_with_nan = st.lists(
    st.one_of(st.floats(-1e6, 1e6), st.just(math.nan), st.sampled_from([0.0, 1.0])),
    max_size=40,
)


@FAST
@given(values_with_nan, st.integers(0, 2**32))
def test_bootstrap_interval_holds_the_mean_and_is_reproducible(values, seed):
    low, high = bootstrap_ci(values, seed=seed, n_resamples=200)
    assert (low, high) == bootstrap_ci(values, seed=seed, n_resamples=200)
    defined = np.array([v for v in values if not math.isnan(v)])
    stat = describe(values, seed=seed, n_resamples=200)
    assert stat["n"] == defined.size and stat["n_nan"] == len(values) - defined.size
    if defined.size == 0:
        assert math.isnan(low) and math.isnan(high) and stat["mean"] is None
        return
    mean = stat["mean"]
    assert mean == pytest.approx(float(defined.mean()), rel=1e-12, abs=1e-9)
    assert low <= mean <= high
    slack = 1e-12 * float(np.abs(defined).max())  # rounding of a resample's mean
    assert defined.min() - slack <= low and high <= defined.max() + slack
    assert stat["ci"] == [low, high]
