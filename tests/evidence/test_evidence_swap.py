"""The background swap's edits and donor choice, worked by hand on tiny arrays."""

from __future__ import annotations

import numpy as np
import pytest

from audit.evidence.swap import (
    choose_donors,
    paste_object,
    swap_background,
    swap_decision,
    tile_hole,
)


def _grid(height, width):
    return (np.arange(height * width).reshape(height, width) + 1).astype(np.uint8)


def test_tile_hole_repeats_the_largest_band_beside_the_box():
    image = _grid(4, 5)  # rows 1..5, 6..10, 11..15, 16..20
    region = np.zeros((4, 5), bool)
    region[1:3, 3:5] = True  # bounding box rows 1-2, columns 3-4
    # Bands: above 1x5 = 5, below 1x5 = 5, left 4x3 = 12 (the largest), right 0.
    # The left band (columns 0-2) is tiled from column 0: column 3 <- 0, column 4 <- 1.
    expected = image.copy()
    expected[1, 3:5] = image[1, 0:2]
    expected[2, 3:5] = image[2, 0:2]
    np.testing.assert_array_equal(tile_hole(image, region), expected)
    assert image[1, 3] == 9  # the input is not modified


def test_tile_hole_tiles_a_band_shorter_than_the_hole():
    image = _grid(3, 2)  # [[1, 2], [3, 4], [5, 6]]
    region = np.zeros((3, 2), bool)
    region[1:, :] = True  # the band above is row 0 alone: rows 1 and 2 repeat it
    np.testing.assert_array_equal(tile_hole(image, region), [[1, 2], [1, 2], [1, 2]])


def test_tile_hole_on_rgb_and_without_a_band():
    image = np.zeros((2, 2, 3), np.uint8)
    image[0, 0] = (10, 20, 30)
    image[1, 1] = (30, 40, 50)
    region = np.array([[False, True], [True, False]])  # its box spans the whole image
    filled = tile_hole(image, region)
    # No band beside the box: the mean of the background pixels (10, 20, 30), (30, 40, 50).
    np.testing.assert_array_equal(filled[0, 1], [20, 30, 40])
    np.testing.assert_array_equal(filled[1, 0], [20, 30, 40])
    np.testing.assert_array_equal(filled[0, 0], image[0, 0])
    with pytest.raises(ValueError, match="leave some background"):
        tile_hole(image, np.ones((2, 2), bool))


def test_swap_pastes_the_object_on_the_donors_tiled_background():
    image = np.full((4, 5), 200, np.uint8)
    region = np.zeros((4, 5), bool)
    region[0, 0] = True  # the object: one pixel
    donor = _grid(4, 5)
    donor_region = np.zeros((4, 5), bool)
    donor_region[1:3, 3:5] = True
    swapped = swap_background(image, region, donor, donor_region)
    expected = tile_hole(donor, donor_region)
    expected[0, 0] = 200
    np.testing.assert_array_equal(swapped, expected)
    assert not (swapped == 200)[1:].any()  # nothing of the image but its object
    with pytest.raises(ValueError, match="background must have the shape"):
        paste_object(image, region, np.zeros((4, 4), np.uint8))


def test_donors_are_another_sample_of_the_class_and_one_of_another_class():
    ids = [f"s{i}" for i in range(9)]
    labels = [0, 0, 0, 1, 1, 1, 2, 2, 2]
    same, rand = choose_donors(ids, labels, seed=3)
    labels = np.array(labels)
    assert (same != np.arange(9)).all() and (labels[same] == labels).all()
    assert (labels[rand] != labels).all()
    # Deterministic per sample id: the same draws when asked for a few positions only (a
    # batch), whatever the batch size, and different ones with another seed.
    part_same, part_rand = choose_donors(ids, labels, seed=3, positions=[7, 2])
    assert part_same.tolist() == [same[7], same[2]] and part_rand.tolist() == [rand[7], rand[2]]
    other = choose_donors(ids, labels, seed=4)
    assert not (np.array_equal(other[0], same) and np.array_equal(other[1], rand))


def test_donors_come_from_the_candidates_only():
    same, rand = choose_donors(["a", "b", "c", "d"], [0, 0, 1, 1], seed=0, candidates=[0, 2])
    # a's only same-class candidate is itself: none; b may take a; rand from class 1 is c.
    assert same.tolist() == [-1, 0, -1, 2]
    assert rand.tolist() == [2, 2, 0, 0]


def test_swap_decision():
    assert swap_decision(False, 1, 1) == 1.0
    assert swap_decision(False, 0, 1) == 0.0
    assert np.isnan(swap_decision(True, 1, 1))
    assert np.isnan(swap_decision(False, 1, -1))
