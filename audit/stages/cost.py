"""What a stage's cost depends on, for the cost estimate (``cam-audit validate``): each stage
that runs the model says, on its ``Stage`` entry (``cost=``), how many forward passes it makes
over the run, as a function of a :class:`RunShape`.

A forward pass of the model is the unit: predicting a batch costs one per image; explaining it
costs one per image too (the predictions, the activations and every target's gradients come
from the same pass; a backward pass to the explained layer is short and not counted), plus
Score-CAM's one masked pass per weighted channel per image, which serves every target.
"""

from __future__ import annotations

from dataclasses import dataclass

from audit.cams.methods import METHODS
from audit.config import AuditConfig

__all__ = ["RunShape"]


@dataclass(frozen=True)
class RunShape:
    """A run as its cost sees it.

    Attributes
    ----------
    config : AuditConfig
    n_samples : int
        Samples in the dataset (at least 1 is counted).
    layer_channels : int
        Channels of the explained layer (Score-CAM weighs one masked pass per channel).
    error_rate : float
        The expected share of misclassified samples (their true class is explained too).
    stages : frozenset of str
        The names of the pipeline's stages (a stage's cost may depend on another's presence).
    """

    config: AuditConfig
    n_samples: int
    layer_channels: int
    error_rate: float
    stages: frozenset = frozenset()

    @property
    def n(self) -> int:
        return max(1, self.n_samples)

    @property
    def map_passes(self) -> tuple[float, str]:
        """Forward passes of one map: the shared gradient pass, plus Score-CAM's."""
        kinds = {METHODS[m].kind for m in self.config.cams.methods}
        shared = 1.0 if kinds - {"perturbation"} else 0.0
        budget = self.config.cams.scorecam_channels
        channels = self.layer_channels
        k = channels if budget is None else min(channels, budget)
        masked = float(k) if "perturbation" in kinds else 0.0
        how = "one shared pass" if shared else ""
        if masked:
            how += (" + " if how else "") + f"Score-CAM {k} of {channels} channels"
        return shared + masked, how

    @property
    def shared_pass(self) -> float:
        """1.0 when a configured method uses the shared gradient pass, else 0.0."""
        kinds = {METHODS[m].kind for m in self.config.cams.methods}
        return 1.0 if kinds - {"perturbation"} else 0.0

    @property
    def per_map(self) -> float:
        return self.map_passes[0]

    @property
    def maps_per_image(self) -> float:
        return 1.0 + (self.error_rate if "true" in self.config.cams.targets else 0.0)

    @property
    def deciding_methods(self) -> list[str]:
        """The configured methods that explain the decision (not counter-evidence)."""
        return [m for m in self.config.cams.methods if METHODS[m].kind != "counter-evidence"]
