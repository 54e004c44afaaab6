"""Behavioural edits: hand-worked fills, what they leave alone, and their input checks."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import ndimage

from audit.datasets.types import Box
from audit.evidence.fills import FILLS, fill_region, remove_background, remove_object
from audit.metrics import boxes_to_mask

pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")

FAST = settings(max_examples=40, deadline=None)


def rgb(*rows):
    return np.array(rows, dtype=np.uint8)


# 2 x 3 RGB image; per-channel sums R = 10+20+30+40+50+60 = 210, G = 6 * 100 = 600,
# B = 0+0+0+0+0+9 = 9, so the means are R 35, G 100, B 1.5 (rint: halves to even -> 2).
IMAGE = rgb(
    [[10, 100, 0], [20, 100, 0], [30, 100, 0]],
    [[40, 100, 0], [50, 100, 0], [60, 100, 9]],
)
CORNER = np.array([[True, False, False], [False, False, False]])


class TestFillRegion:
    def test_mean_is_the_whole_images_mean_per_channel(self):
        edited = fill_region(IMAGE, CORNER, fill="mean")
        assert edited[0, 0].tolist() == [35, 100, 2]
        assert np.array_equal(edited[~CORNER], IMAGE[~CORNER])

    def test_mean_counts_the_region_too(self):
        # Gray 2 x 2: 0, 0, 0, 200 -> mean 50 although the region (the 200) is replaced.
        image = np.array([[0, 0], [0, 200]], np.uint8)
        region = np.array([[False, False], [False, True]])
        assert fill_region(image, region).tolist() == [[0, 0], [0, 50]]

    @pytest.mark.parametrize("fill, value", [("gray", 128), ("black", 0)])
    def test_constant_fills(self, fill, value):
        edited = fill_region(IMAGE, CORNER, fill=fill)
        assert edited[0, 0].tolist() == [value] * 3
        assert np.array_equal(edited[~CORNER], IMAGE[~CORNER])

    def test_a_colour_given_per_channel(self):
        edited = fill_region(IMAGE, CORNER, fill=(124, 116, 104))
        assert edited[0, 0].tolist() == [124, 116, 104]
        assert np.array_equal(edited[~CORNER], IMAGE[~CORNER])
        gray = np.array([[1, 2], [3, 4]], np.uint8)
        assert fill_region(gray, CORNER[:, :2], fill=[9]).tolist() == [[9, 2], [3, 4]]
        assert fill_region(IMAGE, CORNER, fill=np.array([1, 2, 3]))[0, 0].tolist() == [1, 2, 3]

    def test_blur_of_a_constant_image_is_the_image(self):
        image = np.full((5, 7, 3), 77, np.uint8)
        edited = fill_region(image, np.ones((5, 7), bool), fill="blur")
        assert np.array_equal(edited, image)

    def test_blur_default_sigma_is_a_sixteenth_of_the_longer_side(self):
        rng = np.random.default_rng(0)
        image = rng.integers(0, 256, size=(20, 32, 3), dtype=np.uint8)
        region = np.zeros((20, 32), bool)
        region[5:15, 8:24] = True
        default = fill_region(image, region, fill="blur")
        explicit = fill_region(image, region, fill="blur", blur_sigma=32 / 16)
        assert np.array_equal(default, explicit)
        assert not np.array_equal(default, fill_region(image, region, fill="blur", blur_sigma=1.0))

    def test_blur_is_scipys_gaussian_rounded(self):
        image = np.zeros((9, 9), np.uint8)
        image[4, 4] = 255
        expected = np.rint(ndimage.gaussian_filter(image.astype(float), 1.5, mode="reflect"))
        everywhere = np.ones((9, 9), bool)
        edited = fill_region(image, everywhere, fill="blur", blur_sigma=1.5)
        assert np.array_equal(edited, expected.astype(np.uint8))
        # The peak spreads: 255 / (2 pi 1.5^2) ~ 18 at the centre, roughly.
        assert 15 <= edited[4, 4] <= 20

    def test_blur_keeps_channels_apart(self):
        image = np.zeros((6, 6, 3), np.uint8)
        image[..., 1] = 200
        edited = fill_region(image, np.ones((6, 6), bool), fill="blur", blur_sigma=2.0)
        assert edited[..., 0].max() == 0 and edited[..., 2].max() == 0
        assert np.all(edited[..., 1] == 200)

    def test_gray_image_and_single_channel(self):
        gray = np.array([[1, 2], [3, 4]], np.uint8)  # mean 2.5 -> rint 2
        region = np.array([[True, False], [False, False]])
        assert fill_region(gray, region).tolist() == [[2, 2], [3, 4]]
        one = gray[..., None]
        assert fill_region(one, region)[..., 0].tolist() == [[2, 2], [3, 4]]

    def test_numeric_mask_and_empty_region(self):
        assert np.array_equal(fill_region(IMAGE, CORNER.astype(int)),
                              fill_region(IMAGE, CORNER))
        assert np.array_equal(fill_region(IMAGE, np.zeros((2, 3), bool)), IMAGE)

    def test_input_is_not_modified(self):
        before = IMAGE.copy()
        fill_region(IMAGE, np.ones((2, 3), bool), fill="black")
        assert np.array_equal(IMAGE, before)

    @FAST
    @given(
        image=arrays(np.uint8, st.tuples(st.integers(1, 8), st.integers(1, 8), st.just(3))),
        data=st.data(),
        fill=st.sampled_from(FILLS),
    )
    def test_only_the_region_changes(self, image, data, fill):
        region = data.draw(arrays(bool, image.shape[:2]))
        edited = fill_region(image, region, fill=fill)
        assert edited.dtype == np.uint8 and edited.shape == image.shape
        assert np.array_equal(edited[~region], image[~region])
        if fill in ("gray", "black", "mean"):
            # One colour over the whole region.
            assert len({tuple(pixel) for pixel in edited[region]}) <= 1


class TestRemove:
    def test_object_and_background_split_the_image(self):
        # Box(1, 0, 3, 1) covers row 0, columns 1 and 2.
        mask = boxes_to_mask([Box(1, 0, 3, 1)], (2, 3))
        without_object = remove_object(IMAGE, mask, fill="black")
        without_background = remove_background(IMAGE, mask, fill="black")
        assert np.array_equal(without_object[mask], np.zeros((2, 3), np.uint8))
        assert np.array_equal(without_object[~mask], IMAGE[~mask])
        assert np.array_equal(without_background[~mask], np.zeros((4, 3), np.uint8))
        assert np.array_equal(without_background[mask], IMAGE[mask])

    def test_default_fill_is_the_mean(self):
        mask = boxes_to_mask([Box(0, 0, 1, 1)], (2, 3))
        assert remove_object(IMAGE, mask)[0, 0].tolist() == [35, 100, 2]
        assert remove_background(IMAGE, mask)[1, 2].tolist() == [35, 100, 2]


class TestErrors:
    def test_unknown_fill_lists_the_allowed(self):
        with pytest.raises(ValueError, match=r"fill must be one of \('mean', 'gray', 'black', "
                                             r"'blur'\); got fill='white'"):
            fill_region(IMAGE, CORNER, fill="white")

    @pytest.mark.parametrize("fill", [(1, 2), (1, 2, 300), (1.5, 2, 3), (-1, 0, 0), 7])
    def test_bad_colour(self, fill):
        with pytest.raises(ValueError, match=r"or a colour of 3 integer\(s\) in 0..255, one per "
                                             r"channel; got fill="):
            fill_region(IMAGE, CORNER, fill=fill)

    def test_float_image(self):
        with pytest.raises(ValueError, match="uint8 image.*got dtype float64"):
            fill_region(IMAGE.astype(float), CORNER)

    def test_mask_shape(self):
        with pytest.raises(ValueError, match=r"shape \(2, 3\); got shape \(3, 2\)"):
            fill_region(IMAGE, CORNER.T)

    def test_mask_values(self):
        with pytest.raises(ValueError, match="only 0 and 1"):
            fill_region(IMAGE, CORNER * 2)

    def test_sigma_without_blur(self):
        with pytest.raises(ValueError, match="only used with fill='blur'; got fill='mean'"):
            fill_region(IMAGE, CORNER, blur_sigma=2.0)

    @pytest.mark.parametrize("sigma", [0, -1.0, float("nan"), True, "2"])
    def test_bad_sigma(self, sigma):
        with pytest.raises(ValueError, match="blur_sigma must be None or a finite number"):
            fill_region(IMAGE, CORNER, fill="blur", blur_sigma=sigma)

    def test_options_are_keyword_only(self):
        with pytest.raises(TypeError):
            fill_region(IMAGE, CORNER, "gray")
