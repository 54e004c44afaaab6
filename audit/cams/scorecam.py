"""Score-CAM (Wang et al., arXiv 1910.01279): channel weights from masked forward passes.

Each channel of ``A`` is upsampled bilinearly to the input size and min-max normalised to
[0, 1] (a constant channel gives an all-zero mask); the input is multiplied by it and run
through the model; the channel's weight is the softmax probability of the target class on
that masked input. The engine forms ``ReLU(sum_k w_k A_k)``.

The masked inputs are batched across channels *and* images: the engine's ``probabilities``
runs them in fixed-shape chunks. They do not depend on the class (nor does the top-k choice:
spatial variance), so every target class of an image is weighed from the same masked passes.
``max_channels`` keeps, per image, only the channels with the largest spatial variance
("Faster Score-CAM").
"""

from __future__ import annotations

import tensorflow as tf

from audit.cams.base import CamMethod, WeightedActivations
from audit.cams.postprocess import upsample


def top_k_channels(activations: tf.Tensor, k: int) -> tf.Tensor:
    """Indices ``(N, k)`` of each image's ``k`` channels with the largest spatial variance."""
    variance = tf.math.reduce_variance(activations, axis=(1, 2))
    return tf.math.top_k(variance, k=k, sorted=True).indices


def normalized_masks(maps: tf.Tensor, size) -> tf.Tensor:
    """Masks ``(M, H, W, 1)`` in [0, 1] from channel maps ``(M, h, w)``."""
    up = upsample(maps, size)[..., None]
    low = tf.reduce_min(up, axis=(1, 2, 3), keepdims=True)
    high = tf.reduce_max(up, axis=(1, 2, 3), keepdims=True)
    return tf.math.divide_no_nan(up - low, high - low)


def scorecam_weights(activations: tf.Tensor, images: tf.Tensor, class_idx: tf.Tensor, *,
                     probabilities, max_channels: int | None) -> WeightedActivations:
    """Channel weights from the target-class probability of each masked input.

    Parameters
    ----------
    activations : tf.Tensor, float32, shape (N, h, w, K)
    images : tf.Tensor, shape (N, H, W, C)
        The model's input (unused here: the engine masks it).
    class_idx : tf.Tensor, int32, shape (N, T)
        The target classes of each image; their probabilities come from the same passes.
    probabilities : callable, keyword-only
        ``probabilities(make_masks, maps, image_index, classes)``: the engine's masked passes
        (the contract is in :class:`audit.cams.base.Kind`).
    max_channels : int or None, keyword-only
        Keep only this many channels per image (top-k by spatial variance).

    Returns
    -------
    WeightedActivations
        Weights ``(N, T, k)`` of the ``k`` kept channels, and those channels
        ``(N, h, w, k)``.
    """
    del images
    n, h, w, k = activations.shape
    keep = k if max_channels is None else min(k, max_channels)
    if keep < k:
        chosen = top_k_channels(activations, keep)
        activations = tf.gather(activations, chosen, axis=3, batch_dims=1)
    maps = tf.reshape(tf.transpose(activations, (0, 3, 1, 2)), (n * keep, h, w))
    image_index = tf.repeat(tf.range(n, dtype=tf.int32), keep)
    scores = probabilities(normalized_masks, maps, image_index,
                           tf.gather(class_idx, image_index))  # (n * keep, T)
    weights = tf.transpose(tf.reshape(scores, (n, keep, -1)), (0, 2, 1))
    return WeightedActivations(weights, activations)


SCORECAM = CamMethod(
    name="scorecam", title="Score-CAM", kind="perturbation", weights=scorecam_weights,
    fixation=True, order=50,
    reference="Wang et al., Score-CAM, CVPR Workshops 2020, arXiv 1910.01279")
