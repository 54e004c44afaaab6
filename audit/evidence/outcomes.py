"""Faithful, not faithful or undecided: the rule that decides each method against random.

Per method, two curves (deletion, insertion), each a vector of paired differences against
the random maps on the same images (:mod:`audit.evidence.paired`, positive = better):

- **faithful**: both curves beat random by more than the margin can explain away, by a
  one-sided Wilcoxon signed-rank test
  (:mod:`audit.evidence.signed_rank`) combined by *intersection-union* (the larger of the two
  p-values: the method must win on both, so no correction is needed between the curves)
  and corrected by Holm across the run's methods (:mod:`audit.evidence.holm`); adjusted
  p-value at or below the look's level, and both mean differences positive.
- **not faithful**: shown no better than random: on at least one curve the paired interval
  of the mean difference (seeded bootstrap at the look's level) lies wholly below the
  equivalence margin: on the wrong side of zero, or within the margin of it. This is
  checked first: a win smaller than the margin is no win, however significant (a substrate
  that leaves every curve flat gives tiny, consistent and meaningless differences).
- **undecided**: neither; more samples would decide.

A sequential stage calls :func:`decide` at each look with the level that look may spend
(:mod:`audit.evidence.sequential`) and keeps the first decision of a method
(:func:`carry_forward`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace

import numpy as np
from scipy import stats

from audit.evidence.holm import holm
from audit.evidence.paired import mean_interval
from audit.evidence.signed_rank import signed_rank_p

__all__ = ["CURVES", "OUTCOMES", "CurveTest", "MethodDecision", "carry_forward", "decide",
           "decide_sequentially", "samples_to_decide"]

#: The three outcomes, never two.
OUTCOMES = ("faithful", "not faithful", "undecided")

#: The curves a method must beat random on.
CURVES = ("deletion", "insertion")

#: The power :func:`samples_to_decide` plans for.
POWER = 0.8

#: Asymptotic relative efficiency of the signed-rank test to the t-test under normality.
_ARE = 3 / math.pi


@dataclass(frozen=True)
class CurveTest:
    """One curve's paired figures: the mean difference and its interval at the decision's
    level, the one-sided signed-rank p-value, over ``n`` samples."""

    n: int
    mean: float
    ci_low: float
    ci_high: float
    p_value: float


@dataclass(frozen=True)
class MethodDecision:
    """A method's outcome, the figures it was read from and the look that decided it.

    ``p_value`` is the intersection-union p-value (the larger of the two curves'),
    ``p_adjusted`` its Holm adjustment across the run's methods, ``level`` the alpha the
    deciding look spent, ``decided_at`` its sample count (None while undecided).
    """

    outcome: str
    deletion: CurveTest
    insertion: CurveTest
    p_value: float
    p_adjusted: float
    level: float
    decided_at: int | None = None


def _curve(d: np.ndarray, *, level: float, seed: int, n_resamples: int) -> CurveTest:
    mean, low, high, n = mean_interval(d, seed=seed, n_resamples=n_resamples,
                                       confidence=1.0 - level)
    return CurveTest(n=n, mean=mean, ci_low=low, ci_high=high,
                     p_value=signed_rank_p(d) if n else math.nan)


def _seed(seed: int, index: int) -> int:
    return int(np.random.SeedSequence([seed, index]).generate_state(1)[0])


def decide(differences: Mapping[str, tuple[np.ndarray, np.ndarray]], *, level: float,
           margin: float, seeds: Mapping[str, int], n_resamples: int = 1000
           ) -> dict[str, MethodDecision]:
    """Every method's outcome at one look.

    Parameters
    ----------
    differences : mapping of str to (ndarray, ndarray)
        Per method, the paired differences of deletion and insertion (positive = better than
        random; :func:`~audit.evidence.paired.paired_differences`), over the same samples.
    level : float
        The alpha this look may spend (the whole alpha for a single look).
    margin : float
        The equivalence margin, in AUC units: a curve whose interval lies wholly below it
        shows the method no better than random.
    seeds : mapping of str to int
        One seed per method for its bootstrap intervals (each curve derives its own).
    n_resamples : int, optional
        Bootstrap resamples per interval.

    Returns
    -------
    decisions : dict of str to MethodDecision
        In the order of ``differences``; ``decided_at`` is None (see :func:`carry_forward`).

    Examples
    --------
    Twelve images where the method beats random on both curves, and twelve where it only
    matches it:

    >>> good = (np.linspace(0.05, 0.2, 12), np.linspace(0.1, 0.3, 12))
    >>> flat = (np.linspace(-0.004, 0.004, 12), np.linspace(0.05, 0.2, 12))
    >>> out = decide({"good": good, "flat": flat}, level=0.05, margin=0.01,
    ...              seeds={"good": 0, "flat": 1})
    >>> out["good"].outcome, out["flat"].outcome
    ('faithful', 'not faithful')
    >>> round(out["good"].p_value, 6), round(out["good"].p_adjusted, 6)  # 1 / 2**12, x 2
    (0.000244, 0.000488)
    """
    if not 0 < level < 1:
        raise ValueError(f"level must lie in (0, 1); got level={level!r}")
    if not (math.isfinite(margin) and margin >= 0):
        raise ValueError(f"margin must be a finite number >= 0; got margin={margin!r}")
    names = list(differences)
    curves: dict[str, tuple[CurveTest, CurveTest]] = {}
    for name in names:
        d_del, d_ins = (np.asarray(d, np.float64) for d in differences[name])
        seed = seeds[name]
        curves[name] = (
            _curve(d_del, level=level, seed=_seed(seed, 0), n_resamples=n_resamples),
            _curve(d_ins, level=level, seed=_seed(seed, 1), n_resamples=n_resamples))
    union = np.array([max(c.p_value for c in curves[name]) for name in names], np.float64)
    adjusted = holm(union) if names else union
    out = {}
    for name, p, p_adj in zip(names, union, adjusted, strict=True):
        deletion, insertion = curves[name]
        if not (deletion.n and insertion.n):
            outcome = "undecided"
        elif deletion.ci_high < margin or insertion.ci_high < margin:
            # Shown no better than random by more than the margin: wins smaller than the
            # margin do not make a map faithful, however significant.
            outcome = "not faithful"
        elif p_adj <= level and deletion.mean > 0 and insertion.mean > 0:
            outcome = "faithful"
        else:
            outcome = "undecided"
        out[name] = MethodDecision(outcome=outcome, deletion=deletion, insertion=insertion,
                                   p_value=float(p), p_adjusted=float(p_adj),
                                   level=float(level))
    return out


def carry_forward(previous: Mapping[str, MethodDecision] | None,
                  current: Mapping[str, MethodDecision], *, n: int
                  ) -> dict[str, MethodDecision]:
    """The decisions after a look of ``n`` samples.

    A method decided at an earlier look keeps that decision (the look spent its level on it);
    the others take this look's, with ``decided_at = n`` when it decides.

    Examples
    --------
    >>> t = CurveTest(4, 0.1, 0.0, 0.2, 0.06)
    >>> old = {"a": MethodDecision("faithful", t, t, 0.01, 0.01, 0.01, decided_at=16)}
    >>> new = {"a": MethodDecision("undecided", t, t, 0.2, 0.2, 0.02)}
    >>> carry_forward(old, new, n=32)["a"].decided_at
    16
    """
    out = {}
    for name, decision in current.items():
        before = (previous or {}).get(name)
        if before is not None and before.outcome != "undecided":
            out[name] = before
        elif decision.outcome != "undecided":
            out[name] = replace(decision, decided_at=int(n))
        else:
            out[name] = decision
    return out


def decide_sequentially(differences: Mapping[str, tuple[np.ndarray, np.ndarray]], *,
                        counts, levels, margin: float, seeds: Mapping[str, int],
                        n_resamples: int = 1000) -> tuple[dict[str, MethodDecision], int]:
    """The looks of a sequential design on differences already measured in sampling order.

    At each count, :func:`decide` on the first ``count`` differences at that look's level,
    :func:`carry_forward`, and stop once every method is decided.

    The faithfulness stage runs the same loop, measuring each look's new samples only when
    it gets there; this form is for simulations and tests.

    Returns
    -------
    decisions : dict of str to MethodDecision
    n_used : int
        The count of the look it stopped at.

    Examples
    --------
    >>> d = np.linspace(0.1, 0.3, 64)  # all positive: the first look decides
    >>> out, n = decide_sequentially({"m": (d, d)}, counts=(16, 32, 64),
    ...                              levels=(0.002, 0.008, 0.04), margin=0.01, seeds={"m": 0})
    >>> out["m"].outcome, out["m"].decided_at, n
    ('faithful', 16, 16)
    """
    result: dict[str, MethodDecision] | None = None
    n_used = 0
    for count, level in zip(counts, levels, strict=True):
        prefix = {name: (np.asarray(a)[:count], np.asarray(b)[:count])
                  for name, (a, b) in differences.items()}
        result = carry_forward(result, decide(prefix, level=level, margin=margin, seeds=seeds,
                                              n_resamples=n_resamples), n=count)
        n_used = int(count)
        if all(d.outcome != "undecided" for d in result.values()):
            break
    return result or {}, n_used


def samples_to_decide(d_deletion, d_insertion, *, alpha: float, margin: float,
                      n_methods: int = 1, power: float = POWER) -> int | None:
    """About how many samples would likely decide a method, from the observed differences.

    A normal-approximation power calculation per curve, with the observed mean ``m`` and
    standard deviation ``s`` of the differences taken as the truth: to show it faithful (both
    means positive) ``n = ((z(1 - a) + z(power)) s / m)^2 / (3 / pi)`` with ``a = alpha /
    n_methods`` (Holm's first step, the worst case) and the signed-rank test's efficiency
    ``3 / pi``, the larger over the two curves; to show it not faithful (a mean below the
    margin) ``n = ((z(1 - alpha / 2) + z(power)) s / (margin - m))^2``, the smaller over the
    curves that could.

    Returns
    -------
    n : int or None
        Rounded up; None when the differences cannot say (fewer than two on a curve, no
        spread, or a mean at the margin).

    Examples
    --------
    >>> d = np.array([0.1, -0.05, 0.15, 0.0, 0.05, 0.1])  # mean 0.0583, sd 0.0736
    >>> samples_to_decide(d, d, alpha=0.05, margin=0.01)  # (2.4865 x 0.0736 / 0.0583)^2 / 0.955
    11
    """
    tests = []
    for d in (d_deletion, d_insertion):
        values = np.asarray(d, np.float64)
        values = values[~np.isnan(values)]
        if values.size < 2:
            return None
        sd = float(values.std(ddof=1))
        if sd == 0:
            return None
        tests.append((float(values.mean()), sd))
    z_power = stats.norm.ppf(power)
    if all(m > 0 for m, _ in tests):
        z = stats.norm.ppf(1 - alpha / max(1, n_methods))
        return int(math.ceil(max(((z + z_power) * s / m) ** 2 / _ARE for m, s in tests)))
    z = stats.norm.ppf(1 - alpha / 2)
    needed = [((z + z_power) * s / (margin - m)) ** 2 for m, s in tests if m < margin]
    return int(math.ceil(min(needed))) if needed else None
