"""A model's identity from its weights, for a model that has no file (a live ``keras.Model``)."""

from __future__ import annotations

import hashlib

import numpy as np

__all__ = ["weights_sha256"]


def weights_sha256(model) -> str:
    """SHA-256 of a Keras model's weights: each variable's dtype, shape and bytes, in the
    model's order.

    Two models with the same architecture and the same weights hash the same, whatever file
    (or none) they came from; a model file's own hash (``sha256_of``) also covers its
    configuration and the time it was saved.

    >>> import keras
    >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    >>> copy = keras.models.clone_model(model)
    >>> copy.set_weights(model.get_weights())
    >>> weights_sha256(copy) == weights_sha256(model), len(weights_sha256(model))
    (True, 64)
    """
    digest = hashlib.sha256()
    for variable in model.weights:
        values = np.ascontiguousarray(np.asarray(variable))
        digest.update(f"{values.dtype.str}\0{values.shape}\0".encode())
        digest.update(values.tobytes())
    return digest.hexdigest()
