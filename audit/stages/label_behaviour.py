"""Stage ``label_behaviour`` (per batch): a multi-label model's behavioural test, label by label.

For every label an image has, the model predicts, and whose objects have a region, the model is
run on the image with that label's objects removed and on the label's objects alone (everything
else filled, the other labels' objects included), with ``behaviour.fill``; a copy keeps the
label when its probability still reaches the label's threshold. A single-label model has no
rows (its test is the ``behaviour`` stage). The figures per label are in
``summary.multilabel.labels.<label>.behaviour`` (:func:`audit.analysis.multilabel.label_figures`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from audit.cams import CamExplainer, Predictions
from audit.config import BehaviourSection
from audit.datasets import Batch
from audit.datasets.preprocessing import to_channels
from audit.datasets.regions import label_region_at
from audit.evidence import remove_background, remove_object
from audit.metrics.multilabel import decide
from audit.stages.cost import RunShape
from audit.stages.load_model import ModelInfo

__all__ = ["LabelBehaviourRow", "label_behaviour", "label_behaviour_cost"]


@dataclass(frozen=True)
class LabelBehaviourRow:
    """One true positive label of one image, and whether the model keeps it without its
    objects and with its objects alone (``label_behaviour.csv``)."""

    sample_id: str
    image: str
    label: str
    label_index: int
    probability: float  # on the original image
    keeps_without_object: bool
    keeps_without_background: bool
    prob_without_object: float
    prob_without_background: float


def label_behaviour(behaviour: BehaviourSection, explainer: CamExplainer, batch: Batch,
                    predictions: Predictions, model_info: ModelInfo
                    ) -> list[LabelBehaviourRow]:
    """One row per true positive label with a region, in sample then class order (a pure
    function of model and batch)."""
    if not predictions.multilabel or not len(batch):
        return []
    size = tuple(batch.display.shape[1:3])
    jobs, no_object, no_background = [], [], []
    for i, sample in enumerate(batch.samples):
        for objects in sample.label_set:
            if not predictions.positive[i, objects.label]:
                continue
            region, _, kind = label_region_at(objects, batch.original_sizes[i], size)
            if not kind:
                continue
            jobs.append((i, objects))
            no_object.append(remove_object(batch.display[i], region, fill=behaviour.fill))
            no_background.append(remove_background(batch.display[i], region,
                                                   fill=behaviour.fill))
    if not jobs:
        return []
    both = np.concatenate([np.stack(no_object), np.stack(no_background)])
    images = model_info.preprocessor(to_channels(both, model_info.channels))
    logits = explainer.predict(np.asarray(images, np.float32)).logits
    probabilities, positive = decide(logits, model_info.thresholds)
    n = len(jobs)
    return [LabelBehaviourRow(
        sample_id=batch.samples[i].sample_id, image=batch.samples[i].image, label=objects.name,
        label_index=objects.label,
        probability=float(predictions.probabilities[i, objects.label]),
        keeps_without_object=bool(positive[j, objects.label]),
        keeps_without_background=bool(positive[n + j, objects.label]),
        prob_without_object=float(probabilities[j, objects.label]),
        prob_without_background=float(probabilities[n + j, objects.label]))
        for j, (i, objects) in enumerate(jobs)]


def label_behaviour_cost(shape: RunShape) -> tuple[float, str]:
    """Two edited copies per true positive label (about one label an image)."""
    return 2.0 * shape.n, "2 edited copies per true positive label (about 1 per image)"
