"""EigenCAM (Muhammad & Yeasin, "Eigen-CAM: Class Activation Map using Principal
Components", IJCNN 2020, arXiv 2008.00299).

Gradient-free and class-agnostic: the map is the projection of the activations on their
first principal component. Per image, the ``(h*w, K)`` matrix of activations is centred
(each channel's spatial mean subtracted, as pytorch-grad-cam's ``get_2d_projection`` does;
the paper's SVD is not centred), ``v`` is its first right singular vector, and the map is
``ReLU(sum_k v_k (A_k - mean_ij A_k))``.

A singular vector's sign is arbitrary (pytorch-grad-cam leaves it to the SVD routine). A
centred projection ``p`` has zero mean, so its sum cannot choose the sign; EigenCAM here
takes the sign for which the positive side holds more of the map's energy,
``sum_ij p_ij |p_ij| >= 0``, so the ReLU keeps the larger part of the projection.

It runs in the shared pass (kind ``"activation"``: no backward pass of its own), and every
class gets the same map, so it has no background-fixation flag.
"""

import tensorflow as tf

from audit.cams.base import CamMethod, WeightedActivations


def eigencam_weights(activations: tf.Tensor, grads) -> WeightedActivations:
    """The first principal direction ``(N, K)`` (sign fixed) and the centred activations."""
    del grads
    centred = activations - tf.reduce_mean(activations, axis=(1, 2), keepdims=True)
    matrix = tf.reshape(centred, (tf.shape(centred)[0], -1, centred.shape[-1]))  # (N, hw, K)
    _, _, v = tf.linalg.svd(matrix, full_matrices=False)  # v: (N, K, min(hw, K))
    first = v[:, :, 0]
    projection = tf.einsum("npk,nk->np", matrix, first)
    energy = tf.reduce_sum(projection * tf.abs(projection), axis=1, keepdims=True)
    sign = tf.where(energy < 0, -1.0, 1.0)
    return WeightedActivations(first * sign, centred)


EIGENCAM = CamMethod(
    name="eigencam", title="EigenCAM", kind="activation", weights=eigencam_weights,
    fixation=False, order=60, class_specific=False,
    reference="Muhammad & Yeasin, Eigen-CAM, IJCNN 2020, arXiv 2008.00299")
