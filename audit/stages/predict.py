"""Stage ``predict`` (per batch): the model's class probabilities, and for a multi-label model
its decision on every class (:func:`audit.metrics.multilabel.decide`)."""

from __future__ import annotations

from audit.cams import CamExplainer, Predictions
from audit.datasets import Batch
from audit.metrics.multilabel import decide
from audit.stages.load_model import ModelInfo


def predict(explainer: CamExplainer, batch: Batch, model_info: ModelInfo) -> Predictions:
    """Logits and probabilities of one batch; a pure function of (model, batch). A multi-label
    model's probabilities are the sigmoids of its logits, with ``positive`` set from
    ``model.threshold``."""
    predictions = explainer.predict(batch.images)
    if not model_info.multilabel:
        return predictions
    probabilities, positive = decide(predictions.logits, model_info.thresholds)
    return Predictions(predictions.logits, probabilities, positive)
