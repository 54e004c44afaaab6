"""Deciding faithfulness: paired differences, the signed-rank test, Holm, intersection-union,
the three outcomes and the sequential looks, worked by hand; and a null check: a method that
is itself a random map is called faithful in no more than alpha of 200 seeded runs."""

from __future__ import annotations

import math

import numpy as np
import pytest

from audit.evidence.holm import holm
from audit.evidence.outcomes import (
    CurveTest,
    MethodDecision,
    carry_forward,
    decide,
    decide_sequentially,
    samples_to_decide,
)
from audit.evidence.paired import mean_interval, paired_differences
from audit.evidence.sequential import look_levels, looks, spent
from audit.evidence.signed_rank import signed_rank_p

NAN = math.nan


# ------------------------------------------------------------------ paired differences


def test_paired_differences_average_the_random_maps_and_sign_for_better():
    method = [0.2, 0.5, 0.4]
    random = [[0.4, 0.6], [0.5, NAN], [NAN, NAN]]
    # Deletion: lower is better, so random - method: 0.5 - 0.2, 0.5 - 0.5, undefined.
    assert paired_differences(method, random, better="lower") == pytest.approx(
        [0.3, 0.0, NAN], nan_ok=True)
    assert paired_differences(method, random, better="higher") == pytest.approx(
        [-0.3, 0.0, NAN], nan_ok=True)
    with pytest.raises(ValueError, match=r"random must have shape \(n,\) or \(n, K\)"):
        paired_differences(method, [0.1, 0.2], better="lower")
    with pytest.raises(ValueError, match="better must be 'lower' or 'higher'"):
        paired_differences(method, random, better="up")


def test_mean_interval_is_seeded_and_holds_the_mean():
    d = [0.1, 0.2, 0.3, 0.4, NAN]
    first = mean_interval(d, seed=3, n_resamples=500)
    assert first == mean_interval(d, seed=3, n_resamples=500)
    mean, low, high, n = first
    assert (mean, n) == (pytest.approx(0.25), 4) and 0.1 <= low < mean < high <= 0.4
    wider = mean_interval(d, seed=3, n_resamples=500, confidence=0.999)
    assert wider[1] <= low and wider[2] >= high
    assert mean_interval([0.2], seed=0) == (0.2, 0.2, 0.2, 1)
    assert all(math.isnan(v) for v in mean_interval([NAN], seed=0)[:3])


# ------------------------------------------------------------------------ signed rank


def test_signed_rank_exact_p_by_hand():
    # All 4 positive: only 1 of the 2**4 sign patterns is as extreme.
    assert signed_rank_p([0.1, 0.2, 0.3, 0.4]) == pytest.approx(1 / 16)
    # |d| ranks 0.5 -> 1, 1 -> 2, 2 -> 3, 3 -> 4; W+ = 2 + 3 + 4 = 9; sign patterns with
    # W+ >= 9: {2, 3, 4} and {1, 2, 3, 4}: p = 2 / 16.
    assert signed_rank_p([1.0, 2.0, 3.0, -0.5]) == pytest.approx(2 / 16)
    # Zeros are dropped (Wilcoxon's convention); nothing left: p = 1.
    assert signed_rank_p([0.0, 1.0, 2.0, 3.0, 4.0]) == pytest.approx(1 / 16)
    assert signed_rank_p([0.0, 0.0]) == 1.0
    # Against a shift: d - 0.5 = (-0.4, -0.3, -0.2, -0.1) leans negative.
    assert signed_rank_p([0.1, 0.2, 0.3, 0.4], shift=0.5) == pytest.approx(1.0)


# ------------------------------------------------------------------------------- Holm


def test_holm_by_hand():
    # Sorted 0.01, 0.02, 0.5: 3 x 0.01, 2 x 0.02, 1 x 0.5.
    assert holm([0.5, 0.01, 0.02]).tolist() == pytest.approx([0.5, 0.03, 0.04])
    # The running maximum keeps the step-down order: 2 x 0.01, then max(0.02, 1 x 0.011).
    assert holm([0.01, 0.011]).tolist() == pytest.approx([0.02, 0.02])
    assert holm([0.4, 0.5, 0.9]).tolist() == pytest.approx([1.0, 1.0, 1.0])
    assert holm([0.02, NAN]).tolist() == pytest.approx([0.02, NAN], nan_ok=True)
    with pytest.raises(ValueError, match=r"p_values must lie within \[0, 1\]"):
        holm([1.5])


# ------------------------------------------------------------- the three outcomes, IU


POSITIVE5 = np.array([0.1, 0.2, 0.3, 0.4, 0.5])  # exact one-sided p = 1 / 32


def test_holm_across_methods_decides_faithful():
    one = decide({"a": (POSITIVE5, POSITIVE5)}, level=0.05, margin=0.01, seeds={"a": 0})
    assert one["a"].outcome == "faithful"
    assert (one["a"].p_value, one["a"].p_adjusted) == pytest.approx((1 / 32, 1 / 32))
    # Two such methods: Holm doubles the smaller p-value: 1 / 16 > 0.05, neither is shown
    # faithful, and neither is shown unfaithful (their intervals are far above the margin).
    two = decide({"a": (POSITIVE5, POSITIVE5), "b": (POSITIVE5, POSITIVE5)}, level=0.05,
                 margin=0.01, seeds={"a": 0, "b": 1})
    assert [d.outcome for d in two.values()] == ["undecided", "undecided"]
    assert two["a"].p_adjusted == pytest.approx(1 / 16)


def test_intersection_union_needs_both_curves():
    # Deletion wins on all 8 images (p = 1 / 256), insertion on 6 of 8 with the two losses
    # smallest: W+ = 3 + ... + 8 = 33 of 36, so W- <= 3: the sign patterns {}, {1}, {2}, {3}
    # and {1, 2}: p = 5 / 256 = 0.0195.
    deletion = np.linspace(0.1, 0.8, 8)
    insertion = np.array([-0.01, -0.02, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6])
    out = decide({"m": (deletion, insertion)}, level=0.05, margin=0.01, seeds={"m": 0})["m"]
    assert out.deletion.p_value == pytest.approx(1 / 256)
    assert out.insertion.p_value == pytest.approx(5 / 256)
    assert out.p_value == pytest.approx(5 / 256) and out.outcome == "faithful"
    # At level 0.015 the insertion curve does not reject: the union is not rejected.
    strict = decide({"m": (deletion, insertion)}, level=0.015, margin=0.01, seeds={"m": 0})
    assert strict["m"].outcome == "undecided"
    # One curve shown no better than random is enough for "not faithful".
    flat = np.linspace(-0.003, 0.003, 8)
    mixed = decide({"m": (deletion, flat)}, level=0.05, margin=0.01, seeds={"m": 0})["m"]
    assert mixed.outcome == "not faithful" and mixed.insertion.ci_high < 0.01


def test_the_three_outcomes():
    rng = np.random.default_rng(0)
    wrong_side = -np.linspace(0.05, 0.2, 20)  # worse than random on every image
    within = np.linspace(-0.004, 0.004, 20)  # indistinguishable from random, tightly
    noisy = rng.normal(0.05, 0.5, 6)  # six images that spread widely
    good = np.linspace(0.05, 0.2, 20)  # better on all 20 images: p = 2**-20, x 4 by Holm
    out = decide({"good": (good, good), "worse": (wrong_side, wrong_side),
                  "same": (within, within), "noisy": (noisy, noisy)}, level=0.05,
                 margin=0.01, seeds=dict.fromkeys(("good", "worse", "same", "noisy"), 0))
    assert {k: v.outcome for k, v in out.items()} == {
        "good": "faithful", "worse": "not faithful", "same": "not faithful",
        "noisy": "undecided"}
    assert out["worse"].deletion.ci_high < 0 < out["same"].deletion.ci_high < 0.01
    # No sample: undecided, p undefined.
    empty = decide({"m": (np.array([]), np.array([]))}, level=0.05, margin=0.01,
                   seeds={"m": 0})["m"]
    assert empty.outcome == "undecided" and math.isnan(empty.p_value)
    with pytest.raises(ValueError, match="level must lie in"):
        decide({}, level=0.0, margin=0.01, seeds={})


def test_samples_to_decide_by_hand():
    d = np.array([0.1, -0.05, 0.15, 0.0, 0.05, 0.1])  # mean 0.0583, sd 0.0736
    # ((1.645 + 0.842) x 0.0736 / 0.0583)^2 / (3 / pi) = 10.3 -> 11.
    assert samples_to_decide(d, d, alpha=0.05, margin=0.01) == 11
    # Two methods: Holm's first step at 0.025, z = 1.960: 13.08 -> 14.
    assert samples_to_decide(d, d, alpha=0.05, margin=0.01, n_methods=2) == 14
    # A curve whose mean is below zero cannot show the method faithful: how many samples
    # would show it no better than random, ((1.960 + 0.842) x 0.0736 / (0.01 + 0.0117))^2.
    low = d - 0.07
    assert samples_to_decide(d, low, alpha=0.05, margin=0.01) == 91
    assert samples_to_decide([0.1], d, alpha=0.05, margin=0.01) is None


# ------------------------------------------------------------------------ sequential


def test_looks_and_their_levels():
    assert looks(256) == (16, 32, 64, 128, 256)
    assert looks(16) == (16,) and looks(17) == (17,) and looks(32) == (16, 32)
    # A doubling the cap would follow with fewer new samples is left out: its alpha goes
    # to the cap's look (0.040 at 40 samples instead of 0.019 with a look at 32 too).
    assert looks(40) == (16, 40) and looks(100) == (16, 32, 100)
    assert look_levels(looks(40), alpha=0.05)[-1] == pytest.approx(0.0404, abs=1e-4)
    levels = look_levels(looks(256), alpha=0.05)
    assert sum(levels) == pytest.approx(0.05)
    # Hwang-Shih-DeCani, gamma -2: alpha (e^(2t) - 1) / (e^2 - 1) at t = 1/16.
    assert levels[0] == pytest.approx(0.05 * (math.exp(1 / 8) - 1) / (math.exp(2) - 1))
    assert float(spent(1.0, alpha=0.05)) == pytest.approx(0.05)
    assert look_levels((40,), alpha=0.05) == (0.05,)
    with pytest.raises(ValueError, match="counts must be increasing"):
        look_levels((32, 16), alpha=0.05)


def test_carry_forward_keeps_the_first_decision():
    t = CurveTest(16, 0.1, 0.05, 0.15, 0.001)
    first = {"a": MethodDecision("faithful", t, t, 0.001, 0.001, 0.001),
             "b": MethodDecision("undecided", t, t, 0.2, 0.2, 0.001)}
    after = carry_forward(None, first, n=16)
    assert (after["a"].decided_at, after["b"].decided_at) == (16, None)
    later = {"a": MethodDecision("undecided", t, t, 0.3, 0.3, 0.01),
             "b": MethodDecision("not faithful", t, t, 0.5, 0.5, 0.01)}
    final = carry_forward(after, later, n=32)
    assert final["a"] is after["a"]
    assert (final["b"].outcome, final["b"].decided_at) == ("not faithful", 32)


def test_sequential_stops_at_the_first_look_where_all_are_decided():
    counts, levels = looks(256), look_levels(looks(256), alpha=0.05)
    strong = np.linspace(0.05, 0.3, 256)  # every image better: p = 2**-16 at the first look
    weak = np.random.default_rng(1).normal(0.02, 0.3, 256)  # too small to show either way
    out, n_used = decide_sequentially({"strong": (strong, strong)}, counts=counts,
                                      levels=levels, margin=0.01, seeds={"strong": 0},
                                      n_resamples=200)
    assert (out["strong"].outcome, out["strong"].decided_at, n_used) == ("faithful", 16, 16)
    # 2**-16 is below the first look's level (0.00104) but 1/32 of five images would not be.
    assert out["strong"].level == pytest.approx(levels[0])
    both, n_used = decide_sequentially({"strong": (strong, strong), "weak": (weak, weak)},
                                       counts=counts, levels=levels, margin=0.01,
                                       seeds={"strong": 0, "weak": 1}, n_resamples=200)
    # The weak method stays undecided to the cap; the strong one keeps its first decision.
    assert n_used == 256 and both["weak"].outcome == "undecided"
    assert both["strong"].decided_at == 16


# ------------------------------------------------------------------------------ null


def test_a_random_map_is_called_faithful_in_at_most_alpha_of_200_runs():
    """Simulated areas: each image has an effect shared by every map of it (its class
    survives deletion or not) and each map its own noise; the 'method' is one more random
    map, so its paired differences have mean 0. Two such methods per run, 40 samples,
    looks at 16 and 40. (Measured when written: 0 of 200 runs; the union bound across the
    looks makes the design conservative.)"""
    alpha, runs, n, k = 0.05, 200, 40, 4
    counts = looks(n)
    levels = look_levels(counts, alpha=alpha)
    called = 0
    rng = np.random.default_rng(2026)
    for run in range(runs):
        image = rng.uniform(0.1, 0.9, size=(n, 1))
        differences = {}
        for m in ("a", "b"):
            curves = []
            for better in ("lower", "higher"):
                method = image[:, 0] + rng.normal(0, 0.08, n)
                random = image + rng.normal(0, 0.08, (n, k))
                curves.append(paired_differences(method, random, better=better))
            differences[m] = tuple(curves)
        out, _ = decide_sequentially(differences, counts=counts, levels=levels, margin=0.01,
                                     seeds={"a": run, "b": run + 1}, n_resamples=100)
        called += any(d.outcome == "faithful" for d in out.values())
    assert called <= alpha * runs, called


@pytest.mark.parametrize("n, ties", [(7, False), (30, False), (50, False), (51, False),
                                     (120, False), (10, True), (13, True), (20, True),
                                     (200, True)])
def test_signed_rank_matches_scipy(n, ties):
    from scipy import stats

    rng = np.random.default_rng(n)
    d = rng.normal(0.1, 1.0, n)
    if ties:
        d = np.round(d * 2) / 2  # a grid of 0.5: many ties
    d = d[d != 0]  # SciPy would switch method on zeros; this drops them first
    expected = stats.wilcoxon(d, alternative="greater", zero_method="wilcox").pvalue
    assert signed_rank_p(d) == pytest.approx(expected, rel=1e-9, abs=1e-12)
