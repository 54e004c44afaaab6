"""The figures of the evidence checks: faithfulness (deletion and insertion), sanity (cascading
randomisation), the explainer-free behavioural test and the agreement of a method with it."""

from __future__ import annotations

from typing import Literal

from pydantic import model_validator

from audit.summary.schema import Interval, IntervalMethod, _Model
from audit.summary.stats import Proportion, Stat


class Estimate(_Model):
    """A figure with its 95% interval, ``{value, ci_low, ci_high}``, over ``n`` samples; a
    share of samples also has its ``count`` and a Wilson interval, a difference a bootstrap
    one (``method``). Below ``metrics.min_n`` samples it has no interval (``too_few``)."""

    n: int = 0
    value: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    count: int | None = None
    method: IntervalMethod | None = None
    too_few: bool = False


#: A method's faithfulness on a run: better than random, significant (``faithful``); shown no
#: better than random (``not faithful``); neither, more samples would decide (``undecided``).
FaithfulnessOutcome = Literal["faithful", "not faithful", "undecided"]


class PairedFigure(_Model):
    """One figure of a method against the mean of the ``K`` random maps on the same images:
    the mean per-image difference, signed so that **positive is better than random**, its
    95% percentile-bootstrap interval (seeded, a sub-seed of its own) and the one-sided
    Wilcoxon signed-rank p-value that the differences lean positive."""

    n: int = 0
    mean: float | None = None
    ci: Interval | None = None
    p_value: float | None = None


class PairedFigures(_Model):
    """The paired figures of a method: the two curves that decide (deletion: random - method,
    insertion: method - random), and Average Drop (random - method) and Increase in
    Confidence (method - random, a difference of 0/1 values), reported the same way."""

    deletion_auc: PairedFigure = PairedFigure()
    insertion_auc: PairedFigure = PairedFigure()
    average_drop: PairedFigure = PairedFigure()
    increase_in_confidence: PairedFigure = PairedFigure()


class FaithfulnessFigures(_Model):
    """Deletion and insertion AUC, Average Drop and Increase in Confidence of one kind of map
    (a method, or a baseline: the random map's are the per-sample means of its ``K`` maps)
    on the faithfulness samples. For methods, the paired figures against random and the
    ``outcome`` (see :mod:`audit.evidence.outcomes`): ``p_value`` is the intersection-union
    p-value of the deciding look (the larger of the two curves'), ``p_adjusted`` its Holm
    adjustment across the run's methods, ``level`` the alpha that look spent, ``decided_at``
    its sample count (None while undecided) and ``samples_to_decide`` about how many samples
    would likely decide an undecided method (normal approximation, 80% power)."""

    n: int = 0
    deletion_auc: Stat = Stat()
    insertion_auc: Stat = Stat()
    average_drop: Stat = Stat()
    increase_in_confidence: Proportion = Proportion()
    paired: PairedFigures | None = None
    outcome: FaithfulnessOutcome | None = None
    p_value: float | None = None
    p_adjusted: float | None = None
    level: float | None = None
    decided_at: int | None = None
    samples_to_decide: int | None = None

    @model_validator(mode="before")
    @classmethod
    def _read_faithful(cls, data):
        # Files written before the outcome had a two-valued ``faithful``: "no" meant "not
        # shown", which is undecided.
        if isinstance(data, dict) and "outcome" not in data and "faithful" in data:
            flag = data["faithful"]
            data = {**data, "outcome": None if flag is None else
                    "faithful" if flag else "undecided"}
        return data


class FaithfulnessRun(_Model):
    """How the run decided faithfulness: the test, the error rate and margin, the random maps
    per sample, and the sequential sampling (the looks it could make, the alpha each could
    spend, the samples it used out of ``n_available`` and whether it stopped early), with the
    count of methods per outcome and the ``max_samples`` that would likely decide the
    undecided ones (None when none is, or the data cannot say)."""

    test: str = ""
    alpha: float | None = None
    margin: float | None = None
    random_maps: int | None = None
    sequential: bool | None = None
    stopping_rule: str = ""
    looks: list[int] = []
    levels: list[float] = []
    n_available: int = 0
    n_used: int = 0
    stopped_early: bool = False
    n_faithful: int = 0
    n_not_faithful: int = 0
    n_undecided: int = 0
    samples_to_decide: int | None = None


class SanityFigures(_Model):
    """Similarity of a method's maps with its maps on the original model, after each step of
    cascading randomisation (the first value: no randomisation)."""

    n: int = 0
    layers: list[int] = []
    spearman: list[float | None] = []
    ssim: list[float | None] = []
    passed: bool | None = None


class AgreementFigures(_Model):
    """How often a method's fixation flag equals the explainer-free ``background_decision``
    (misclassified samples with a box and a non-degenerate map), and Cohen's kappa."""

    n: int = 0
    agreement: float | None = None
    kappa: float | None = None


class SwapSplit(_Model):
    """The background swap (ImageNet-9's Mixed-Same / Mixed-Rand) on one group of samples:
    over the ``n`` samples with both swaps, accuracy on the original images and on each object
    pasted onto a background of its own class and of another class (Wilson intervals),
    ``bg_gap`` = acc(Mixed-Same) - acc(Mixed-Rand) (bootstrap interval of the per-sample
    differences), and
    ``background_follow_rate``: the share of Mixed-Rand decisions that are the donor
    background's class."""

    n: int = 0
    accuracy_original: Estimate = Estimate()
    accuracy_mixed_same: Estimate = Estimate()
    accuracy_mixed_rand: Estimate = Estimate()
    bg_gap: Estimate = Estimate()
    background_follow_rate: Estimate = Estimate()


class BehaviourSplit(_Model):
    """The behavioural rates of one group of samples; ``swap`` is None without the
    ``background_swap`` stage."""

    n: int = 0
    keeps_without_object: Estimate = Estimate()
    keeps_without_background: Estimate = Estimate()
    background_reliance: Estimate = Estimate()
    swap: SwapSplit | None = None


class BehaviourFigures(BehaviourSplit):
    """The behavioural test (explainer-free): how often the decision survives the object's
    removal and the background's, split by correctness and per true class."""

    fill: str | None = None
    correct: BehaviourSplit = BehaviourSplit()
    misclassified: BehaviourSplit = BehaviourSplit()
    per_class: dict[str, BehaviourSplit] = {}
    accuracy_object_only: Estimate = Estimate()
    accuracy_background_only: Estimate = Estimate()
    background_decision_rate: Estimate = Estimate()
    background_decision_per_sample: Estimate = Estimate()
    #: How many samples' ``background_decision`` rests on each kind of evidence
    #: (``{"swap": n, "fill": n}``): the swap where it could be made, the fill otherwise.
    decision_evidence: dict[str, int] = {}
