"""Stage ``label_scores`` (per batch): a multi-label model's decision on every class of every
image, one :class:`~audit.metrics.multilabel.LabelScore` each (``label_scores.csv``).

The records hold only the labels with a map (the image's labels and the false positives);
precision, recall and average precision need every (image, class), true negatives included.
A single-label model has no rows.
"""

from __future__ import annotations

from audit.cams import Predictions
from audit.datasets import Batch
from audit.datasets.label_sets import label_matrix
from audit.metrics.multilabel import LabelScore
from audit.stages.load_model import ModelInfo


def label_scores(batch: Batch, predictions: Predictions, class_names: list[str],
                 model_info: ModelInfo) -> list[LabelScore]:
    """One row per sample x class of the batch, in sample then class order."""
    if not predictions.multilabel:
        return []
    truth = label_matrix(batch.samples, len(class_names))
    return [LabelScore(sample_id=sample.sample_id, image=sample.image, label=name,
                       label_index=c, truth=bool(truth[i, c]),
                       probability=float(predictions.probabilities[i, c]),
                       threshold=float(model_info.thresholds[c]),
                       positive=bool(predictions.positive[i, c]))
            for i, sample in enumerate(batch.samples) for c, name in enumerate(class_names)]
