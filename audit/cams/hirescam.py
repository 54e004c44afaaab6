"""HiResCAM (Draelos & Carin, "Use HiResCAM instead of Grad-CAM for faithful explanations of
convolutional neural networks", arXiv 2011.08891).

The gradient multiplies the activations element-wise instead of being averaged first:
``map = ReLU(sum_k g_ijk A_ijk)``. The weights are the gradients themselves, ``(N, h, w, K)``;
the engine forms the sum. For a model whose head is global average pooling and a dense layer
the gradient is constant over ``(i, j)`` and HiResCAM equals Grad-CAM, as the paper notes.
"""

import tensorflow as tf

from audit.cams.base import CamMethod


def hirescam_weights(activations: tf.Tensor, grads: tf.Tensor) -> tf.Tensor:
    """Element-wise weights ``(N, h, w, K)``: the gradient."""
    del activations
    return grads


HIRESCAM = CamMethod(
    name="hirescam", title="HiResCAM", kind="gradient", weights=hirescam_weights, fixation=True,
    order=35, reference="Draelos & Carin, HiResCAM, arXiv 2011.08891")
