"""The classifier's head: where the pre-softmax logits are, and how a class is scored.

A CAM explains the *logit* of the target class (DESIGN: "Score"). A model whose output layer
applies softmax or sigmoid is explained through that layer's pre-activation, which the engine
taps while tracing; the user's model object is not changed. A single-unit sigmoid model is a
two-class model: class 1 is scored with the logit ``z`` and class 0 with ``-z``.
"""

from __future__ import annotations

from dataclasses import dataclass

from audit.errors import ModelError

_SQUASHING = ("softmax", "sigmoid")


@dataclass(frozen=True)
class Head:
    """How the model's output relates to the logits.

    Attributes
    ----------
    layer : keras.layers.Layer
        The layer that produces the model's output.
    activation : str
        ``"softmax"``, ``"sigmoid"`` or ``"linear"``: the squashing the output layer applies.
    tap : str
        ``"preactivation"``: the layer applies the squashing itself (``Dense(activation=...)``),
        the engine recomputes its output without it; ``"input"``: the layer *is* the squashing
        (``Softmax``, ``Activation``), its input is the logits; ``"output"``: the output is
        already the logits.
    n_units : int
        Width of the model's output.
    """

    layer: object
    activation: str
    tap: str
    n_units: int

    @property
    def n_classes(self) -> int:
        """Number of classes: a single-unit output is a two-class (binary) model."""
        return 2 if self.n_units == 1 else self.n_units

    @property
    def binary(self) -> bool:
        return self.n_units == 1


def _activation_name(fn) -> str:
    name = getattr(fn, "__name__", "") or fn.__class__.__name__
    return name.lower()


def _output_layer(model):
    """The leaf layer that produced the model's (single) output, through nested models."""
    outputs = model.outputs
    if len(outputs) != 1:
        raise ModelError(f"Model '{model.name}' has {len(outputs)} outputs; cam-audit explains "
                         "classifiers with exactly one output.")
    history = getattr(outputs[0], "_keras_history", None)
    layer = history[0] if history is not None else model.layers[-1]
    from audit.cams.layers import is_nested_model

    while is_nested_model(layer):
        layer = _output_layer(layer)
    return layer


def find_head(model) -> Head:
    """Inspect ``model``'s output layer. Raises ModelError for outputs that are not (N, C)."""
    shape = tuple(model.outputs[0].shape) if model.outputs else ()
    if len(shape) != 2 or shape[-1] is None:
        raise ModelError(f"Model '{model.name}' outputs shape {shape}; a classifier must output "
                         "(batch, classes) scores or probabilities.")
    layer = _output_layer(model)
    n_units = int(shape[-1])
    cls = layer.__class__.__name__
    if cls == "Softmax":
        return Head(layer, "softmax", "input", n_units)
    if cls == "Activation":
        name = _activation_name(layer.activation)
        if name in _SQUASHING:
            return Head(layer, name, "input", n_units)
        return Head(layer, "linear", "output", n_units)
    fn = getattr(layer, "activation", None)
    if fn is not None:
        name = _activation_name(fn)
        if name in _SQUASHING:
            return Head(layer, name, "preactivation", n_units)
    return Head(layer, "linear", "output", n_units)
