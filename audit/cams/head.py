"""The classifier's head: where the pre-softmax logits are, and how a class is scored.

A CAM explains the *logit* of the target class (DESIGN: "Score"). A model whose output layer
applies softmax or sigmoid is explained through that layer's pre-activation, which the engine
taps while tracing; the user's model object is not changed. A single-unit sigmoid model is a
two-class model: class 1 is scored with the logit ``z`` and class 0 with ``-z``.

A model with several outputs (a class head beside a box regressor or an auxiliary head) is
explained through the one output named (``model.output``, :func:`select_output`): the engine
runs a model of the same layers from the input to that output alone, so predictions,
probabilities and maps are that head's and the other outputs are not computed.
"""

from __future__ import annotations

import difflib
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
        """Number of classes: a single-unit output is a two-class (binary) model.

        >>> Head(layer=None, activation="sigmoid", tap="preactivation", n_units=1).n_classes
        2
        >>> Head(layer=None, activation="softmax", tap="input", n_units=10).n_classes
        10
        """
        return 2 if self.n_units == 1 else self.n_units

    @property
    def binary(self) -> bool:
        return self.n_units == 1

    @property
    def multilabel(self) -> bool:
        """Independent sigmoid outputs, one per class: a multi-label model."""
        return self.activation == "sigmoid" and self.n_units > 1


def _activation_name(fn) -> str:
    name = getattr(fn, "__name__", "") or fn.__class__.__name__
    return name.lower()


@dataclass(frozen=True)
class ModelOutput:
    """One output of a model, and the names it can be chosen by.

    Attributes
    ----------
    name : str
        The path of the leaf layer that produces it (``"class_probs"``, or
        ``"heads/class_probs"`` when a nested model produces it).
    aliases : tuple of str
        Other names it answers to: the key of a model built with a dict of outputs, the
        top-level layer's name when a nested model produces it.
    index : int
        Its position in ``model.outputs``.
    shape : tuple
        Its symbolic shape, batch dimension included.
    """

    name: str
    aliases: tuple[str, ...]
    index: int
    shape: tuple

    def describe(self) -> str:
        """``'cls' (also 'label'), shape (None, 3)`` for messages."""
        also = ", ".join(f"'{a}'" for a in self.aliases)
        return f"'{self.name}'" + (f" (also {also})" if also else "") + f", shape {self.shape}"


def _leaf(tensor, model, prefix: str = "") -> tuple[str, object]:
    """``(path, layer)`` of the leaf layer that produced ``tensor``, through nested models."""
    from audit.cams.layers import is_nested_model

    history = getattr(tensor, "_keras_history", None)
    if history is None:  # a model without a symbolic graph: its last layer
        layer, index = model.layers[-1], 0
    else:
        layer, index = history[0], history[2]
    if is_nested_model(layer):
        inner = layer.outputs
        if history is None and len(inner) != 1:
            raise ModelError(f"Model '{layer.name}' has {len(inner)} outputs; cam-audit "
                             "explains classifiers with exactly one output.")
        return _leaf(inner[index], layer, f"{prefix}{layer.name}/")
    return f"{prefix}{layer.name}", layer


def model_outputs(model) -> list[ModelOutput]:
    """Every output of ``model``, named as :class:`ModelOutput` says."""
    import keras

    outputs = list(model.outputs)
    keys: dict[int, str] = {}
    struct = getattr(model, "_outputs_struct", None)  # a dict of outputs keeps its keys here
    if isinstance(struct, dict):
        for path, tensor in keras.tree.flatten_with_path(struct):
            for i, out in enumerate(outputs):
                if out is tensor:
                    keys[i] = "/".join(str(part) for part in path)
    found = []
    for i, tensor in enumerate(outputs):
        name, _ = _leaf(tensor, model)
        history = getattr(tensor, "_keras_history", None)
        aliases = [keys[i]] if i in keys else []
        if history is not None and history[0].name != name:
            aliases.append(history[0].name)
        shape = tuple(tensor.shape) if getattr(tensor, "shape", None) is not None else ()
        found.append(ModelOutput(name, tuple(dict.fromkeys(aliases)), i, shape))
    return found


def _listing(outputs: list[ModelOutput]) -> str:
    return "Its outputs: " + "; ".join(o.describe() for o in outputs) + "."


def select_output(model, output: str | None = None) -> tuple[ModelOutput | None, object]:
    """The output to explain, and the network that computes it alone.

    Parameters
    ----------
    model : keras.Model
    output : str or None
        The name of one of the model's outputs (:class:`ModelOutput`: the output layer's name
        or path, or the key of a dict of outputs). ``None`` is allowed for a model with one
        output.

    Returns
    -------
    chosen : ModelOutput or None
        ``None`` when ``output`` is ``None`` and the model has one output.
    network : keras.Model
        ``model`` itself when it has one output; else a model of the same layers (same
        weights) from the input to the chosen output, so the other outputs are not computed
        and the layer search sees only the layers that lead to the chosen one.

    Raises
    ------
    ModelError
        A model with several outputs and no ``output``, or an ``output`` that names none of
        the outputs (the message lists them) or several.
    """
    outputs = model_outputs(model)
    if output is None:
        if len(outputs) != 1:
            raise ModelError(
                f"Model '{model.name}' has {len(outputs)} outputs; cam-audit explains one "
                "classification output: name it with model.output in the configuration "
                f"(CamExplainer(output=...)). {_listing(outputs)}")
        return None, model
    if not isinstance(output, str) or not output.strip("/"):
        raise ModelError(f"The output must be the name of one of the model's outputs; "
                         f"got {output!r}. {_listing(outputs)}")
    wanted = output.strip("/")
    matches = [o for o in outputs if o.name == wanted]
    matches = matches or [o for o in outputs if wanted in o.aliases]
    matches = matches or [o for o in outputs if o.name.rsplit("/", 1)[-1] == wanted]
    if len(matches) > 1:
        raise ModelError(f"Output name '{output}' is ambiguous in model '{model.name}': it "
                         f"matches {', '.join(repr(o.name) for o in matches)}. Give the full "
                         f"path. {_listing(outputs)}")
    if not matches:
        names = [n for o in outputs for n in (o.name, *o.aliases)]
        close = difflib.get_close_matches(wanted, names, n=1)
        guess = f" Did you mean '{close[0]}'?" if close else ""
        raise ModelError(f"Model '{model.name}' has no output '{output}'.{guess} "
                         f"{_listing(outputs)} Set model.output to one of them.")
    chosen = matches[0]
    if len(outputs) == 1:
        return chosen, model
    import keras

    network = keras.Model(model.inputs[0], model.outputs[chosen.index], name=model.name)
    return chosen, network


def _output_layer(model):
    """The leaf layer that produced the model's (single) output, through nested models."""
    outputs = model.outputs
    if len(outputs) != 1:
        raise ModelError(f"Model '{model.name}' has {len(outputs)} outputs; cam-audit explains "
                         "classifiers with exactly one output: name the classification output "
                         "with model.output in the configuration (CamExplainer(output=...)).")
    return _leaf(outputs[0], model)[1]


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
