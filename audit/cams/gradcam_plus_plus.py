"""Grad-CAM++ (Chattopadhyay et al., arXiv 1710.11063, eq. 19 with the exponential trick).

With ``g = dS/dA`` (``S`` the target logit):

``alpha = g^2 / (2 g^2 + (sum_ij A) g^3)``, ``alpha = 0`` where the denominator is 0 (which
includes every ``g = 0``); ``w_k = sum_ij ReLU(g) alpha``; the engine forms
``ReLU(sum_k w_k A_k)``.

tf-keras-vis additionally divides ``alpha`` by its per-channel sum, so its maps differ
slightly from these.
"""

import tensorflow as tf

from audit.cams.base import CamMethod


def gradcam_plus_plus_weights(activations: tf.Tensor, grads: tf.Tensor) -> tf.Tensor:
    """Channel weights ``(N, K)`` from activations and gradients ``(N, h, w, K)``."""
    g2 = tf.square(grads)
    g3 = g2 * grads
    sum_a = tf.reduce_sum(activations, axis=(1, 2), keepdims=True)
    alpha = tf.math.divide_no_nan(g2, 2.0 * g2 + sum_a * g3)
    return tf.reduce_sum(tf.nn.relu(grads) * alpha, axis=(1, 2))


GRADCAM_PLUS_PLUS = CamMethod(
    name="gradcam++", title="Grad-CAM++", kind="gradient", weights=gradcam_plus_plus_weights,
    fixation=True, order=20,
    reference="Chattopadhyay et al., Grad-CAM++, WACV 2018, arXiv 1710.11063")
