"""Score-CAM (Wang et al., arXiv 1910.01279): channel weights from masked forward passes.

Each channel of ``A`` is upsampled bilinearly to the input size and min-max normalised to
[0, 1] (a constant channel gives an all-zero mask); the input is multiplied by it and run
through the model; the channel's weight is the softmax probability of the target class on
that masked input. The engine forms ``ReLU(sum_k w_k A_k)``.

The masked inputs are batched across channels *and* images. ``top_k_channels`` keeps, per
image, only the ``k`` channels with the largest spatial variance ("Faster Score-CAM").
"""

from __future__ import annotations

import tensorflow as tf

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


def masked_inputs(images: tf.Tensor, image_index: tf.Tensor, masks: tf.Tensor) -> tf.Tensor:
    """The input of image ``image_index[m]`` multiplied by ``masks[m]``, for every ``m``."""
    return tf.gather(images, image_index) * tf.cast(masks, images.dtype)
