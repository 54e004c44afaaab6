"""XGrad-CAM (Fu et al., "Axiom-based Grad-CAM: Towards Accurate Visualization and
Explanation of CNNs", BMVC 2020, arXiv 2008.02312).

Each channel's gradient is averaged with the channel's own activations as weights:
``w_k = sum_ij (A_ijk / sum_ij A_ijk) g_ijk``, and ``w_k = 0`` where ``sum_ij A_ijk = 0``
(pytorch-grad-cam adds 1e-7 to the denominator instead); the engine forms
``ReLU(sum_k w_k A_k)``.
"""

import tensorflow as tf

from audit.cams.base import CamMethod


def xgradcam_weights(activations: tf.Tensor, grads: tf.Tensor) -> tf.Tensor:
    """Channel weights ``(N, K)`` from activations and gradients ``(N, h, w, K)``."""
    total = tf.reduce_sum(activations, axis=(1, 2), keepdims=True)
    return tf.reduce_sum(tf.math.divide_no_nan(activations, total) * grads, axis=(1, 2))


XGRADCAM = CamMethod(
    name="xgradcam", title="XGrad-CAM", kind="gradient", weights=xgradcam_weights,
    fixation=True, order=30, reference="Fu et al., XGrad-CAM, BMVC 2020, arXiv 2008.02312")
