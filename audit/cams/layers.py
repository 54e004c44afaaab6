"""Find the layer a CAM explains, also inside nested models.

Layers are named by *path*: the names of the nested models from the outermost model down,
joined by ``/``, ending with the layer's own name (``mobilenetv2_1.00_224/out_relu``). The
outermost model's own name is not part of the path.

A layer can be explained when its output is 4-D ``(batch, h, w, channels)`` with ``h * w > 1``,
or ``(batch, tokens, channels)`` when its tokens form a grid (a vision transformer's; see
:mod:`audit.cams.tokens`).
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass

from audit.cams.tokens import TokenGrid, TokenLayout
from audit.errors import ModelError


def is_nested_model(layer) -> bool:
    """A nested model (Sequential, functional or subclassed ``keras.Model``)."""
    import keras

    return isinstance(layer, keras.Model)


def iter_layers(model, prefix: str = "") -> Iterator[tuple[str, object]]:
    """Yield ``(path, layer)`` for every leaf layer of ``model``, depth first, in order."""
    for layer in model.layers:
        path = f"{prefix}{layer.name}"
        if is_nested_model(layer):
            yield from iter_layers(layer, prefix=f"{path}/")
        else:
            yield path, layer


def output_shape(layer) -> tuple | None:
    """The symbolic output shape of ``layer`` (batch dimension included), or ``None``."""
    try:
        return tuple(layer.output.shape)
    except Exception:
        pass
    try:
        return tuple(layer.compute_output_shape(tuple(layer.input.shape)))
    except Exception:
        return None


def is_spatial(shape: tuple | None) -> bool:
    """True when ``shape`` is ``(batch, h, w, channels)`` with ``h * w > 1`` (or unknown)."""
    if shape is None or len(shape) != 4:
        return False
    h, w = shape[1], shape[2]
    if h is None or w is None:
        return True
    return h * w > 1


@dataclass(frozen=True)
class ExplainedLayer:
    """A layer a CAM can explain.

    Attributes
    ----------
    path : str
        Its path (see the module's docstring).
    layer : keras.layers.Layer
    tokens : TokenLayout or None
        For a token layer ``(N, tokens, C)``, how its tokens form the grid ``(N, h, w, C)``;
        ``None`` for a layer with a 4-D output.
    """

    path: str
    layer: object
    tokens: TokenLayout | None = None

    @property
    def grid(self) -> tuple:
        """``(h, w)`` of the explained activations (entries ``None`` when not static)."""
        if self.tokens is not None:
            return self.tokens.grid
        shape = output_shape(self.layer)
        return tuple(shape[1:3]) if shape is not None else (None, None)


def _token_count(shape: tuple | None) -> int | None:
    """``T`` of a ``(batch, T, C)`` shape with static ``T`` and ``C``, else ``None``."""
    if shape is None or len(shape) != 3 or shape[1] is None or shape[2] is None:
        return None
    return int(shape[1])


def explainable_layers(model, *, tokens: TokenGrid | None = None, image_size=None
                       ) -> list[ExplainedLayer]:
    """Every leaf layer a CAM can explain, in the model's order: 4-D outputs with a spatial
    size above 1x1, and ``(batch, tokens, channels)`` outputs whose tokens form a grid as
    ``tokens`` asks (inferred when ``None``; ``image_size`` ``(H, W)`` gives the aspect
    ratio)."""
    import keras

    tokens = TokenGrid() if tokens is None else tokens
    found = []
    for path, layer in iter_layers(model):
        if isinstance(layer, keras.layers.InputLayer):
            continue
        shape = output_shape(layer)
        if is_spatial(shape):
            found.append(ExplainedLayer(path, layer))
            continue
        layout = tokens.layout(_token_count(shape), image_size)
        if layout is not None:
            found.append(ExplainedLayer(path, layer, layout))
    return found


def _describe_candidates(model, limit: int = 12, *, tokens: TokenGrid | None = None,
                         image_size=None) -> str:
    candidates = [c.path for c in explainable_layers(model, tokens=tokens,
                                                     image_size=image_size)]
    if not candidates:
        return ("The model has no layer with a spatial 4-D output, nor one of (batch, tokens, "
                "channels) whose tokens form a grid.")
    shown = candidates[-limit:]
    more = len(candidates) - len(shown)
    listing = ", ".join(f"'{p}'" for p in shown)
    return f"Layers that can be explained (last {len(shown)}" + (
        f" of {len(candidates)}" if more else "") + f"): {listing}."


def _no_token_layer_fits(model, tokens: TokenGrid, image_size) -> None:
    """Raise the error of an explicit ``tokens`` that no token layer of ``model`` fits."""
    counted = [(path, _token_count(output_shape(layer))) for path, layer in iter_layers(model)]
    counted = [(path, count) for path, count in counted if count is not None]
    if not counted:
        raise ModelError(f"model.tokens is set ({tokens.describe()}), but model "
                         f"'{model.name}' has no layer whose output is (batch, tokens, "
                         "channels).")
    path, count = counted[-1]
    tokens.check(count, image_size, layer=path)


def resolve_layer(model, layer: str | None = None, *, tokens: TokenGrid | None = None,
                  image_size=None) -> ExplainedLayer:
    """The layer to explain.

    Parameters
    ----------
    model : keras.Model
    layer : str or None
        ``None`` picks the last layer a CAM can explain (:func:`explainable_layers`),
        searched through nested models. A path ``outer/inner/layer`` walks nested models; a
        bare name is also looked up anywhere in the model when it is unique.
    tokens : TokenGrid or None, keyword-only
        How ``(batch, tokens, channels)`` outputs form a grid; ``None`` infers it. When it
        gives a grid or a skip, the last token layer must fit it.
    image_size : (int, int) or None, keyword-only
        The model's input ``(H, W)``: the aspect ratio of an inferred token grid.

    Returns
    -------
    ExplainedLayer
        Its path, the layer and, for a token layer, its :class:`TokenLayout`.

    Raises
    ------
    ModelError
        When no layer can be explained, the name is unknown (the message lists the
        candidates), ambiguous, names a layer whose output is neither 4-D spatial nor tokens,
        or names a token layer whose token count does not fit ``tokens`` (with the numbers).
    """
    tokens = TokenGrid() if tokens is None else tokens
    describe = functools.partial(_describe_candidates, model, tokens=tokens,
                                 image_size=image_size)
    if layer is None:
        found = explainable_layers(model, tokens=tokens, image_size=image_size)
        if tokens.explicit and not any(c.tokens is not None for c in found):
            _no_token_layer_fits(model, tokens, image_size)
        if not found:
            raise ModelError(
                f"Model '{model.name}' has no layer whose output is 4-D (batch, height, width, "
                "channels) with a spatial size above 1x1, nor (batch, tokens, channels) with "
                "tokens that form a grid (model.tokens), so there is nothing a class "
                "activation map can explain.")
        return found[-1]
    if not isinstance(layer, str) or not layer.strip("/"):
        raise ModelError(f"Layer must be a layer name or path like 'outer/inner/layer'; "
                         f"got {layer!r}.")
    parts = layer.strip("/").split("/")
    matches: list[tuple[str, object]] = []
    current = model
    try:
        for part in parts:
            current = current.get_layer(part)
        matches = [(layer.strip("/"), current)]
    except (ValueError, AttributeError):
        matches = []
    if not matches and len(parts) == 1:
        matches = [(p, lay) for p, lay in iter_layers(model) if lay.name == parts[0]]
        if len(matches) > 1:
            paths = ", ".join(f"'{p}'" for p, _ in matches)
            raise ModelError(f"Layer name '{layer}' is ambiguous: it matches {paths}. "
                             "Give the full path.")
    if not matches:
        raise ModelError(f"Model '{model.name}' has no layer '{layer}'. " + describe())
    path, found = matches[0]
    if is_nested_model(found):
        raise ModelError(f"'{path}' is a nested model, not a layer. Name a layer inside it, "
                         f"such as '{path}/{found.layers[-1].name}'. " + describe())
    shape = output_shape(found)
    if is_spatial(shape):
        return ExplainedLayer(path, found)
    if shape is not None and len(shape) == 3:
        return ExplainedLayer(path, found, tokens.check(_token_count(shape), image_size,
                                                        layer=path))
    raise ModelError(
        f"Layer '{path}' cannot be explained: its output shape is {shape}, but a class "
        "activation map needs a 4-D output (batch, height, width, channels) with a spatial "
        "size above 1x1, or tokens (batch, tokens, channels) that form a grid. " + describe())
