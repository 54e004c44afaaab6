"""Benjamini-Hochberg and the p-values it is fed, worked by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from audit.metrics.fdr import benjamini_hochberg, p_above, p_from_interval


def test_step_up_rejects_below_the_largest_rank_under_its_line():
    # m = 5, q = 0.05: lines k q / m = 0.01, 0.02, 0.03, 0.04, 0.05. Sorted p: 0.001, 0.025,
    # 0.026, 0.035, 0.9. 0.025 > 0.02 but 0.035 <= 0.04: step-up takes k = 4, so 0.025 is
    # rejected too (a step-down procedure would stop at k = 1).
    rejected, adjusted = benjamini_hochberg([0.9, 0.026, 0.001, 0.035, 0.025])
    assert rejected.tolist() == [False, True, True, True, True]
    # Adjusted: p m / k = 0.005, 0.0625, 0.04333, 0.04375, 0.9 by rank, then the running
    # minimum from the largest rank down: 0.005, 0.04333, 0.04333, 0.04375, 0.9.
    np.testing.assert_allclose(adjusted, [0.9, 0.13 / 3, 0.005, 0.04375, 0.13 / 3])


def test_nothing_under_the_lines_rejects_nothing_and_nan_is_not_counted():
    rejected, adjusted = benjamini_hochberg([0.02, float("nan"), 0.04], q=0.05)
    # m = 2 (the NaN is not a test): lines 0.025, 0.05; sorted 0.02, 0.04: both under.
    assert rejected.tolist() == [True, False, True]
    assert math.isnan(adjusted[1]) and adjusted[0] == pytest.approx(0.04)
    rejected, _ = benjamini_hochberg([0.03, 0.04, 0.05, 0.06], q=0.05)
    assert not rejected.any()  # 0.03 > 0.0125, 0.04 > 0.025, 0.05 > 0.0375, 0.06 > 0.05
    rejected, adjusted = benjamini_hochberg([])
    assert rejected.size == 0 and adjusted.size == 0


def test_one_test_is_its_own_threshold():
    assert benjamini_hochberg([0.049])[0].tolist() == [True]
    assert benjamini_hochberg([0.051])[0].tolist() == [False]


def test_bad_inputs():
    with pytest.raises(ValueError, match="q must be"):
        benjamini_hochberg([0.1], q=1.5)
    with pytest.raises(ValueError, match=r"p_values must lie in \[0, 1\]"):
        benjamini_hochberg([1.2])


def test_p_values_from_intervals_and_thresholds():
    assert p_from_interval(0.1, (0.0, 0.2)) == pytest.approx(0.05, abs=1e-4)
    assert p_from_interval(0.0, (-0.1, 0.1)) == pytest.approx(1.0)
    assert p_from_interval(0.2, (0.2, 0.2)) == 0.0
    # 3 errors of 4 against a minimum of 0.78: P(X <= 3 | 4, 0.78) = 1 - 0.78^4.
    assert p_above(0.75, 0.78, n=4, count=3, higher=False) == pytest.approx(1 - 0.78 ** 4)
    # 9 of 10 fixated against a maximum 0.5: P(X >= 9 | 10, 0.5) = 11 / 1024.
    assert p_above(0.9, 0.5, n=10, count=9) == pytest.approx(11 / 1024)
    assert math.isnan(p_above(0.3, 0.1))
