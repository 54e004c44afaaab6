"""The behaviour test's figures and the agreement of verdicts: hand-worked cases and checks."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audit.evidence.agreement import agreement, cohens_kappa, verdict_agreement
from audit.evidence.behaviour import (
    background_decision,
    background_reliance,
    class_probability,
    keeps,
)
from audit.metrics.bootstrap import describe

pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")

FAST = settings(max_examples=60, deadline=None)
NAN = math.nan


class TestKeeps:
    def test_batch(self):
        scores = [[0.2, 0.7, 0.1], [0.1, 0.3, 0.6], [0.5, 0.4, 0.1]]
        assert keeps([1, 1, 0], scores).tolist() == [1.0, 0.0, 1.0]

    def test_one_sample_gives_a_float(self):
        assert keeps(2, [0.1, 0.3, 0.6]) == 1.0
        assert isinstance(keeps(np.int64(2), [0.1, 0.3, 0.6]), float)

    def test_logits_work_too(self):
        assert keeps(0, [3.0, -1.0]) == 1.0

    def test_ties_go_to_the_lowest_index(self):
        assert keeps(0, [0.5, 0.5]) == 1.0
        assert keeps(1, [0.5, 0.5]) == 0.0

    @pytest.mark.parametrize(
        "predicted, scores, match",
        [
            ([0, 1], [[0.5, 0.5]], r"shapes \(N,\) and \(N, classes\)"),
            (3, [0.5, 0.5], r"class indices in \[0, 1\]; got values from 3 to 3"),
            (-1, [0.5, 0.5], r"class indices in \[0, 1\]"),
            (0.0, [0.5, 0.5], "integers"),
            (True, [0.5, 0.5], "integers"),
            (0, [0.5, float("nan")], "finite"),
        ],
    )
    def test_errors(self, predicted, scores, match):
        with pytest.raises(ValueError, match=match):
            keeps(predicted, scores)


class TestClassProbability:
    def test_hand_worked(self):
        probs = [[0.2, 0.7, 0.1], [0.1, 0.3, 0.6]]
        assert class_probability([1, 0], probs).tolist() == [0.7, 0.1]
        assert class_probability(2, probs[1]) == 0.6

    def test_rejects_logits(self):
        with pytest.raises(ValueError, match=r"within \[0, 1\] \(apply the softmax first\)"):
            class_probability(0, [3.0, -1.0])


class TestBackgroundDecision:
    @pytest.mark.parametrize(
        "without_object, without_background, expected",
        [(1.0, 0.0, 1.0), (1.0, 1.0, 0.0), (0.0, 0.0, 0.0), (0.0, 1.0, 0.0),
         (True, False, 1.0), (1, 0, 1.0)],
    )
    def test_misclassified(self, without_object, without_background, expected):
        assert background_decision(False, without_object, without_background) == expected

    def test_correct_is_undefined(self):
        assert math.isnan(background_decision(True, 1.0, 0.0))
        assert math.isnan(background_decision(np.bool_(True), 0.0, 0.0))

    def test_undefined_figure(self):
        assert math.isnan(background_decision(False, NAN, 0.0))
        assert math.isnan(background_decision(False, 1.0, NAN))

    @pytest.mark.parametrize(
        "args, match",
        [
            ((1, 1.0, 0.0), "correct must be a bool; got correct=1"),
            ((False, 0.5, 0.0), "keeps_without_object must be 0, 1, a bool or NaN; got "
                                "keeps_without_object=0.5"),
            ((False, 1.0, "no"), "keeps_without_background must be 0, 1"),
        ],
    )
    def test_errors(self, args, match):
        with pytest.raises(ValueError, match=match):
            background_decision(*args)


class TestBackgroundReliance:
    def test_hand_worked(self):
        # Pairs (1,0) (1,1) (1,0) (0,0); the fifth has a NaN and is dropped.
        # mean without object 3/4, without background 1/4: 0.75 - 0.25 = 0.5.
        assert background_reliance([1, 1, 1, 0, NAN], [0, 1, 0, 0, 1]) == 0.5

    def test_extremes(self):
        assert background_reliance([1, 1], [0, 0]) == 1.0
        assert background_reliance([0, 0], [1, 1]) == -1.0
        assert background_reliance([True, False], [True, False]) == 0.0

    def test_undefined(self):
        assert math.isnan(background_reliance([], []))
        assert math.isnan(background_reliance([NAN, 1], [0, NAN]))

    def test_describe_of_the_differences_has_the_same_mean(self):
        without_object = np.array([1, 1, 0, 1, 0, 1.0])
        without_background = np.array([0, 1, 0, 0, 1, 0.0])
        stat = describe(without_object - without_background, seed=0)
        # (1 + 0 + 0 + 1 - 1 + 1) / 6 = 2 / 6
        assert stat["mean"] == pytest.approx(2 / 6)
        assert background_reliance(without_object, without_background) == pytest.approx(2 / 6)

    @FAST
    @given(st.lists(st.tuples(st.sampled_from([0.0, 1.0, NAN]),
                              st.sampled_from([0.0, 1.0, NAN])), max_size=30))
    def test_bounded_and_antisymmetric(self, pairs):
        a = [p[0] for p in pairs]
        b = [p[1] for p in pairs]
        value = background_reliance(a, b)
        if math.isnan(value):
            assert not any(not math.isnan(x) and not math.isnan(y) for x, y in pairs)
        else:
            assert -1.0 <= value <= 1.0
            assert background_reliance(b, a) == pytest.approx(-value)

    @pytest.mark.parametrize(
        "a, b, match",
        [
            ([1, 0.5], [0, 0], "keeps_without_object must hold only 0, 1 or NaN; got a value 0.5"),
            ([1, 0], [0], "same length; got keeps_without_object=2, keeps_without_background=1"),
            ([[1, 0]], [[0, 0]], "must be 1-D"),
        ],
    )
    def test_errors(self, a, b, match):
        with pytest.raises(ValueError, match=match):
            background_reliance(a, b)


class TestAgreement:
    def test_hand_worked_kappa(self):
        # a: 1 1 0 0 1, b: 1 0 0 0 1 -> agree on 4 of 5: p_o = 0.8.
        # p_a = 3/5, p_b = 2/5: p_e = 0.6 * 0.4 + 0.4 * 0.6 = 0.48.
        # kappa = (0.8 - 0.48) / (1 - 0.48) = 0.32 / 0.52 = 8 / 13.
        a, b = [1, 1, 0, 0, 1], [1, 0, 0, 0, 1]
        assert agreement(a, b) == 0.8
        assert cohens_kappa(a, b) == pytest.approx(8 / 13, abs=1e-15)

    def test_nan_drops_the_pair(self):
        # Same as above with two extra pairs holding a NaN.
        a, b = [1, 1, 0, 0, 1, NAN, 1], [1, 0, 0, 0, 1, 1, NAN]
        assert agreement(a, b) == 0.8
        assert cohens_kappa(a, b) == pytest.approx(8 / 13, abs=1e-15)

    def test_perfect_and_opposite(self):
        assert cohens_kappa([1, 0, 1, 0], [1, 0, 1, 0]) == 1.0
        # p_o = 0, p_a = p_b = 1/2 -> p_e = 1/2: (0 - 1/2) / (1/2) = -1.
        assert cohens_kappa([1, 0, 1, 0], [0, 1, 0, 1]) == -1.0

    def test_both_constant_and_equal_is_undefined(self):
        assert math.isnan(cohens_kappa([1, 1, 1], [1, 1, 1]))
        assert math.isnan(cohens_kappa([0, 0], [0, 0]))
        summary = verdict_agreement([0, 0], [0, 0])
        assert summary == {
            "n": 2,
            "agreement": 1.0,
            "kappa": None,
            "kappa_undefined": "both verdicts are constant and equal, so chance agreement "
                               "is 1 and kappa is 0/0",
        }

    def test_both_constant_and_different_is_zero(self):
        # p_o = 0 and p_e = 1 * 0 + 0 * 1 = 0: kappa = 0 / 1.
        assert cohens_kappa([1, 1], [0, 0]) == 0.0

    def test_one_constant(self):
        # a: 1 1 1 1, b: 1 1 0 0 -> p_o = 1/2, p_a = 1, p_b = 1/2, p_e = 1/2: kappa 0.
        assert cohens_kappa([1, 1, 1, 1], [1, 1, 0, 0]) == 0.0

    def test_no_pair(self):
        assert math.isnan(agreement([NAN], [1]))
        assert math.isnan(cohens_kappa([], []))
        assert verdict_agreement([NAN, 1], [0, NAN]) == {
            "n": 0, "agreement": None, "kappa": None,
            "kappa_undefined": "no sample has both verdicts defined",
        }

    def test_summary_when_defined(self):
        summary = verdict_agreement([1, 1, 0, 0, 1], [1, 0, 0, 0, 1])
        assert summary["n"] == 5 and summary["agreement"] == 0.8
        assert summary["kappa"] == pytest.approx(8 / 13, abs=1e-15)
        assert summary["kappa_undefined"] is None

    @FAST
    @given(st.lists(st.tuples(st.sampled_from([0.0, 1.0, NAN]),
                              st.sampled_from([0.0, 1.0, NAN])), max_size=30))
    def test_bounds_and_symmetry(self, pairs):
        a = [p[0] for p in pairs]
        b = [p[1] for p in pairs]
        kappa = cohens_kappa(a, b)
        if not math.isnan(kappa):
            assert -1.0 <= kappa <= 1.0
            assert cohens_kappa(b, a) == pytest.approx(kappa)
            assert kappa <= agreement(a, b) + 1e-12  # (p_o - p_e) / (1 - p_e) <= p_o

    def test_errors(self):
        with pytest.raises(ValueError, match="a must hold only 0, 1 or NaN; got a value 2.0"):
            cohens_kappa([2, 0], [1, 0])
        with pytest.raises(ValueError, match="same length; got a=2, b=3"):
            agreement([1, 0], [1, 0, 1])
