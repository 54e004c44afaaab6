"""The behaviour test: does the decision survive without the object, or without the background?

Explainer-free evidence for a background-fixation verdict. The model predicts on two edits
of each image (:mod:`audit.evidence.fills`): the object removed and the background removed.
A decision that survives the first but not the second rests on the background. Over a run,
``background_reliance = P(kept without object) - P(kept without background)`` lies in
``[-1, 1]``: positive when the background carries the decisions, negative when the object
does. It is ImageNet-9's idea (Only-FG / Only-BG images, Xiao et al., arXiv 2006.09994).
"""

from __future__ import annotations

import math
from numbers import Real

import numpy as np

from audit.validation import check_same_length, check_vector, real_array

__all__ = [
    "background_decision",
    "background_reliance",
    "class_probability",
    "keeps",
]


def _check_predictions(predicted, scores, name: str) -> tuple[np.ndarray, np.ndarray, bool]:
    """``(predicted (N,), scores (N, C), scalar)``; one sample may come as ``(int, (C,))``."""
    classes = real_array(predicted, "predicted")
    values = real_array(scores, name)
    scalar = classes.ndim == 0
    if scalar:
        classes, values = classes.reshape(1), values.reshape(1, *values.shape)
    if classes.ndim != 1 or values.ndim != 2 or values.shape[0] != classes.shape[0]:
        raise ValueError(
            f"predicted and {name} must have shapes (N,) and (N, classes), or () and "
            f"(classes,) for one sample; got {np.shape(predicted)} and {np.shape(scores)}"
        )
    if classes.dtype == bool or not np.issubdtype(classes.dtype, np.integer):
        raise ValueError(f"predicted must hold class indices (integers); got dtype {classes.dtype}")
    n_classes = values.shape[1]
    if classes.size and (classes.min() < 0 or classes.max() >= n_classes):
        raise ValueError(
            f"predicted must be class indices in [0, {n_classes - 1}]; got values from "
            f"{int(classes.min())} to {int(classes.max())}"
        )
    values = values.astype(np.float64)
    if not np.all(np.isfinite(values)):
        raise ValueError(f"{name} must be finite; got a NaN or infinite score")
    return classes.astype(np.intp), values, scalar


def keeps(predicted, scores):
    """Whether the edited image is still given the originally predicted class.

    Parameters
    ----------
    predicted : int or array_like of int, shape (N,)
        The class each sample was predicted on its unedited image.
    scores : array_like, shape (classes,) or (N, classes)
        The model's output (probabilities or logits) on the edited images.

    Returns
    -------
    kept : float or ndarray of float, shape (N,)
        1.0 where ``argmax(scores) == predicted``, else 0.0. Ties go to the lowest class
        index (``numpy.argmax``). Floats, so that a caller can mark a sample without an
        edit (no box) as NaN next to them.

    Raises
    ------
    ValueError
        If the shapes do not match, a class index is out of range, or a score is not finite.

    Examples
    --------
    >>> keeps(1, [0.2, 0.7, 0.1])
    1.0
    >>> keeps([1, 0], [[0.2, 0.7, 0.1], [0.1, 0.3, 0.6]])
    array([1., 0.])
    """
    classes, values, scalar = _check_predictions(predicted, scores, "scores")
    kept = (np.argmax(values, axis=1) == classes).astype(np.float64)
    return float(kept[0]) if scalar else kept


def class_probability(predicted, probabilities):
    """The probability of the originally predicted class on the edited image (``prob``).

    Parameters
    ----------
    predicted : int or array_like of int, shape (N,)
        The class each sample was predicted on its unedited image.
    probabilities : array_like, shape (classes,) or (N, classes)
        The model's probabilities on the edited images, each within [0, 1].

    Returns
    -------
    prob : float or ndarray of float, shape (N,)
        ``probabilities[i, predicted[i]]``.

    Raises
    ------
    ValueError
        If the shapes do not match, a class index is out of range, or a probability is
        outside [0, 1].

    Examples
    --------
    >>> class_probability(1, [0.2, 0.7, 0.1])
    0.7
    >>> class_probability([1, 2], [[0.2, 0.7, 0.1], [0.1, 0.3, 0.6]])
    array([0.7, 0.6])
    """
    classes, values, scalar = _check_predictions(predicted, probabilities, "probabilities")
    if values.size and (values.min() < 0 or values.max() > 1):
        raise ValueError(
            "probabilities must lie within [0, 1] (apply the softmax first); got values from "
            f"{float(values.min())!r} to {float(values.max())!r}"
        )
    prob = values[np.arange(classes.size), classes]
    return float(prob[0]) if scalar else prob


def _binary_or_nan(value, name: str) -> float:
    if isinstance(value, bool | np.bool_):
        return float(value)
    if isinstance(value, Real) and (math.isnan(value) or value in (0, 1)):
        return float(value)
    raise ValueError(f"{name} must be 0, 1, a bool or NaN; got {name}={value!r}")


def background_decision(correct: bool, keeps_without_object, keeps_without_background) -> float:
    """Whether a misclassified sample's decision rests on the background, by behaviour alone.

    Parameters
    ----------
    correct : bool
        Whether the sample was classified correctly.
    keeps_without_object : float or bool
        :func:`keeps` on the image with the object removed: 1, 0, or NaN when undefined
        (no box to remove).
    keeps_without_background : float or bool
        :func:`keeps` on the image with the background removed: 1, 0 or NaN.

    Returns
    -------
    decision : float
        1.0 for a misclassified sample whose decision survives the object's removal but not
        the background's; 0.0 for any other misclassified sample; NaN for a correct sample
        or when either figure is NaN. The behavioural counterpart of
        :func:`audit.metrics.fixation.background_fixation`.

    Raises
    ------
    ValueError
        If ``correct`` is not a bool, or a figure is not 0, 1, a bool or NaN.

    Examples
    --------
    >>> background_decision(False, 1.0, 0.0)
    1.0
    >>> background_decision(False, 1.0, 1.0)  # survives both: not the background alone
    0.0
    >>> background_decision(True, 1.0, 0.0)
    nan
    """
    if not isinstance(correct, bool | np.bool_):
        raise ValueError(f"correct must be a bool; got correct={correct!r}")
    without_object = _binary_or_nan(keeps_without_object, "keeps_without_object")
    without_background = _binary_or_nan(keeps_without_background, "keeps_without_background")
    if correct or math.isnan(without_object) or math.isnan(without_background):
        return math.nan
    return 1.0 if without_object == 1.0 and without_background == 0.0 else 0.0


def background_reliance(keeps_without_object, keeps_without_background) -> float:
    """``mean(keeps_without_object) - mean(keeps_without_background)``, in [-1, 1].

    Parameters
    ----------
    keeps_without_object, keeps_without_background : array_like, shape (n,)
        The samples' :func:`keeps` on the two edits, paired sample by sample: 0, 1 (or
        bool), NaN when undefined. Pass all samples, or a subset (the misclassified ones).

    Returns
    -------
    reliance : float
        Over the samples where both figures are defined (a NaN in either drops the pair, so
        both means are over the same samples): positive when decisions survive without the
        object more often than without the background. NaN when no pair is defined.

    Raises
    ------
    ValueError
        If an input is not 1-D, holds a value other than 0, 1 or NaN, or the lengths differ.

    Notes
    -----
    The value is the mean of the per-sample differences ``keeps_without_object -
    keeps_without_background`` (each -1, 0 or 1), so their
    :func:`audit.metrics.bootstrap.describe` gives its count and 95% interval.

    References
    ----------
    .. [1] Xiao, K., Engstrom, L., Ilyas, A. and Madry, A. "Noise or Signal: The Role of
           Image Backgrounds in Object Recognition", ICLR 2021, arXiv 2006.09994.

    Examples
    --------
    >>> nan = float("nan")
    >>> background_reliance([1, 1, 1, 0, nan], [0, 1, 0, 0, 1])  # 3/4 - 1/4
    0.5
    >>> from audit.metrics.bootstrap import describe
    >>> describe([1 - 0, 1 - 1, 1 - 0, 0 - 0], seed=0)["mean"]
    0.5
    >>> background_reliance([nan], [1])
    nan
    """
    without_object = check_vector(keeps_without_object, "keeps_without_object", binary=True)
    without_background = check_vector(
        keeps_without_background, "keeps_without_background", binary=True
    )
    check_same_length(
        keeps_without_object=without_object, keeps_without_background=without_background
    )
    defined = ~np.isnan(without_object) & ~np.isnan(without_background)
    if not defined.any():
        return math.nan
    return float(without_object[defined].mean() - without_background[defined].mean())
