"""Stage ``predict`` (per batch): the model's class probabilities."""

from __future__ import annotations

from audit.pipeline.stage import stage


@stage("predict", inputs=("explainer", "batch"), outputs=("predictions",), per_batch=True)
def predict_stage(explainer, batch):
    """Logits and probabilities of one batch; a pure function of (model, batch)."""
    return explainer.predict(batch.images)
