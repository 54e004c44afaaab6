"""From weights to maps: combination, upsampling, scaling and the degenerate flag."""

from __future__ import annotations

import functools

import numpy as np
import tensorflow as tf

from audit.cams.base import WeightedActivations


def combine(activations: tf.Tensor, weights: tf.Tensor) -> tf.Tensor:
    """Maps ``(N, h, w)`` from ``A (N, h, w, K)`` and weights of one of two shapes.

    Channel weights ``w (N, K)`` give ``ReLU(sum_k w_k A_k)``; element-wise weights
    ``w (N, h, w, K)`` give ``ReLU(sum_k w_ijk A_ijk)`` (HiResCAM, LayerCAM).
    """
    weights = tf.cast(weights, activations.dtype)
    if weights.shape.rank == 4:
        weighted = tf.reduce_sum(activations * weights, axis=3)
    elif weights.shape.rank == 2:
        weighted = tf.einsum("nhwk,nk->nhw", activations, weights)
    else:
        raise ValueError(f"CAM weights must be channel weights (N, K) or element-wise weights "
                         f"(N, h, w, K); got shape {tuple(weights.shape)}.")
    return tf.nn.relu(weighted)


def weigh(activations: tf.Tensor, weights) -> tuple[tf.Tensor, int]:
    """The map ``ReLU(sum_k w_k A_k)`` of a weights function's result, and its channel count."""
    if isinstance(weights, WeightedActivations):
        activations, weights = weights.activations, weights.weights
    return combine(activations, weights), int(activations.shape[-1])


def per_target(weights, activations, n_targets: int, name: str):
    """A perturbation method's weights with a target axis: ``(N, T, K)`` or
    ``(N, T, h, w, K)``. A method that returns one target's weights (``(N, K)`` or
    ``(N, h, w, K)``) may do so when there is one target."""
    rank = weights.shape.rank
    single = 2 if rank in (2, 3) else 4
    if rank == single + 1 and int(weights.shape[1]) == n_targets:
        return weights
    if rank == single and n_targets == 1:
        return weights[:, None]
    raise ValueError(f"CAM method '{name}' must return weights (N, T, K) or (N, T, h, w, K) "
                     f"for T={n_targets} targets (activations {tuple(activations.shape)}); "
                     f"got shape {tuple(weights.shape)}.")


def spatial_size(images):
    """``(H, W)`` of a batch: static ints when known (fast upsampling), else a tensor."""
    h, w = images.shape[1], images.shape[2]
    if h is not None and w is not None:
        return (int(h), int(w))
    return tf.shape(images)[1:3]


@functools.lru_cache(maxsize=256)
def resize_matrix(in_size: int, out_size: int) -> np.ndarray:
    """The ``(out_size, in_size)`` matrix of 1-D bilinear interpolation with half-pixel
    centres: the weights ``tf.image.resize(method="bilinear")`` uses (no antialiasing)."""
    scale = in_size / out_size
    src = np.clip((np.arange(out_size) + 0.5) * scale - 0.5, 0.0, in_size - 1)
    low = np.floor(src).astype(int)
    high = np.minimum(low + 1, in_size - 1)
    frac = src - low
    matrix = np.zeros((out_size, in_size), np.float32)
    matrix[np.arange(out_size), low] += 1.0 - frac
    matrix[np.arange(out_size), high] += frac
    matrix.flags.writeable = False  # cached: shared by every caller
    return matrix


def _matrix_products(maps: tf.Tensor, rows: tf.Tensor, cols: tf.Tensor) -> tf.Tensor:
    """``rows @ map @ cols`` for every map: ``(N, h, w)`` -> ``(N, H, W)``."""
    n, h, w = tf.shape(maps)[0], tf.shape(maps)[1], tf.shape(maps)[2]
    wide = tf.reshape(tf.matmul(tf.reshape(maps, (-1, w)), cols), (n, h, -1))  # (N, h, W)
    return tf.matmul(tf.broadcast_to(rows, (n, tf.shape(rows)[0], tf.shape(rows)[1])), wide)


# Called eagerly (the score stage upsamples each image's maps to its own size), the products
# run as one graph whatever the sizes, instead of a dozen eager ops: the same kernels.
_products_graph = tf.function(_matrix_products, input_signature=[
    tf.TensorSpec((None, None, None), tf.float32), tf.TensorSpec((None, None), tf.float32),
    tf.TensorSpec((None, None), tf.float32)], autograph=False)


@functools.lru_cache(maxsize=256)
def _resize_tensors(h: int, w: int, height: int, width: int) -> tuple[tf.Tensor, tf.Tensor]:
    """The resize matrices as eager constants (only ever called eagerly)."""
    return (tf.constant(resize_matrix(h, height)),
            tf.constant(np.ascontiguousarray(resize_matrix(w, width).T)))


def upsample(maps, size) -> tf.Tensor:
    """Bilinear upsampling of maps ``(N, h, w)`` to ``(N, H, W)`` (stays non-negative).

    With static sizes this is two small matrix products (``R_h @ map @ R_w^T``), the same
    arithmetic as ``tf.image.resize(method="bilinear")`` but several times faster on a CPU for
    single-channel maps; otherwise it falls back to ``tf.image.resize``.
    """
    maps = tf.convert_to_tensor(maps, dtype=tf.float32)
    h, w = maps.shape[1], maps.shape[2]
    static = tf.get_static_value(tf.convert_to_tensor(size))
    if h is None or w is None or static is None:
        return tf.image.resize(maps[..., None], size, method="bilinear")[..., 0]
    if tf.executing_eagerly():
        rows, cols = _resize_tensors(int(h), int(w), int(static[0]), int(static[1]))
        return _products_graph(maps, rows, cols)
    # Inside a graph being traced: constants of that graph (a cached one would be out of scope).
    rows = tf.constant(resize_matrix(int(h), int(static[0])))  # (H, h)
    cols = tf.constant(np.ascontiguousarray(resize_matrix(int(w), int(static[1])).T))  # (w, W)
    return _matrix_products(maps, rows, cols)


def scale_to_unit(maps) -> tf.Tensor:
    """Divide each map by its maximum, so it lies in [0, 1]; an all-zero map stays zero."""
    maps = tf.convert_to_tensor(maps, dtype=tf.float32)
    peak = tf.reduce_max(maps, axis=(1, 2), keepdims=True)
    return tf.math.divide_no_nan(maps, peak)


def finish(raw: tf.Tensor, size, *, resize: bool, normalize: bool):
    """The degenerate flags of raw maps ``(N, h, w)`` (all zero after the ReLU), then the maps
    upsampled to ``size`` (with ``resize``) and scaled to [0, 1] (with ``normalize``), as graph
    ops."""
    flags = tf.logical_not(tf.reduce_any(raw > 0, axis=(1, 2)))
    if resize:
        raw = upsample(raw, size)
    if normalize:
        raw = scale_to_unit(raw)
    return raw, flags
