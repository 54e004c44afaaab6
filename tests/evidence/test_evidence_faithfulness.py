"""Deletion/insertion ladders, AUC, Average Drop / Increase in Confidence and baseline maps."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import ndimage

from audit.evidence.baselines import centre_map, random_map
from audit.evidence.confidence import (
    average_drop,
    confidence_drop,
    confidence_increase,
    explanation_map_input,
    increase_in_confidence,
)
from audit.evidence.faithfulness import (
    auc,
    ladder_batches,
    perturbation_ladder,
    pixel_order,
    step_counts,
    substrate,
)
from audit.evidence.outcomes import decide
from audit.evidence.paired import paired_differences

pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")

FAST = settings(max_examples=40, deadline=None)
NAN = math.nan

# 3 x 3 image, one channel, pixel values 1..9 in row-major order.
IMAGE = np.arange(1.0, 10.0).reshape(3, 3, 1)
# Ranking: 0.9 at (1, 1) = flat 4, then the 0.5 tie at flat 2 and 6 (row-major), then 0.3 at
# flat 0, then the zeros at flat 1, 3, 5, 7, 8.
SALIENCY = np.array([[0.3, 0.0, 0.5], [0.0, 0.9, 0.0], [0.5, 0.0, 0.0]])


# ------------------------------------------------------------------------ ranking and counts


class TestPixelOrder:
    def test_descending_with_row_major_ties(self):
        assert pixel_order(SALIENCY).tolist() == [4, 2, 6, 0, 1, 3, 5, 7, 8]

    def test_constant_map_is_row_major(self):
        assert pixel_order(np.ones((2, 3))).tolist() == [0, 1, 2, 3, 4, 5]


class TestStepCounts:
    def test_hand_worked(self):
        # 9 pixels in 3 steps: 0, 3, 6, 9. 10 pixels in 4: 0, 2.5, 5, 7.5, 10 -> half up.
        assert step_counts(9, steps=3).tolist() == [0, 3, 6, 9]
        assert step_counts(10, steps=4).tolist() == [0, 3, 5, 8, 10]
        # 7 pixels in 3 steps: 2.33 -> 2, 4.67 -> 5.
        assert step_counts(7, steps=3).tolist() == [0, 2, 5, 7]

    def test_rise_setting(self):
        # 224 x 224 pixels in 224 steps: 224 pixels (one row's worth) per step.
        counts = step_counts(224 * 224, steps=224)
        assert np.all(np.diff(counts) == 224)

    def test_more_steps_than_pixels(self):
        # 2 pixels in 4 steps: 0, 0.5 -> 1, 1, 1.5 -> 2, 2.
        assert step_counts(2, steps=4).tolist() == [0, 1, 1, 2, 2]

    @FAST
    @given(st.integers(1, 10_000), st.integers(1, 300))
    def test_monotone_from_none_to_all(self, n, steps):
        counts = step_counts(n, steps=steps)
        assert counts[0] == 0 and counts[-1] == n
        assert np.all(np.diff(counts) >= 0)
        exact = np.arange(steps + 1) * n / steps
        assert np.all(np.abs(counts - exact) <= 0.5)


# ------------------------------------------------------------------------------- ladders


class TestPerturbationLadder:
    def test_deletion_hand_worked(self):
        blank = np.zeros_like(IMAGE)
        ladder = perturbation_ladder(IMAGE, SALIENCY, blank, steps=3, mode="deletion")
        assert ladder.shape == (4, 3, 3, 1)
        assert np.array_equal(ladder[0], IMAGE)
        # Step 1: 3 pixels gone, flat 4, 2, 6 (values 5, 3, 7).
        assert ladder[1, ..., 0].tolist() == [[1, 2, 0], [4, 0, 6], [0, 8, 9]]
        # Step 2: flat 0, 1, 3 too.
        assert ladder[2, ..., 0].tolist() == [[0, 0, 0], [0, 0, 6], [0, 8, 9]]
        assert np.array_equal(ladder[3], blank)

    def test_insertion_hand_worked(self):
        blank = np.full_like(IMAGE, -1.0)
        ladder = perturbation_ladder(IMAGE, SALIENCY, blank, steps=3, mode="insertion")
        assert np.array_equal(ladder[0], blank)
        assert ladder[1, ..., 0].tolist() == [[-1, -1, 3], [-1, 5, -1], [7, -1, -1]]
        assert np.array_equal(ladder[3], IMAGE)

    def test_every_channel_of_a_pixel_moves_together(self):
        image = np.stack([IMAGE[..., 0], 10 * IMAGE[..., 0], -IMAGE[..., 0]], axis=-1)
        ladder = perturbation_ladder(image, SALIENCY, np.zeros_like(image), steps=9,
                                     mode="deletion")
        assert ladder[1, 1, 1].tolist() == [0, 0, 0]
        assert ladder[1, 0, 2].tolist() == [3, 30, -3]

    def test_at_picks_steps_in_order(self):
        blank = np.zeros_like(IMAGE)
        full = perturbation_ladder(IMAGE, SALIENCY, blank, steps=3, mode="deletion")
        some = perturbation_ladder(IMAGE, SALIENCY, blank, steps=3, mode="deletion", at=[2, 1])
        assert np.array_equal(some, full[[2, 1]])
        empty = perturbation_ladder(IMAGE, SALIENCY, blank, steps=3, mode="deletion", at=[])
        assert empty.shape == (0, 3, 3, 1)

    def test_keeps_float32(self):
        image = IMAGE.astype(np.float32)
        ladder = perturbation_ladder(image, SALIENCY, np.zeros_like(image), steps=3,
                                     mode="insertion")
        assert ladder.dtype == np.float32

    @FAST
    @given(
        saliency=arrays(np.float64, (4, 5), elements=st.floats(0, 1)),
        steps=st.integers(1, 25),
    )
    def test_replaced_count_grows_by_the_step_counts(self, saliency, steps):
        image = np.ones((4, 5, 2))
        blank = np.zeros_like(image)
        counts = step_counts(20, steps=steps)
        deletion = perturbation_ladder(image, saliency, blank, steps=steps, mode="deletion")
        insertion = perturbation_ladder(image, saliency, blank, steps=steps, mode="insertion")
        replaced = (deletion[..., 0] == 0).sum(axis=(1, 2))
        restored = (insertion[..., 0] == 1).sum(axis=(1, 2))
        assert replaced.tolist() == counts.tolist()
        assert restored.tolist() == counts.tolist()
        # Once replaced, a pixel stays replaced.
        assert np.all(np.diff((deletion[..., 0] == 0).astype(int), axis=0) >= 0)
        # Insertion is deletion with the image and the substrate swapped.
        swapped = perturbation_ladder(blank, saliency, image, steps=steps, mode="deletion")
        assert np.array_equal(insertion, swapped)

    @pytest.mark.parametrize(
        "kwargs, match",
        [
            ({"mode": "erase"}, r"mode must be one of \('deletion', 'insertion'\); got "
                                "mode='erase'"),
            ({"steps": 0}, "steps must be an integer >= 1; got steps=0"),
            ({"at": [4]}, r"at must be a 1-D sequence of step indices in \[0, 3\]"),
            ({"at": [0.5]}, "at must be"),
        ],
    )
    def test_errors(self, kwargs, match):
        options = {"steps": 3, "mode": "deletion", **kwargs}
        with pytest.raises(ValueError, match=match):
            perturbation_ladder(IMAGE, SALIENCY, np.zeros_like(IMAGE), **options)

    def test_shape_errors(self):
        with pytest.raises(ValueError, match=r"saliency must have the image's height and width "
                                             r"\(3, 3\); got shape \(2, 2\)"):
            perturbation_ladder(IMAGE, np.ones((2, 2)), np.zeros_like(IMAGE), steps=3,
                                mode="deletion")
        with pytest.raises(ValueError, match="substrate must have the image's shape"):
            perturbation_ladder(IMAGE, SALIENCY, np.zeros((3, 3, 3)), steps=3, mode="deletion")
        with pytest.raises(ValueError, match="floating-point model input"):
            perturbation_ladder(IMAGE.astype(np.uint8), SALIENCY, np.zeros_like(IMAGE),
                                steps=3, mode="deletion")


class TestLadderBatches:
    def test_batches_hold_every_ladder_once(self):
        rng = np.random.default_rng(0)
        images = rng.normal(size=(3, 4, 4, 2)).astype(np.float32)
        maps = rng.uniform(size=(3, 4, 4))
        blanks = np.zeros_like(images)
        got = list(ladder_batches(images, maps, blanks, steps=5, mode="insertion",
                                  batch_size=4))
        # 3 samples x 6 steps = 18 images: batches of 4, 4, 4, 4, 2.
        assert [len(rows) for rows, _ in got] == [4, 4, 4, 4, 2]
        rows = np.concatenate([r for r, _ in got])
        batch = np.concatenate([b for _, b in got])
        assert rows.tolist() == [[i, k] for i in range(3) for k in range(6)]
        for i in range(3):
            expected = perturbation_ladder(images[i], maps[i], blanks[i], steps=5,
                                           mode="insertion")
            assert np.array_equal(batch[rows[:, 0] == i], expected)
        assert batch.dtype == np.float32

    def test_inner_steps_only(self):
        images = np.ones((2, 2, 2, 1))
        got = list(ladder_batches(images, np.zeros((2, 2, 2)), np.zeros_like(images), steps=4,
                                  mode="deletion", batch_size=10, at=range(1, 4)))
        assert len(got) == 1
        assert got[0][0].tolist() == [[0, 1], [0, 2], [0, 3], [1, 1], [1, 2], [1, 3]]

    def test_scores_fill_a_table(self):
        # A "model" scoring the mean of the image: deletion from ones into zeros of a
        # 2 x 2 image in 4 steps scores 1, 3/4, 1/2, 1/4, 0: AUC (2.5 - 0.5 - 0) / 4 = 0.5.
        images = np.ones((2, 2, 2, 1))
        scores = np.full((2, 5), NAN)
        for rows, batch in ladder_batches(images, np.zeros((2, 2, 2)), np.zeros_like(images),
                                          steps=4, mode="deletion", batch_size=3):
            scores[rows[:, 0], rows[:, 1]] = batch.mean(axis=(1, 2, 3))
        assert scores.tolist() == [[1, 0.75, 0.5, 0.25, 0]] * 2
        assert auc(scores).tolist() == [0.5, 0.5]

    def test_errors(self):
        images = np.ones((2, 2, 2, 1))
        with pytest.raises(ValueError, match=r"got \(2, 2, 2, 1\), \(2, 3, 3\)"):
            next(ladder_batches(images, np.zeros((2, 3, 3)), np.zeros_like(images), steps=2,
                                mode="deletion", batch_size=2))
        with pytest.raises(ValueError, match="batch_size must be an integer >= 1"):
            next(ladder_batches(images, np.zeros((2, 2, 2)), np.zeros_like(images), steps=2,
                                mode="deletion", batch_size=0))


# ---------------------------------------------------------------------------- substrates


class TestSubstrate:
    def test_mean_and_zero(self):
        # Channel 0: 1..9, mean 5; channel 1: all 2.
        image = np.concatenate([IMAGE, np.full_like(IMAGE, 2.0)], axis=-1)
        mean = substrate(image, kind="mean")
        assert mean.shape == image.shape
        assert np.all(mean[..., 0] == 5.0) and np.all(mean[..., 1] == 2.0)
        assert np.array_equal(substrate(image, kind="zero"), np.zeros_like(image))

    def test_blur_default_sigma_is_5_px_at_224(self):
        rng = np.random.default_rng(1)
        image = rng.normal(size=(224, 112, 2)).astype(np.float32)
        default = substrate(image)
        assert default.dtype == np.float32
        expected = ndimage.gaussian_filter(image.astype(np.float64), (5.0, 5.0, 0.0),
                                           mode="reflect").astype(np.float32)
        assert np.array_equal(default, expected)

    def test_blur_sigma_scales_with_the_input(self):
        rng = np.random.default_rng(2)
        image = rng.normal(size=(56, 40, 1))
        # 5 * 56 / 224 = 1.25 px.
        assert np.array_equal(substrate(image), substrate(image, sigma=1.25))

    def test_blur_of_a_constant_image(self):
        image = np.full((10, 10, 3), 0.25)
        assert np.allclose(substrate(image, kind="blur"), image)

    def test_errors(self):
        with pytest.raises(ValueError, match=r"kind must be one of \('blur', 'mean', 'zero'\)"):
            substrate(IMAGE, kind="noise")
        with pytest.raises(ValueError, match="sigma is only used with kind='blur'"):
            substrate(IMAGE, kind="mean", sigma=2.0)
        with pytest.raises(ValueError, match=r"image must be finite; got 1 NaN"):
            substrate(np.where(IMAGE == 5, NAN, IMAGE))


# ------------------------------------------------------------------------------------ AUC


class TestAuc:
    def test_hand_worked(self):
        # Trapezoids of width 1/3: (1 + 0.5) / 2 + (0.5 + 0.25) / 2 + (0.25 + 0) / 2 = 1.25;
        # RISE's form: (1.75 - 1 / 2 - 0 / 2) / 3 = 1.25 / 3.
        assert auc([1.0, 0.5, 0.25, 0.0]) == pytest.approx(1.25 / 3, abs=1e-15)
        # (0.8 + 0.6 + 0.2 + 0.0 - 0.4 - 0.0) / 3 = 1.2 / 3 = 0.4.
        assert auc([0.8, 0.6, 0.2, 0.0]) == pytest.approx(0.4, abs=1e-15)
        # One step: the mean of the two ends.
        assert auc([0.2, 0.6]) == pytest.approx(0.4, abs=1e-15)

    def test_matches_numpy_trapezoid(self):
        scores = np.random.default_rng(3).uniform(size=17)
        expected = np.trapezoid(scores, dx=1 / 16)
        assert auc(scores) == pytest.approx(expected, abs=1e-12)

    def test_table(self):
        assert auc([[1.0, 1.0, 1.0], [0.0, 0.0, 1.0]]).tolist() == [1.0, 0.25]

    @FAST
    @given(arrays(np.float64, st.integers(2, 50), elements=st.floats(0, 1)))
    def test_between_min_and_max(self, scores):
        area = auc(scores)
        assert scores.min() - 1e-12 <= area <= scores.max() + 1e-12
        assert 0.0 <= area <= 1.0 + 1e-12

    @pytest.mark.parametrize("scores", [[0.5], [], 0.5, [0.5, NAN]])
    def test_errors(self, scores):
        with pytest.raises(ValueError, match="scores must"):
            auc(scores)


# ------------------------------------------------------------------- faithful or not


class TestDecidedOnAToyModel:
    def test_from_describe_on_a_toy_model(self):
        # The toy model's score is the mean of the top-left 4 x 4 quadrant of an 8 x 8 image
        # of ones. A map on that quadrant deletes it in the first quarter of the steps;
        # random maps delete it a little at every step.
        def score(batch):
            return batch[:, :4, :4, 0].mean(axis=(1, 2))

        images = np.ones((12, 8, 8, 1))
        blanks = np.zeros_like(images)
        good = np.zeros((12, 8, 8))
        good[:, :4, :4] = 1.0
        noise = np.stack([random_map((8, 8), seed=i, smooth=0) for i in range(12)])
        areas = {}
        for name, maps in (("cam", good), ("random", noise)):
            for mode in ("deletion", "insertion"):
                table = np.zeros((12, 17))
                for rows, batch in ladder_batches(images, maps, blanks, steps=16, mode=mode,
                                                  batch_size=32):
                    table[rows[:, 0], rows[:, 1]] = score(batch)
                areas[name, mode] = auc(table)
        # The quadrant's 16 pixels go in the first 4 steps (4 pixels each): deletion scores
        # 1, 3/4, 1/2, 1/4, 0, 0, ... -> AUC (2.5 - 0.5) / 16 = 0.125.
        assert areas["cam", "deletion"] == pytest.approx(np.full(12, 0.125))
        assert areas["cam", "insertion"] == pytest.approx(np.full(12, 1 - 0.125))
        # Paired image by image against the random map: better on all 12 images, on both
        # curves, so the exact one-sided signed-rank p-value is 1 / 2**12 on each.
        d_del = paired_differences(areas["cam", "deletion"], areas["random", "deletion"],
                                   better="lower")
        d_ins = paired_differences(areas["cam", "insertion"], areas["random", "insertion"],
                                   better="higher")
        decision = decide({"cam": (d_del, d_ins)}, level=0.05, margin=0.01, seeds={"cam": 0})
        assert decision["cam"].outcome == "faithful"
        assert decision["cam"].p_value == pytest.approx(2.0**-12)


# ------------------------------------------------------- Average Drop / Increase in Confidence


class TestConfidence:
    def test_explanation_map_input(self):
        # Inputs in [-1, 1]: a 0 in the map sends a pixel to 0, mid-grey.
        image = np.array([[[1.0, -1.0, 0.5], [-0.5, 0.25, 1.0]]], dtype=np.float32)
        masked = explanation_map_input(image, [[0.5, 0.0]])
        assert masked.dtype == np.float32
        assert masked.tolist() == [[[0.5, -0.5, 0.25], [0.0, 0.0, 0.0]]]

    def test_explanation_map_must_be_scaled(self):
        with pytest.raises(ValueError, match=r"saliency must lie within \[0, 1\] \(scale the "
                                             r"map first\); got values from 0.0 to 2.0"):
            explanation_map_input(np.ones((1, 2, 3)), [[2.0, 0.0]])

    def test_hand_worked(self):
        y = [0.8, 0.5, 0.4]
        o = [0.6, 0.7, 0.1]
        # Drops: (0.8 - 0.6) / 0.8 = 0.25; 0.7 > 0.5 -> 0; (0.4 - 0.1) / 0.4 = 0.75.
        assert confidence_drop(y, o) == pytest.approx([0.25, 0.0, 0.75])
        assert average_drop(y, o) == pytest.approx(1.0 / 3)
        # Only the second sample gains.
        assert confidence_increase(y, o).tolist() == [0.0, 1.0, 0.0]
        assert increase_in_confidence(y, o) == pytest.approx(1.0 / 3)

    def test_undefined_samples_are_dropped(self):
        # y = 0 has no confidence to lose; a NaN in either drops the sample.
        y = [0.0, 0.5, NAN, 0.4]
        o = [0.3, 0.25, 0.2, NAN]
        drop = confidence_drop(y, o)
        assert math.isnan(drop[0]) and drop[1] == 0.5
        assert math.isnan(drop[2]) and math.isnan(drop[3])
        assert average_drop(y, o) == 0.5
        # o > y: 0.3 > 0 -> 1, 0.25 > 0.5 -> 0.
        assert confidence_increase(y, o)[:2].tolist() == [1.0, 0.0]
        assert increase_in_confidence(y, o) == 0.5

    def test_nothing_defined(self):
        assert math.isnan(average_drop([], []))
        assert math.isnan(increase_in_confidence([NAN], [0.5]))

    def test_equal_is_not_an_increase(self):
        assert increase_in_confidence([0.5], [0.5]) == 0.0
        assert average_drop([0.5], [0.5]) == 0.0

    def test_errors(self):
        with pytest.raises(ValueError, match=r"o must lie within \[0, 1\]"):
            average_drop([0.5], [1.5])
        with pytest.raises(ValueError, match="same length; got y=2, o=1"):
            increase_in_confidence([0.5, 0.5], [0.5])


# ------------------------------------------------------------------------- baseline maps


class TestRandomMap:
    def test_seeded_and_scaled(self):
        first = random_map((20, 30), seed=7)
        assert first.shape == (20, 30)
        assert first.min() == 0.0 and first.max() == 1.0
        assert np.array_equal(first, random_map((20, 30), seed=7))
        assert not np.array_equal(first, random_map((20, 30), seed=8))

    def test_default_smoothing_is_a_sixteenth_of_the_longer_side(self):
        assert np.array_equal(random_map((20, 32), seed=1), random_map((20, 32), seed=1,
                                                                       smooth=2.0))

    def test_unsmoothed_is_the_rescaled_uniform_draw(self):
        noise = np.random.default_rng(5).uniform(size=(4, 6))
        expected = (noise - noise.min()) / (noise.max() - noise.min())
        assert np.array_equal(random_map((4, 6), seed=5, smooth=0), expected)

    def test_smoothing_makes_neighbours_alike(self):
        rough = random_map((64, 64), seed=0, smooth=0)
        smooth = random_map((64, 64), seed=0, smooth=4.0)
        assert np.abs(np.diff(smooth, axis=1)).mean() < np.abs(np.diff(rough, axis=1)).mean() / 4

    def test_single_pixel(self):
        assert random_map((1, 1), seed=0).tolist() == [[0.0]]

    def test_errors(self):
        with pytest.raises(ValueError, match="smooth must be None or a finite number of pixels"):
            random_map((4, 4), seed=0, smooth=-1)
        with pytest.raises(ValueError, match="seed must be an integer >= 0; got seed=-1"):
            random_map((4, 4), seed=-1)
        with pytest.raises(ValueError, match=r"shape must be \(height, width\)"):
            random_map((4, 0), seed=0)
        with pytest.raises(TypeError):
            random_map((4, 4))


class TestCentreMap:
    def test_hand_worked_3x3(self):
        # sigma = 3 / 4 = 0.75, so 2 sigma^2 = 1.125: a side neighbour exp(-1 / 1.125),
        # a corner exp(-2 / 1.125).
        side, corner = math.exp(-1 / 1.125), math.exp(-2 / 1.125)
        expected = [[corner, side, corner], [side, 1.0, side], [corner, side, corner]]
        assert centre_map((3, 3)) == pytest.approx(np.array(expected), abs=1e-15)

    def test_even_sides_peak_at_the_four_centre_pixels(self):
        # 2 x 2: every pixel is half a pixel from the centre in both directions.
        assert centre_map((2, 2)).tolist() == [[1.0, 1.0], [1.0, 1.0]]
        m = centre_map((4, 6))
        assert m.max() == 1.0
        assert np.array_equal(m[1:3, 2:4], np.ones((2, 2)))

    def test_sigma_is_a_quarter_of_each_side(self):
        # 1 x 9: the column 4 pixels from the centre is sigma_x * 16 / 9 away, sigma_x = 9/4:
        # exp(-16 / (2 * 81 / 16)) = exp(-128 / 81).
        assert centre_map((1, 9))[0, 0] == pytest.approx(math.exp(-128 / 81), abs=1e-15)

    def test_symmetric(self):
        m = centre_map((7, 10))
        assert np.allclose(m, m[::-1]) and np.allclose(m, m[:, ::-1])
