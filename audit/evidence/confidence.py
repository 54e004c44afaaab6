"""Average Drop and Increase in Confidence: does the map alone keep the decision?

Grad-CAM++ (Chattopadhay et al., arXiv 1710.11063, section 4.1): show the model the input
multiplied by the map, ``E = L * I``, and compare ``o``, the explained class's probability
on ``E``, with ``y``, its probability on the input. A map that covers what the model uses
loses little (low Average Drop) and sometimes gains (high Increase in Confidence). One more
forward pass per map.
"""

from __future__ import annotations

import math

import numpy as np

from audit.validation import check_float_image, check_map, check_same_length, check_vector

__all__ = [
    "average_drop",
    "confidence_drop",
    "confidence_increase",
    "explanation_map_input",
    "increase_in_confidence",
]


def explanation_map_input(image, saliency) -> np.ndarray:
    """The model input multiplied by the map, pixel by pixel, every channel alike.

    Parameters
    ----------
    image : ndarray of float, shape (height, width, channels)
        The model input (already preprocessed).
    saliency : array_like, shape (height, width)
        The map at input resolution, scaled to [0, 1] (1 keeps a pixel, 0 sets it to 0).

    Returns
    -------
    masked : ndarray, shape and dtype of ``image``

    Raises
    ------
    ValueError
        If the shapes differ, an input is not finite, or the map leaves [0, 1].

    Notes
    -----
    The product is taken after preprocessing, so a masked pixel becomes whatever 0 means
    to the model: for inputs scaled to [-1, 1] (MobileNet, Inception) that is mid-grey,
    not black; for mean-subtracted inputs (ResNet50, VGG "caffe" style) the dataset's mean
    colour; for [0, 1] or [0, 255] inputs black, as in the paper.

    Examples
    --------
    >>> import numpy as np
    >>> image = np.array([[[1.0, -1.0], [0.5, 0.5]]])  # 1 x 2 pixels, 2 channels
    >>> explanation_map_input(image, [[0.5, 0.0]])
    array([[[ 0.5, -0.5],
            [ 0. ,  0. ]]])
    """
    array = check_float_image(image)
    weights = check_map(saliency, "saliency", shape=array.shape[:2], unit=True)
    return (array * weights[..., None]).astype(array.dtype)


def _scores(y, o) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Both probability vectors and where both are defined."""
    before = check_vector(y, "y", low=0, high=1)
    after = check_vector(o, "o", low=0, high=1)
    check_same_length(y=before, o=after)
    return before, after, ~np.isnan(before) & ~np.isnan(after)


def confidence_drop(y, o) -> np.ndarray:
    """Each sample's relative drop of confidence: ``max(0, y - o) / y``.

    Parameters
    ----------
    y : array_like, shape (n,)
        The explained class's probability on each input, within [0, 1] or NaN.
    o : array_like, shape (n,)
        Its probability on the input times the map (:func:`explanation_map_input`).

    Returns
    -------
    drop : ndarray of float, shape (n,)
        Within [0, 1]; NaN where ``y`` or ``o`` is NaN, or ``y`` is 0 (no confidence to lose).

    Examples
    --------
    >>> confidence_drop([0.8, 0.5, 0.4, 0.0], [0.6, 0.7, 0.1, 0.3])
    array([0.25, 0.  , 0.75,  nan])
    """
    before, after, defined = _scores(y, o)
    defined &= before > 0
    drop = np.full(before.shape, math.nan)
    drop[defined] = np.maximum(0.0, before[defined] - after[defined]) / before[defined]
    return drop


def confidence_increase(y, o) -> np.ndarray:
    """Each sample's increase in confidence: 1.0 where ``o > y``, else 0.0 (NaN if either is).

    Examples
    --------
    >>> confidence_increase([0.8, 0.5, 0.4, float("nan")], [0.6, 0.7, 0.4, 0.3])
    array([ 0.,  1.,  0., nan])
    """
    before, after, defined = _scores(y, o)
    increase = np.full(before.shape, math.nan)
    increase[defined] = (after[defined] > before[defined]).astype(np.float64)
    return increase


def _mean_defined(values: np.ndarray) -> float:
    defined = values[~np.isnan(values)]
    return float(defined.mean()) if defined.size else math.nan


def average_drop(y, o) -> float:
    """Average Drop: ``mean(max(0, y - o) / y)`` over the samples where it is defined.

    Parameters
    ----------
    y, o : array_like, shape (n,)
        See :func:`confidence_drop`.

    Returns
    -------
    drop : float
        Within [0, 1], lower is better; the paper reports it as a percentage (times 100).
        NaN when no sample is defined. For an interval, pass :func:`confidence_drop` to
        :func:`audit.metrics.bootstrap.describe`.

    References
    ----------
    .. [1] Chattopadhay, A., Sarkar, A., Howlader, P. and Balasubramanian, V. N.
           "Grad-CAM++: Improved Visual Explanations for Deep Convolutional Networks",
           WACV 2018, arXiv 1710.11063, section 4.1.

    Examples
    --------
    >>> round(average_drop([0.8, 0.5, 0.4], [0.6, 0.7, 0.1]), 6)  # (0.25 + 0 + 0.75) / 3
    0.333333
    """
    return _mean_defined(confidence_drop(y, o))


def increase_in_confidence(y, o) -> float:
    """Increase in Confidence: the share of samples where ``o > y``, higher is better.

    NaN when no sample is defined; the paper reports a percentage. See
    :func:`average_drop` for the arguments and the reference.

    Examples
    --------
    >>> increase_in_confidence([0.8, 0.5, 0.4, 0.2], [0.6, 0.7, 0.1, 0.3])
    0.5
    """
    return _mean_defined(confidence_increase(y, o))
