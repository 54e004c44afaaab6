"""Read the explained layer's activations and the logits during one forward pass.

Peer tools build a second ``keras.Model(inputs, [layer.output, model.output])``. That fails
with "Graph disconnected" when the layer sits inside a nested model (a ``keras.applications``
backbone inside a Sequential), because the inner layer's symbolic output belongs to the inner
model's graph. cam-audit instead *taps* the layers while the model runs: for the duration of
one trace it wraps the ``call`` of the explained layer (to record its output) and of the output
layer (to record the logits before softmax or sigmoid). Every architecture Keras can run,
nested or subclassed, works the same way, and the wrappers are removed before the trace
returns, so the user's model object is unchanged.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import keras

from audit.cams.head import Head
from audit.errors import ModelError


@dataclass
class Tapped:
    """What one forward pass recorded: per tapped layer, the outputs it made, and the logits."""

    outputs: list = field(default_factory=list)
    logits: list = field(default_factory=list)

    @property
    def activations(self) -> list:
        """The outputs of the (first) tapped layer: the explained layer."""
        return self.outputs[0]


@contextlib.contextmanager
def tap(layers, head: Head, on_activation: Callable | None = None):
    """Wrap the ``call`` of ``layers`` (one layer or a sequence) and of ``head.layer`` while
    the context is open.

    ``on_activation(tensor)`` runs on a tapped layer's output the moment it is made (the
    engine uses it to ``tape.watch`` the tensor).
    """
    layers = list(layers) if isinstance(layers, list | tuple) else [layers]
    record = Tapped(outputs=[[] for _ in layers])
    patched = []

    def install(target, wrapper):
        if "call" in vars(target):
            raise ModelError(f"Layer '{target.name}' is already being tapped; explain one batch "
                             "at a time per model.")
        target.call = wrapper
        patched.append(target)

    def recording(original_call, outputs: list):
        def layer_call(*args, **kwargs):
            out = original_call(*args, **kwargs)
            if on_activation is not None:
                on_activation(out)
            outputs.append(out)
            return out

        return layer_call

    # An explained layer's output is 4-D or (batch, tokens, channels) and the head's is
    # (batch, classes), so they are never the same layer (resolve_layer and find_head check
    # the shapes).
    head_layer = head.layer
    original_head_call = head_layer.call

    def head_call(*args, **kwargs):
        if head.tap == "input":
            logits = args[0] if args else next(iter(kwargs.values()))
            out = original_head_call(*args, **kwargs)
        elif head.tap == "preactivation":
            squash = head_layer.activation
            head_layer.activation = keras.activations.linear
            try:
                logits = original_head_call(*args, **kwargs)
            finally:
                head_layer.activation = squash
            out = squash(logits)
        else:
            out = original_head_call(*args, **kwargs)
            logits = out
        record.logits.append(logits)
        return out

    try:
        for layer, outputs in zip(layers, record.outputs, strict=True):
            install(layer, recording(layer.call, outputs))
        install(head_layer, head_call)
        with warnings.catch_warnings():
            # Keras warns when a nested functional model receives a tensor instead of a
            # one-element list; the call is correct either way.
            warnings.filterwarnings("ignore", message="The structure of `inputs`")
            yield record
    finally:
        for target in patched:
            del target.call


def single(tensors: list, what: str, name: str):
    """The one tensor recorded for ``what``; a clear error when the layer ran 0 or 2+ times."""
    if len(tensors) == 1:
        return tensors[0]
    if not tensors:
        raise ModelError(f"The {what} '{name}' did not run during the forward pass; it is not "
                         "connected to the model's output.")
    raise ModelError(f"The {what} '{name}' runs {len(tensors)} times in one forward pass (a "
                     "shared layer); choose a layer that runs once.")
