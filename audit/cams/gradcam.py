"""Grad-CAM (Selvaraju et al., arXiv 1610.02391): channel weights are mean gradients.

``w_k = mean_ij dS/dA_ijk``; the engine forms ``ReLU(sum_k w_k A_k)``.
"""

import tensorflow as tf

from audit.cams.base import CamMethod


def gradcam_weights(activations: tf.Tensor, grads: tf.Tensor) -> tf.Tensor:
    """Channel weights ``(N, K)`` from activations and gradients ``(N, h, w, K)``."""
    del activations  # Grad-CAM weighs by the gradients alone.
    return tf.reduce_mean(grads, axis=(1, 2))


GRADCAM = CamMethod(
    name="gradcam", title="Grad-CAM", kind="gradient", weights=gradcam_weights, fixation=True,
    order=10, reference="Selvaraju et al., Grad-CAM, ICCV 2017, arXiv 1610.02391")
