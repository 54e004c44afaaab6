"""Cascading model-parameter randomisation: do the maps change when the model is destroyed?

Adebayo et al. (arXiv 1810.03292, section 3): re-initialise the model's weights layer by
layer, from the output towards the input, cumulatively, and compare each map with the map
the intact model gives (:mod:`audit.evidence.similarity`). A method that explains the model
must give different maps once the layers it depends on are random; Grad-CAM passes.

The user's model is never modified: it is cloned once, and the layers of the *copy* are
re-initialised in place, more of them at each step (:func:`cascading_randomization`), so a
cascade of ``steps`` steps costs one clone. Keras is imported inside the functions, so that
importing :mod:`audit.evidence` does not load TensorFlow.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from audit.errors import ModelError
from audit.validation import check_int, check_seed

__all__ = [
    "CascadeStep",
    "cascade_groups",
    "cascading_randomization",
    "randomized_copy",
    "reinitialize_layer",
    "weighted_layers",
]

# Variable names whose initializer attribute is not ``<name>_initializer``.
_INITIALIZER_ATTRIBUTES = {
    "depthwise_kernel": "depthwise_initializer",
    "pointwise_kernel": "pointwise_initializer",
}


def weighted_layers(model) -> list[tuple[str, object]]:
    """The layers that hold weights, in forward order, through nested models.

    Parameters
    ----------
    model : keras.Model
        Functional, Sequential, or with nested models (a ``keras.applications`` backbone
        inside a Sequential); paths as in :func:`audit.cams.layers.iter_layers`.

    Returns
    -------
    layers : list of (str, keras.layers.Layer)
        ``(path, layer)`` for every leaf layer that owns at least one weight, frozen
        (``trainable=False``) ones included: a frozen backbone is still what the model
        learned. ``keras.layers.Normalization`` is left out: its weights are statistics of
        the data, fixed before training, not learned. Each layer appears once.
    """
    import keras

    from audit.cams.layers import iter_layers

    found, seen = [], set()
    for path, layer in iter_layers(model):
        if id(layer) in seen or not layer.weights:
            continue
        if isinstance(layer, keras.layers.Normalization):
            continue
        seen.add(id(layer))
        found.append((path, layer))
    return found


def cascade_groups(layers: Sequence, *, steps: int) -> list[tuple]:
    """Cumulative groups of layers from the output: the top ``1/steps``, ``2/steps``, ... all.

    Parameters
    ----------
    layers : sequence
        The layers in forward order (as :func:`weighted_layers` gives them), ``L`` of them.
    steps : int
        Number of groups, between 1 and ``L``.

    Returns
    -------
    groups : list of tuple
        Group ``k`` (1-based) holds the last ``ceil(k * L / steps)`` layers, in forward
        order. Rounding up makes every group one layer or more larger than the one before
        (as ``steps <= L``), the first group non-empty, and the last all ``L`` layers.

    Raises
    ------
    ValueError
        If ``steps`` is not an integer between 1 and ``L``.

    Examples
    --------
    >>> [len(group) for group in cascade_groups(range(10), steps=3)]  # 3.33, 6.67, 10 up
    [4, 7, 10]
    >>> cascade_groups(["conv1", "conv2", "dense"], steps=2)
    [('conv2', 'dense'), ('conv1', 'conv2', 'dense')]
    """
    items = tuple(layers)
    total = len(items)
    count = check_int(steps, "steps", minimum=1)
    if count > total:
        raise ValueError(
            f"steps must be between 1 and the number of layers ({total}); got steps={steps!r}"
        )
    sizes = [(k * total + count - 1) // count for k in range(1, count + 1)]  # ceil, exactly
    return [items[total - size :] for size in sizes]


def _variable_seed(seed: int, layer_index: int, variable_index: int) -> int:
    """A seed for one weight, from the run's seed and the weight's place in the model."""
    state = np.random.SeedSequence([seed, layer_index, variable_index]).generate_state(1)[0]
    return int(state) % (2**31 - 1)


def _initializer_for(layer, variable, seed: int):
    """The layer's own initializer of ``variable`` with ``seed`` set, or None."""
    import keras

    name = variable.name.rsplit("/", 1)[-1]
    attribute = _INITIALIZER_ATTRIBUTES.get(name, f"{name}_initializer")
    initializer = getattr(layer, attribute, None)
    if initializer is None:
        return None
    try:
        initializer = keras.initializers.get(initializer)
        config = initializer.get_config()
        if "seed" in config:
            config["seed"] = seed
            initializer = initializer.__class__.from_config(config)
    except Exception:
        return None
    return initializer


def _new_value(layer, variable, seed: int) -> np.ndarray:
    import keras

    shape, dtype = tuple(variable.shape), variable.dtype
    initializer = _initializer_for(layer, variable, seed)
    if initializer is not None:
        try:
            return keras.ops.convert_to_numpy(initializer(shape=shape, dtype=dtype))
        except Exception:
            pass
    current = np.asarray(variable.numpy(), dtype=np.float64)
    rng = np.random.default_rng(seed)
    return rng.normal(current.mean(), current.std(), size=shape).astype(current.dtype)


def reinitialize_layer(layer, *, layer_index: int, seed: int) -> None:
    """Re-initialise every floating-point weight of ``layer`` in place.

    Each weight gets its layer's own initializer (``kernel_initializer``,
    ``bias_initializer``, ``depthwise_initializer``, BatchNormalization's ``gamma``,
    ``beta``, ``moving_mean`` and ``moving_variance`` initializers, ...) with a seed drawn
    from ``(seed, layer_index, weight's index in layer.weights)``; a weight without one gets
    normal noise of the weight's current mean and standard deviation. Integer weights are
    left alone. Call it on a copy (:func:`randomized_copy` does).

    Parameters
    ----------
    layer : keras.layers.Layer
    layer_index : int
        The layer's place in :func:`weighted_layers` (0 = nearest the input), so that a
        layer's new weights depend on the seed and its place only, not on how many other
        layers are re-initialised with it.
    seed : int
        The run's seed, an integer >= 0.
    """
    import keras

    check_int(layer_index, "layer_index", minimum=0)
    check_seed(seed)
    for variable_index, variable in enumerate(layer.weights):
        if not keras.backend.is_float_dtype(variable.dtype):
            continue
        value = _new_value(layer, variable, _variable_seed(seed, layer_index, variable_index))
        variable.assign(value)


def _safe_mode_scope(safe_mode: bool):
    """Keras's deserialisation safe mode for the block: cloning goes through a model's config,
    so a model the user chose to load with ``safe_mode=False`` (a Lambda layer) must be cloned
    the same way. Keras has no public scope for it; without the private one, nothing changes."""
    import contextlib

    try:
        from keras.src.saving.serialization_lib import SafeModeScope
    except ImportError:  # pragma: no cover - a Keras without the scope
        return contextlib.nullcontext()
    return SafeModeScope(safe_mode)


def _clone(model, *, safe_mode: bool = True):
    """A copy of ``model`` with the same weights and no variable shared with it."""
    import keras

    if not isinstance(model, keras.Model):
        raise ModelError(f"model must be a keras.Model; got {type(model).__name__}")
    try:
        with _safe_mode_scope(safe_mode):
            copy = keras.models.clone_model(model, recursive=True)
    except Exception as error:
        raise ModelError(
            f"Model '{model.name}' cannot be cloned for the randomisation check (a subclassed "
            f"model needs get_config/from_config): {error}"
        ) from error
    weights = model.get_weights()
    if [w.shape for w in weights] != [tuple(v.shape) for v in copy.weights]:
        raise ModelError(f"The clone of model '{model.name}' does not have the model's weights.")
    copy.set_weights(weights)
    originals = {id(v) for v in model.weights}
    if any(id(v) in originals for v in copy.weights):
        raise ModelError(f"The clone of model '{model.name}' shares weights with the model.")
    return copy


def randomized_copy(model, n_layers_from_top: int, *, seed: int, safe_mode: bool = True):
    """A copy of ``model`` whose top ``n_layers_from_top`` weighted layers are re-initialised.

    Parameters
    ----------
    model : keras.Model
        Left untouched.
    n_layers_from_top : int
        How many of :func:`weighted_layers`, counted from the output, to re-initialise
        (0 gives an exact copy; the group sizes of :func:`cascade_groups` are the usual
        values).
    seed : int
        Seed of the new weights (see :func:`reinitialize_layer`); the same model, count and
        seed give the same weights.
    safe_mode : bool
        Keras's safe mode while the model is cloned: False only for a model the user loaded
        with ``model.safe_mode: false`` (its Lambda layers are re-created from their code).

    Returns
    -------
    copy : keras.Model
        A clone (``keras.models.clone_model(recursive=True)`` then ``set_weights``), with the
        chosen layers' weights drawn anew, BatchNormalization moving statistics included.

    Raises
    ------
    ModelError
        If the model cannot be cloned (a subclassed model without a config).
    ValueError
        If ``n_layers_from_top`` is not between 0 and the number of weighted layers.
    """
    check_seed(seed)
    count = check_int(n_layers_from_top, "n_layers_from_top", minimum=0)
    copy = _clone(model, safe_mode=safe_mode)
    layers = weighted_layers(copy)
    if count > len(layers):
        raise ValueError(
            f"n_layers_from_top must be between 0 and the number of weighted layers "
            f"({len(layers)}); got n_layers_from_top={n_layers_from_top!r}"
        )
    for index in range(len(layers) - count, len(layers)):
        reinitialize_layer(layers[index][1], layer_index=index, seed=seed)
    return copy


@dataclass(frozen=True)
class CascadeStep:
    """One step of :func:`cascading_randomization`.

    ``step`` counts from 1; ``layers`` are the paths re-initialised so far, in forward order;
    ``model`` is the copy in its state at this step (the same object at every step).
    """

    step: int
    layers: tuple[str, ...]
    model: object


def cascading_randomization(model, *, steps: int, seed: int,
                            safe_mode: bool = True) -> Iterator[CascadeStep]:
    """Re-initialise a copy of ``model`` from the output down, group by group.

    Parameters
    ----------
    model : keras.Model
        Left untouched; cloned once.
    steps : int
        Number of groups (:func:`cascade_groups` of :func:`weighted_layers`).
    seed : int
        Seed of the new weights. Step ``k``'s model has the same weights as
        ``randomized_copy(model, len(groups[k - 1]), seed=seed)``.
    safe_mode : bool
        As in :func:`randomized_copy`.

    Yields
    ------
    step : CascadeStep
        Its ``model`` is one copy re-initialised further at each step: compute the maps of
        a step before asking for the next.

    Raises
    ------
    ModelError
        If the model cannot be cloned.
    ValueError
        If ``steps`` is not between 1 and the number of weighted layers.

    References
    ----------
    .. [1] Adebayo, J., Gilmer, J., Muelly, M., Goodfellow, I., Hardt, M. and Kim, B.
           "Sanity Checks for Saliency Maps", NeurIPS 2018, arXiv 1810.03292.
    """
    check_seed(seed)
    check_int(steps, "steps", minimum=1)
    copy = _clone(model, safe_mode=safe_mode)
    layers = weighted_layers(copy)
    groups = cascade_groups(layers, steps=steps)
    return _cascade(copy, layers, groups, seed)  # checked and cloned now, not at first next()


def _cascade(copy, layers: list, groups: list[tuple], seed: int) -> Iterator[CascadeStep]:
    total, done = len(layers), 0
    for step, group in enumerate(groups, start=1):
        for index in range(total - len(group), total - done):
            reinitialize_layer(layers[index][1], layer_index=index, seed=seed)
        done = len(group)
        yield CascadeStep(step=step, layers=tuple(path for path, _ in group), model=copy)
