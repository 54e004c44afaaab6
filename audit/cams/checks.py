"""The explainer's input checks, each called once where an argument enters: an error names the
argument, says what is allowed and shows what it got."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import tensorflow as tf

from audit.cams.base import CamMethod
from audit.cams.methods import get_method
from audit.cams.results import NO_TARGET, PREDICTED


def check_registry(registry) -> Mapping[str, CamMethod]:
    if not isinstance(registry, Mapping) or not registry:
        raise ValueError(f"registry must be a non-empty mapping of name -> CamMethod; got "
                         f"{type(registry).__name__}.")
    for name, method in registry.items():
        if not isinstance(method, CamMethod) or method.name != name:
            raise ValueError(f"registry must map each name to the CamMethod of that name; "
                             f"got {name!r} -> {method!r}.")
    return registry


def check_methods(methods: Sequence[str], registry: Mapping[str, CamMethod]
                  ) -> tuple[CamMethod, ...]:
    names = (methods,) if isinstance(methods, str) else tuple(methods)
    if not names:
        raise ValueError(f"methods must name at least one CAM method; got (). "
                         f"Allowed: {', '.join(registry)}.")
    if len(set(names)) != len(names):
        raise ValueError(f"methods must not repeat; got {names!r}.")
    return tuple(get_method(name, registry=registry) for name in names)


def check_images(images, *, input_shape: tuple, dtype, model_name: str) -> tf.Tensor:
    array = np.asarray(images)
    if array.ndim != 4 or any(e is not None and a != e
                              for a, e in zip(array.shape[1:], input_shape, strict=True)):
        raise ValueError(f"images must have shape (N, {', '.join(map(str, input_shape))})"
                         f" for model '{model_name}'; got {array.shape}.")
    if not np.issubdtype(array.dtype, np.floating):
        raise ValueError(f"images must be a float array already preprocessed for the model; "
                         f"got dtype {array.dtype}.")
    return tf.convert_to_tensor(array, dtype=dtype)


def check_classes(class_idx, n: int, *, n_classes: int) -> tf.Tensor:
    array = np.asarray(class_idx)
    if array.shape != (n,) or not np.issubdtype(array.dtype, np.integer):
        raise ValueError(f"class_idx must be an int array of shape ({n},); got "
                         f"{array.dtype} array of shape {array.shape}.")
    if n and (array.min() < 0 or array.max() >= n_classes):
        raise ValueError(f"class_idx must lie in [0, {n_classes - 1}] for a model with "
                         f"{n_classes} classes; got values from {array.min()} to "
                         f"{array.max()}.")
    return tf.convert_to_tensor(array, dtype=tf.int32)


def check_targets(targets, n: int, *, n_classes: int) -> tf.Tensor:
    """Targets ``(N, T)`` as int32: class indices, ``PREDICTED`` or ``NO_TARGET``; a sequence
    of per-image lists is padded with ``NO_TARGET`` to the longest."""
    if (isinstance(targets, Sequence) and len(targets)
            and all(isinstance(t, Sequence) for t in targets)):
        width = max(1, max(len(t) for t in targets))
        array = np.full((len(targets), width), NO_TARGET, np.int64)
        for i, row in enumerate(targets):
            array[i, :len(row)] = row
    else:
        array = np.asarray(targets)
    if (array.ndim != 2 or array.shape[0] != n or array.shape[1] < 1
            or not np.issubdtype(array.dtype, np.integer)):
        raise ValueError(f"targets must be an int array of shape ({n}, T) with T >= 1, or {n} "
                         f"lists of classes; got {array.dtype} array of shape "
                         f"{array.shape}.")
    bad = (array >= n_classes) | ((array < 0) & (array != PREDICTED) & (array != NO_TARGET))
    if bad.any():
        raise ValueError(f"targets must be classes in [0, {n_classes - 1}], PREDICTED "
                         f"({PREDICTED}) or NO_TARGET ({NO_TARGET}) for a model with "
                         f"{n_classes} classes; got {array[bad].ravel()[:10].tolist()}.")
    return tf.convert_to_tensor(array, dtype=tf.int32)
