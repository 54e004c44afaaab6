"""The figures of the evidence checks: faithfulness (deletion and insertion), sanity (cascading
randomisation), the explainer-free behavioural test and the agreement of a method with it."""

from __future__ import annotations

from audit.summary.schema import IntervalMethod, _Model
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


class FaithfulnessFigures(_Model):
    """Deletion and insertion AUC, Average Drop and Increase in Confidence of one kind of map
    (a method, or a baseline) on the faithfulness subset; ``faithful`` for methods: deletion
    below and insertion above the random baseline, intervals apart (None: undecided)."""

    n: int = 0
    deletion_auc: Stat = Stat()
    insertion_auc: Stat = Stat()
    average_drop: Stat = Stat()
    increase_in_confidence: Proportion = Proportion()
    faithful: bool | None = None


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
