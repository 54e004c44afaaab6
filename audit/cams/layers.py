"""Find the layer a CAM explains, also inside nested models.

Layers are named by *path*: the names of the nested models from the outermost model down,
joined by ``/``, ending with the layer's own name (``mobilenetv2_1.00_224/out_relu``). The
outermost model's own name is not part of the path.
"""

from __future__ import annotations

from collections.abc import Iterator

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


def spatial_layers(model) -> list[tuple[str, object]]:
    """Every leaf layer whose output can be explained (4-D, spatial size above 1x1)."""
    import keras

    return [
        (path, layer)
        for path, layer in iter_layers(model)
        if not isinstance(layer, keras.layers.InputLayer) and is_spatial(output_shape(layer))
    ]


def _describe_candidates(model, limit: int = 12) -> str:
    candidates = [path for path, _ in spatial_layers(model)]
    if not candidates:
        return "The model has no layer with a spatial 4-D output."
    shown = candidates[-limit:]
    more = len(candidates) - len(shown)
    listing = ", ".join(f"'{p}'" for p in shown)
    return f"Layers that can be explained (last {len(shown)}" + (
        f" of {len(candidates)}" if more else "") + f"): {listing}."


def resolve_layer(model, layer: str | None = None) -> tuple[str, object]:
    """Return ``(path, layer)`` of the layer to explain.

    Parameters
    ----------
    model : keras.Model
    layer : str or None
        ``None`` picks the last layer whose output is 4-D with a spatial size above 1x1,
        searched through nested models. A path ``outer/inner/layer`` walks nested models; a
        bare name is also looked up anywhere in the model when it is unique.

    Raises
    ------
    ModelError
        When no layer can be explained, the name is unknown (the message lists the
        candidates), ambiguous, or names a layer without a spatial 4-D output.
    """
    if layer is None:
        found = spatial_layers(model)
        if not found:
            raise ModelError(
                f"Model '{model.name}' has no layer whose output is 4-D (batch, height, width, "
                "channels) with a spatial size above 1x1, so there is nothing a class "
                "activation map can explain.")
        return found[-1]
    if not isinstance(layer, str) or not layer.strip("/"):
        raise ModelError(f"Layer must be a layer name or path like 'outer/inner/layer'; "
                         f"received {layer!r}.")
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
        raise ModelError(f"Model '{model.name}' has no layer '{layer}'. "
                         + _describe_candidates(model))
    path, found = matches[0]
    if is_nested_model(found):
        raise ModelError(f"'{path}' is a nested model, not a layer. Name a layer inside it, "
                         f"such as '{path}/{found.layers[-1].name}'. "
                         + _describe_candidates(model))
    shape = output_shape(found)
    if not is_spatial(shape):
        raise ModelError(
            f"Layer '{path}' cannot be explained: its output shape is {shape}, but a class "
            "activation map needs a 4-D output (batch, height, width, channels) with a spatial "
            "size above 1x1. " + _describe_candidates(model))
    return path, found
