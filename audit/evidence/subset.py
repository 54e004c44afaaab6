"""The seeded, stratified subset of samples the costly evidence is measured on.

Faithfulness needs ``2 N`` forward passes per map and the sanity check a model per step, so
they run on a subset. It keeps the run's share of correct and misclassified samples (the
verdict is about the misclassified ones) and is the same for the same ids and seed, whatever
order the samples came in.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from audit.validation import check_int, check_same_length, check_seed, check_sequence

__all__ = ["choose_subset", "stratum_quotas"]


def stratum_quotas(n_correct: int, n_misclassified: int, *, max_samples: int) -> tuple[int, int]:
    """How many correct and misclassified samples a subset of ``max_samples`` takes.

    All of both when there are at most ``max_samples``. Otherwise the correct samples get
    ``round(max_samples * n_correct / n)`` places, rounded half up in integer arithmetic,
    and the misclassified the rest; but when both kinds exist and ``max_samples >= 2``,
    each gets at least one place (so a run with few errors still has one in the subset).

    Examples
    --------
    >>> stratum_quotas(90, 10, max_samples=25)  # 25 * 90 / 100 = 22.5, half up: 23
    (23, 2)
    >>> stratum_quotas(996, 4, max_samples=100)  # 99.6 rounds to 100; one place kept for errors
    (99, 1)
    >>> stratum_quotas(3, 2, max_samples=10)
    (3, 2)
    """
    correct = check_int(n_correct, "n_correct", minimum=0)
    wrong = check_int(n_misclassified, "n_misclassified", minimum=0)
    size = check_int(max_samples, "max_samples", minimum=1)
    n = correct + wrong
    if n <= size:
        return correct, wrong
    take_correct = (2 * size * correct + n) // (2 * n)
    if correct and wrong and size >= 2:
        take_correct = min(max(take_correct, 1), size - 1)
    return take_correct, size - take_correct


def choose_subset(sample_ids, correct, *, max_samples: int, seed: int) -> list[str]:
    """A seeded subset of at most ``max_samples`` ids, stratified by correctness.

    Parameters
    ----------
    sample_ids : sequence of str
        Distinct sample ids.
    correct : sequence of bool
        Whether each sample was classified correctly, paired with ``sample_ids``.
    max_samples : int
        The subset's size (all samples when there are no more than this).
    seed : int
        Seed of ``numpy.random.default_rng``.

    Returns
    -------
    ids : list of str
        Sorted. The ids are sorted before drawing, so the subset depends only on the set of
        ``(id, correct)`` pairs and the seed, not on their order. Quotas per stratum as in
        :func:`stratum_quotas`; within each stratum the ids are drawn without replacement,
        the correct stratum first.

    Raises
    ------
    ValueError
        If an id is not a string or is repeated, a flag is not a bool, the lengths differ,
        or ``max_samples`` or ``seed`` is out of range.

    Examples
    --------
    >>> ids = ["e", "a", "d", "b", "c", "f"]
    >>> right = [True, True, False, True, True, False]
    >>> chosen = choose_subset(ids, right, max_samples=3, seed=0)
    >>> len(chosen), sum(i in ("d", "f") for i in chosen)  # 3 * 4 / 6 = 2 correct, 1 wrong
    (3, 1)
    >>> choose_subset(ids, right, max_samples=10, seed=0)
    ['a', 'b', 'c', 'd', 'e', 'f']
    """
    ids = list(check_sequence(sample_ids, "sample_ids"))
    flags = list(check_sequence(correct, "correct"))
    check_same_length(sample_ids=ids, correct=flags)
    size = check_int(max_samples, "max_samples", minimum=1)
    rng = np.random.default_rng(check_seed(seed))
    for value in ids:
        if not isinstance(value, str):
            raise ValueError(f"sample_ids must be strings; got {value!r} ({type(value).__name__})")
    for value in flags:
        if not isinstance(value, bool | np.bool_):
            raise ValueError(f"correct must hold bools; got {value!r} ({type(value).__name__})")
    if len(set(ids)) != len(ids):
        repeated = sorted(i for i, count in Counter(ids).items() if count > 1)[:5]
        raise ValueError(f"sample_ids must be distinct; got repeated ids {repeated}")
    pairs = sorted(zip(ids, flags, strict=True))
    right = [i for i, flag in pairs if flag]
    wrong = [i for i, flag in pairs if not flag]
    quotas = stratum_quotas(len(right), len(wrong), max_samples=size)
    chosen: list[str] = []
    for stratum, quota in zip((right, wrong), quotas, strict=True):
        picks = rng.choice(len(stratum), size=quota, replace=False) if quota else []
        chosen.extend(stratum[int(p)] for p in picks)
    return sorted(chosen)
