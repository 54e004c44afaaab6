"""What the explainer returns: the maps of a batch (:class:`CamMaps`) and the model's output for
it (:class:`Predictions`)."""

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
