"""Negative evidence: Grad-CAM of the negated gradient.

The map shows the regions that argue *against* the target class: ``w_k = mean_ij (-dS/dA)``,
then ``ReLU(sum_k w_k A_k)``. Standard Grad-CAM discards exactly this part with its ReLU
(the seed text's pitfall "ignoring negative evidence").
"""

import tensorflow as tf


def negative_weights(activations: tf.Tensor, grads: tf.Tensor) -> tf.Tensor:
    """Channel weights ``(N, K)``: the mean of the negated gradient."""
    del activations
    return -tf.reduce_mean(grads, axis=(1, 2))
