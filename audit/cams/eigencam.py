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


def first_principal_direction(matrix: tf.Tensor) -> tf.Tensor:
    """The first right singular vector ``(N, K)`` of each centred matrix ``(N, P, K)``.

    It is the top eigenvector of the smaller Gram matrix: ``M^T M`` (``K x K``) directly, or
    ``M M^T`` (``P x P``, when there are fewer pixels than channels) giving ``u``, then
    ``v = M^T u / |M^T u|``. On a CPU this is several times faster than ``tf.linalg.svd`` of
    the ``(P, K)`` matrix (MobileNetV2's last layer: 49 x 1280 per image) and agrees with it
    to float32 rounding. An all-zero matrix gives ``v = 0`` (P < K) or an arbitrary unit
    vector; either way its map is zero.
    """
    pixels, channels = matrix.shape[1], matrix.shape[2]
    if pixels is not None and pixels < channels:
        gram = tf.matmul(matrix, matrix, transpose_b=True)  # (N, P, P)
        u = tf.linalg.eigh(gram)[1][:, :, -1]  # eigenvalues ascend: the last is the largest
        v = tf.linalg.matvec(matrix, u, transpose_a=True)
        return tf.math.divide_no_nan(v, tf.norm(v, axis=1, keepdims=True))
    return tf.linalg.eigh(tf.matmul(matrix, matrix, transpose_a=True))[1][:, :, -1]


def eigencam_weights(activations: tf.Tensor, grads) -> WeightedActivations:
    """The first principal direction ``(N, K)`` (sign fixed) and the centred activations."""
    del grads
    centred = activations - tf.reduce_mean(activations, axis=(1, 2), keepdims=True)
    _, h, w, k = centred.shape
    pixels = -1 if h is None or w is None else h * w  # static when known: picks the Gram
    matrix = tf.reshape(centred, (tf.shape(centred)[0], pixels, k))  # (N, hw, K)
    first = first_principal_direction(matrix)
    projection = tf.linalg.matvec(matrix, first)  # (N, hw)
    energy = tf.reduce_sum(projection * tf.abs(projection), axis=1, keepdims=True)
    sign = tf.where(energy < 0, -1.0, 1.0)
    return WeightedActivations(first * sign, centred)


EIGENCAM = CamMethod(
    name="eigencam", title="EigenCAM", kind="activation", weights=eigencam_weights,
    fixation=False, order=60, class_specific=False,
    reference="Muhammad & Yeasin, Eigen-CAM, IJCNN 2020, arXiv 2008.00299")
