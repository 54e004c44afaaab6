"""From weights to maps: combination, upsampling, scaling and the degenerate flag."""

from __future__ import annotations

import numpy as np
import tensorflow as tf


def combine(activations: tf.Tensor, weights: tf.Tensor) -> tf.Tensor:
    """``ReLU(sum_k w_k A_k)``: maps ``(N, h, w)`` from ``A (N, h, w, K)`` and ``w (N, K)``."""
    weighted = tf.einsum("nhwk,nk->nhw", activations, tf.cast(weights, activations.dtype))
    return tf.nn.relu(weighted)


def upsample(maps, size: tuple[int, int]) -> tf.Tensor:
    """Bilinear upsampling of maps ``(N, h, w)`` to ``(N, H, W)`` (stays non-negative)."""
    maps = tf.convert_to_tensor(maps, dtype=tf.float32)
    return tf.image.resize(maps[..., None], size, method="bilinear")[..., 0]


def scale_to_unit(maps) -> tf.Tensor:
    """Divide each map by its maximum, so it lies in [0, 1]; an all-zero map stays zero."""
    maps = tf.convert_to_tensor(maps, dtype=tf.float32)
    peak = tf.reduce_max(maps, axis=(1, 2), keepdims=True)
    return tf.math.divide_no_nan(maps, peak)


def degenerate(maps) -> np.ndarray:
    """Boolean ``(N,)``: the map is zero everywhere (nothing survived the ReLU)."""
    maps = np.asarray(maps)
    return ~np.any(maps > 0, axis=tuple(range(1, maps.ndim)))


def upsample_one(raw_map: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """One raw map ``(h, w)`` upsampled bilinearly to ``size`` as float32 (not rescaled)."""
    return upsample(np.asarray(raw_map, dtype=np.float32)[None], size)[0].numpy()
