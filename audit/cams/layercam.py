"""LayerCAM (Jiang et al., "LayerCAM: Exploring Hierarchical Class Activation Maps for
Localization", IEEE Transactions on Image Processing 30, 2021, 5875-5888).

Each location of each channel is weighted by its own positive gradient:
``map = ReLU(sum_k ReLU(g_ijk) A_ijk)``. The weights are ``ReLU(g)``, ``(N, h, w, K)``;
the engine forms the sum. The paper's point is that this stays sharp on shallow layers.
"""

import tensorflow as tf

from audit.cams.base import CamMethod


def layercam_weights(activations: tf.Tensor, grads: tf.Tensor) -> tf.Tensor:
    """Element-wise weights ``(N, h, w, K)``: the positive part of the gradient."""
    del activations
    return tf.nn.relu(grads)


LAYERCAM = CamMethod(
    name="layercam", title="LayerCAM", kind="gradient", weights=layercam_weights, fixation=True,
    order=40, reference="Jiang et al., LayerCAM, IEEE TIP 30 (2021) 5875-5888")
