"""The seeded, stratified subset: quotas worked by hand, determinism, order independence."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audit.evidence.subset import choose_subset, stratum_quotas

FAST = settings(max_examples=40, deadline=None)


class TestStratumQuotas:
    @pytest.mark.parametrize(
        "n_correct, n_wrong, size, expected",
        [
            (90, 10, 25, (23, 2)),  # 25 * 90 / 100 = 22.5 -> half up 23; the rest 2
            (80, 20, 10, (8, 2)),  # exact: 8 and 2
            (70, 30, 15, (11, 4)),  # 15 * 0.7 = 10.5 -> 11
            (996, 4, 100, (99, 1)),  # 99.6 -> 100, but one place is kept for the errors
            (4, 996, 100, (1, 99)),  # 0.4 -> 0, raised to one
            (50, 50, 1, (1, 0)),  # one place: 0.5 rounds up to the correct stratum
            (10, 0, 5, (5, 0)),
            (0, 10, 5, (0, 5)),
            (3, 2, 5, (3, 2)),  # no more than the subset size: all
            (0, 0, 5, (0, 0)),
        ],
    )
    def test_hand_worked(self, n_correct, n_wrong, size, expected):
        assert stratum_quotas(n_correct, n_wrong, max_samples=size) == expected

    @FAST
    @given(st.integers(0, 500), st.integers(0, 500), st.integers(1, 300))
    def test_fill_the_subset_within_each_stratum(self, n_correct, n_wrong, size):
        take_correct, take_wrong = stratum_quotas(n_correct, n_wrong, max_samples=size)
        assert 0 <= take_correct <= n_correct and 0 <= take_wrong <= n_wrong
        assert take_correct + take_wrong == min(size, n_correct + n_wrong)
        if n_correct and n_wrong and size >= 2:
            assert take_correct >= 1 and take_wrong >= 1


def ids_and_flags(n_correct, n_wrong):
    ids = [f"c{i:03d}" for i in range(n_correct)] + [f"w{i:03d}" for i in range(n_wrong)]
    return ids, [True] * n_correct + [False] * n_wrong


class TestChooseSubset:
    def test_stratified_and_sorted(self):
        ids, flags = ids_and_flags(90, 10)
        chosen = choose_subset(ids, flags, max_samples=25, seed=0)
        assert chosen == sorted(chosen) and len(set(chosen)) == 25
        assert sum(i.startswith("c") for i in chosen) == 23
        assert sum(i.startswith("w") for i in chosen) == 2

    def test_deterministic_for_a_seed(self):
        ids, flags = ids_and_flags(60, 40)
        first = choose_subset(ids, flags, max_samples=20, seed=3)
        assert choose_subset(ids, flags, max_samples=20, seed=3) == first
        assert choose_subset(ids, flags, max_samples=20, seed=4) != first

    def test_independent_of_input_order(self):
        ids, flags = ids_and_flags(60, 40)
        order = np.random.default_rng(0).permutation(len(ids))
        shuffled_ids = [ids[i] for i in order]
        shuffled_flags = [flags[i] for i in order]
        assert choose_subset(shuffled_ids, shuffled_flags, max_samples=20, seed=3) == (
            choose_subset(ids, flags, max_samples=20, seed=3)
        )

    def test_all_when_few(self):
        assert choose_subset(["b", "a"], [True, False], max_samples=2, seed=0) == ["a", "b"]
        assert choose_subset([], [], max_samples=5, seed=0) == []

    def test_numpy_flags(self):
        ids, flags = ids_and_flags(6, 4)
        assert len(choose_subset(ids, np.array(flags), max_samples=5, seed=0)) == 5

    @FAST
    @given(st.integers(0, 60), st.integers(0, 60), st.integers(1, 50), st.integers(0, 2**32))
    def test_quota_and_membership(self, n_correct, n_wrong, size, seed):
        ids, flags = ids_and_flags(n_correct, n_wrong)
        chosen = choose_subset(ids, flags, max_samples=size, seed=seed)
        expected = stratum_quotas(n_correct, n_wrong, max_samples=size)
        assert set(chosen) <= set(ids) and len(set(chosen)) == len(chosen)
        assert (sum(i.startswith("c") for i in chosen),
                sum(i.startswith("w") for i in chosen)) == expected

    @pytest.mark.parametrize(
        "ids, flags, kwargs, match",
        [
            (["a", "a"], [True, False], {}, r"distinct; got repeated ids \['a'\]"),
            (["a", 2], [True, False], {}, r"sample_ids must be strings; got 2 \(int\)"),
            (["a", "b"], [True, 1], {}, r"correct must hold bools; got 1 \(int\)"),
            (["a", "b"], [True], {}, "same length; got sample_ids=2, correct=1"),
            ("ab", [True, False], {}, "sample_ids must be a sequence; got str"),
            (["a"], [True], {"max_samples": 0}, "max_samples must be an integer >= 1"),
            (["a"], [True], {"seed": 1.5}, "seed must be an integer >= 0; got seed=1.5"),
        ],
    )
    def test_errors(self, ids, flags, kwargs, match):
        options = {"max_samples": 5, "seed": 0, **kwargs}
        with pytest.raises(ValueError, match=match):
            choose_subset(ids, flags, **options)
