"""What the explainer returns: the maps of a batch (:class:`CamMaps`), the model's output for
it (:class:`Predictions`), and both from one forward pass for several targets per image
(:class:`Explanation`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


class CamMaps(dict):
    """``method -> float32 array``, plus what a report needs to know about the maps.

    Attributes
    ----------
    degenerate : dict[str, numpy.ndarray]
        Per method, a boolean ``(N,)``: the map was all zero after the ReLU.
    layer_name : str
        The explained layer's path.
    channels : dict[str, int]
        Per method, the channels per image its map weighs (all of the layer's, or fewer for
        Score-CAM with ``scorecam_max_channels``).
    """

    def __init__(self, *args, degenerate=None, layer_name="", channels=None):
        super().__init__(*args)
        self.degenerate = degenerate or {}
        self.layer_name = layer_name
        self.channels = channels or {}

    @property
    def scorecam_channels(self) -> int | None:
        """Channels per image that Score-CAM used; ``None`` when it was not computed."""
        return self.channels.get("scorecam")


@dataclass(frozen=True)
class Predictions:
    """The model's output for a batch: logits and class probabilities ``(N, n_classes)``.

    ``positive`` is ``None`` for a single-label model; for a multi-label model it is the
    decision per class, ``bool (N, n_classes)``: the class's sigmoid probability is at or above
    its threshold (see :func:`audit.metrics.multilabel.decide`).
    """

    logits: np.ndarray
    probabilities: np.ndarray
    positive: np.ndarray | None = None

    @property
    def multilabel(self) -> bool:
        return self.positive is not None

    @property
    def predicted(self) -> np.ndarray:
        return np.argmax(self.probabilities, axis=1)

    @property
    def confidence(self) -> np.ndarray:
        return np.max(self.probabilities, axis=1)


#: A target entry meaning "the class the model predicts for this image"
#: (:meth:`CamExplainer.explain_targets`).
PREDICTED = -1
#: A target entry meaning "no map in this slot": pads a sample's shorter list of targets.
NO_TARGET = -2


@dataclass(frozen=True)
class Explanation:
    """The model's output and the maps of every target of a batch, from one forward pass.

    Attributes
    ----------
    predictions : Predictions
        Logits and probabilities ``(N, n_classes)`` of the same pass the maps come from.
    classes : numpy.ndarray, int64, shape (N, T)
        The class slot ``t`` of image ``i`` explains (``PREDICTED`` resolved to the predicted
        class); :data:`NO_TARGET` where the slot is empty.
    maps : CamMaps
        ``method -> float32 (N, T, H, W)`` (or ``(N, T, h, w)``); ``degenerate[method]`` is
        ``(N, T)``. An empty slot's maps are those of the predicted class: ignore them.
    """

    predictions: Predictions
    classes: np.ndarray
    maps: CamMaps

    @property
    def present(self) -> np.ndarray:
        """``(N, T)`` bool: the slot has a target."""
        return self.classes != NO_TARGET

    def target(self, slot: int, rows=None) -> CamMaps:
        """The maps of target slot ``slot`` for the images ``rows`` (all when ``None``), as
        ``method -> (len(rows), H, W)``."""
        rows = slice(None) if rows is None else np.asarray(rows, dtype=np.int64)
        out = CamMaps(layer_name=self.maps.layer_name, channels=dict(self.maps.channels))
        for method, stack in self.maps.items():
            out[method] = stack[rows, slot]
            out.degenerate[method] = self.maps.degenerate[method][rows, slot]
        return out
