"""Stage ``predict`` (per batch): the model's class probabilities."""

from __future__ import annotations

from audit.cams import CamExplainer, Predictions
from audit.datasets import Batch
from audit.stages.cost import RunShape


def predict(explainer: CamExplainer, batch: Batch) -> Predictions:
    """Logits and probabilities of one batch; a pure function of (model, batch)."""
    return explainer.predict(batch.images)


def predict_cost(shape: RunShape) -> tuple[float, str]:
    """One forward pass per image."""
    return float(shape.n), "1 per image"
