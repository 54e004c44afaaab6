"""Multi-label decisions and their figures: one independent sigmoid per class.

A multi-label model predicts class ``c`` for an image when the sigmoid of its logit is at or
above the class's threshold (``model.threshold``; 0.5 by default). Each (image, class) is then a
true positive (predicted and present), a false positive (predicted, absent), a false negative
(present, not predicted) or a true negative. Per class:

- precision = TP / (TP + FP), recall = TP / (TP + FN): proportions, with Wilson intervals
  (:mod:`audit.metrics.proportions`);
- F1 = 2 TP / (2 TP + FP + FN), with a seeded percentile-bootstrap interval over images (F1 is
  not a proportion of independent trials);
- average precision (AP): the area under the precision-recall curve of the class's
  probabilities over every image (``sklearn.metrics.average_precision_score``); undefined for a
  class no image has.

Macro figures are the unweighted means over the classes where the figure is defined.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["LabelScore", "average_precision", "decide", "f1_interval", "f1_score"]


@dataclass(frozen=True)
class LabelScore:
    """The decision of a multi-label model on one class of one image (``label_scores.csv``)."""

    sample_id: str
    image: str
    label: str
    label_index: int
    truth: bool  # the image has the label
    probability: float  # sigmoid of the class's logit
    threshold: float
    positive: bool  # predicted: probability >= threshold


def decide(logits: np.ndarray, thresholds) -> tuple[np.ndarray, np.ndarray]:
    """Sigmoid probabilities ``(N, C)`` of ``logits`` and the decisions ``p >= threshold``.

    Examples
    --------
    >>> p, positive = decide(np.array([[0.0, 2.0, -3.0]]), [0.5, 0.9, 0.01])
    >>> np.round(p.astype(float), 3).tolist(), positive.tolist()
    ([[0.5, 0.881, 0.047]], [[True, False, True]])
    """
    logits = np.asarray(logits, dtype=np.float32)
    thresholds = np.asarray(thresholds, dtype=np.float32)
    if logits.ndim != 2 or thresholds.shape != (logits.shape[1],):
        raise ValueError(f"logits must be (N, C) with one threshold per class; got logits "
                         f"{logits.shape} and thresholds {thresholds.shape}")
    probabilities = (1.0 / (1.0 + np.exp(-logits.astype(np.float64)))).astype(np.float32)
    return probabilities, probabilities >= thresholds


def f1_score(tp: int, fp: int, fn: int) -> float:
    """``2 TP / (2 TP + FP + FN)``; NaN when the class is neither present nor predicted.

    Examples
    --------
    >>> f1_score(3, 1, 2), f1_score(0, 0, 0)
    (0.6666666666666666, nan)
    """
    denominator = 2 * tp + fp + fn
    return 2 * tp / denominator if denominator else math.nan


def f1_interval(truth: np.ndarray, positive: np.ndarray, *, seed: int, n_resamples: int = 1000,
                confidence: float = 0.95) -> tuple[float, float] | None:
    """Percentile-bootstrap interval of F1 over images (resampled with replacement).

    ``truth`` and ``positive`` are one class's ``bool (N,)``; resamples where F1 is undefined
    are left out. None when F1 is undefined on every resample.
    """
    truth = np.asarray(truth, dtype=bool)
    positive = np.asarray(positive, dtype=bool)
    n = truth.size
    if n == 0:
        return None
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, n, size=(n_resamples, n))
    t, p = truth[picks], positive[picks]
    tp = (t & p).sum(axis=1)
    wrong = (t != p).sum(axis=1)
    denominator = 2 * tp + wrong
    defined = denominator > 0
    if not defined.any():
        return None
    values = 2 * tp[defined] / denominator[defined]
    alpha = (1.0 - confidence) / 2.0
    low, high = np.quantile(values, [alpha, 1.0 - alpha])
    return float(low), float(high)


def average_precision(truth: np.ndarray, probability: np.ndarray) -> float:
    """Average precision of one class's probabilities (``sklearn.metrics``); NaN when no
    image has the class.

    Examples
    --------
    >>> average_precision(np.array([1, 0, 1, 0]), np.array([0.9, 0.8, 0.7, 0.1]))
    0.8333333333333333
    >>> average_precision(np.array([0, 0]), np.array([0.9, 0.1]))
    nan
    """
    from sklearn.metrics import average_precision_score

    truth = np.asarray(truth, dtype=bool)
    if not truth.any():
        return math.nan
    return float(average_precision_score(truth, np.asarray(probability, dtype=np.float64)))
