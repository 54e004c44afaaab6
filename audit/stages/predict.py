"""Stage ``predict`` (per batch): the model's class probabilities, and for a multi-label model
its decision on every class (:func:`audit.metrics.multilabel.decide`).

A pipeline with maps gets its predictions from ``explain`` instead (the same pass as the maps);
``predict`` is for pipelines without maps."""

from __future__ import annotations

from audit.cams import CamExplainer, Predictions
from audit.datasets import Batch
from audit.metrics.multilabel import decide
from audit.stages.cost import RunShape
from audit.stages.load_model import ModelInfo


def label_decisions(predictions: Predictions, model_info: ModelInfo) -> Predictions:
    """``predictions`` as the run reads them: unchanged for a single-label model; for a
    multi-label model the sigmoids of its logits, with ``positive`` set from
    ``model.threshold``."""
    if not model_info.multilabel:
        return predictions
    probabilities, positive = decide(predictions.logits, model_info.thresholds)
    return Predictions(predictions.logits, probabilities, positive)


def predict(explainer: CamExplainer, batch: Batch, model_info: ModelInfo) -> Predictions:
    """Logits and probabilities of one batch; a pure function of (model, batch); a multi-label
    model's with its decisions (:func:`label_decisions`)."""
    return label_decisions(explainer.predict(batch.images), model_info)


def predict_cost(shape: RunShape) -> tuple[float, str]:
    """One forward pass per image."""
    return float(shape.n), "1 per image"
