"""Negative evidence: Grad-CAM of the negated gradient.

The map shows the regions that argue *against* the target class: ``w_k = mean_ij (-dS/dA)``,
then ``ReLU(sum_k w_k A_k)``. Standard Grad-CAM discards exactly this part with its ReLU
(the seed text's pitfall "ignoring negative evidence").

It is counter-evidence: its maps get no background-fixation flag and are not gated.
"""

import tensorflow as tf

from audit.cams.base import CamMethod


def negative_weights(activations: tf.Tensor, grads: tf.Tensor) -> tf.Tensor:
    """Channel weights ``(N, K)``: the mean of the negated gradient."""
    del activations
    return -tf.reduce_mean(grads, axis=(1, 2))


NEGATIVE = CamMethod(
    name="negative", title="Negative evidence", kind="counter-evidence",
    weights=negative_weights, fixation=False, order=90,
    reference="Grad-CAM of -dS/dA (Selvaraju et al., arXiv 1610.02391, counterfactual "
              "explanations)")
