"""Grad-CAM (Selvaraju et al., arXiv 1610.02391): channel weights are mean gradients.

``w_k = mean_ij dS/dA_ijk``; the engine forms ``ReLU(sum_k w_k A_k)``.
"""

import tensorflow as tf


def gradcam_weights(activations: tf.Tensor, grads: tf.Tensor) -> tf.Tensor:
    """Channel weights ``(N, K)`` from activations and gradients ``(N, h, w, K)``."""
    del activations  # Grad-CAM weighs by the gradients alone.
    return tf.reduce_mean(grads, axis=(1, 2))
