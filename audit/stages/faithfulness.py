"""Stage ``faithfulness``: does each method's map rank the pixels the decision rests on first?

On a seeded subset of at most ``faithfulness.max_samples`` samples, stratified correct /
misclassified (the subset needs every prediction, so this stage runs after the stream and reads
its samples again), every method's map of the predicted class is put to two tests, and so are
two maps that know nothing of the model, a seeded random map and a centred Gaussian:

- deletion and insertion (RISE, Petsiuk et al. 2018, arXiv 1806.07421): the explained class's
  probability as the map's top pixels are replaced by a blurred substrate in ``steps`` steps,
  or restored into it; the areas under both curves;
- Average Drop and Increase in Confidence (Chattopadhay et al. 2018, arXiv 1710.11063, 4.1):
  the probability on the input multiplied by the map, against the input's.

Counter-evidence maps (negative evidence) rank the pixels that argue *against* the class; they
are not put to these tests. All perturbed inputs go through the model in fixed-shape batches;
per map the cost is ``2 (steps - 1)`` forward passes plus one for the map-weighted input (the
input's score is known, the substrate's is shared by the sample's maps).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from audit.analysis.aggregate import sub_seed
from audit.cams import CamExplainer
from audit.cams.methods import METHODS, ordered_methods
from audit.config import CamsSection, FaithfulnessSection
from audit.datasets import DatasetManifest
from audit.evidence import (
    auc,
    centre_map,
    choose_subset,
    explanation_map_input,
    ladder_batches,
    random_map,
    substrate,
)
from audit.stages.load_model import ModelInfo, require_single_label
from audit.stages.reload import classes_of, decisions, reload

__all__ = ["BASELINES", "FaithfulnessRow", "faithfulness", "map_scores"]

#: Maps that know nothing of the model, measured the same way on the same samples.
BASELINES = ("random", "centre")

#: Perturbed images per model call (a multiple of the explainer's micro-batch).
_CHUNK = 64


@dataclass(frozen=True)
class FaithfulnessRow:
    """The faithfulness scores of one map (a method's or a baseline's) of one sample."""

    sample_id: str
    correct: bool
    map: str  # a method name, "random" or "centre"
    score: float  # probability of the explained class on the input
    deletion_auc: float
    insertion_auc: float
    masked_score: float  # probability on the input multiplied by the map


def _probability(explainer: CamExplainer, images: np.ndarray, classes: np.ndarray
                 ) -> np.ndarray:
    probs = explainer.predict(np.asarray(images, np.float32)).probabilities
    return probs[np.arange(len(classes)), classes]


def map_scores(explainer: CamExplainer, images: np.ndarray, classes: np.ndarray,
               maps: np.ndarray, substrates: np.ndarray, *, steps: int,
               scores: np.ndarray, substrate_scores: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Deletion AUC, insertion AUC and the map-weighted input's score of one map per image.

    ``scores`` and ``substrate_scores`` are the explained class's probabilities on the inputs
    and on their substrates: the ends of both curves.
    """
    n = len(images)
    inner = range(1, steps)
    curves = {}
    for mode in ("deletion", "insertion"):
        table = np.empty((n, steps + 1), np.float64)
        first, last = (scores, substrate_scores) if mode == "deletion" else (
            substrate_scores, scores)
        table[:, 0], table[:, steps] = first, last
        step = max(_CHUNK, explainer.micro_batch or 1)
        for rows, batch in ladder_batches(images, maps, substrates, steps=steps, mode=mode,
                                          batch_size=step, at=inner):
            table[rows[:, 0], rows[:, 1]] = _probability(explainer, batch, classes[rows[:, 0]])
        curves[mode] = auc(table)
    weighted = np.stack([explanation_map_input(images[i], maps[i]) for i in range(n)])
    return curves["deletion"], curves["insertion"], _probability(explainer, weighted, classes)


def _baseline(name: str, shape: tuple[int, int], sample_id: str, seed: int) -> np.ndarray:
    if name == "random":
        return random_map(shape, seed=sub_seed(seed, f"faithfulness.random.{sample_id}"))
    return centre_map(shape)


def faithfulness(faithfulness: FaithfulnessSection, cams: CamsSection, seed: int,
                 records: pd.DataFrame, manifest: DatasetManifest, explainer: CamExplainer,
                 model_info: ModelInfo) -> pd.DataFrame:
    """One :class:`FaithfulnessRow` per map of each sample of the seeded subset, as a
    DataFrame (methods first, in registry order, then the baselines)."""
    require_single_label(model_info, "faithfulness")
    decided = decisions(records)
    chosen = choose_subset(decided["sample_id"].tolist(), decided["correct"].tolist(),
                           max_samples=faithfulness.max_samples, seed=seed)
    methods = [m for m in ordered_methods(cams.methods)
               if METHODS[m].kind != "counter-evidence"]
    correct = decided.set_index("sample_id")["correct"]
    rows: list[FaithfulnessRow] = []
    for batch in reload(chosen, manifest=manifest, model_info=model_info,
                        batch_size=cams.batch_size):
        if not len(batch):
            continue
        classes = classes_of(batch, decided)
        images = batch.images
        scores = _probability(explainer, images, classes)
        blanks = np.stack([substrate(image, kind=faithfulness.substrate) for image in images])
        blank_scores = _probability(explainer, blanks, classes)
        maps = dict(explainer.explain(images, classes, methods)) if methods else {}
        shape = images.shape[1:3]
        for name in BASELINES:
            maps[name] = np.stack([_baseline(name, shape, s.sample_id, seed)
                                   for s in batch.samples]).astype(np.float32)
        for name, stack in maps.items():
            deletion, insertion, masked = map_scores(
                explainer, images, classes, stack, blanks, steps=faithfulness.steps,
                scores=scores, substrate_scores=blank_scores)
            rows += [FaithfulnessRow(s.sample_id, bool(correct[s.sample_id]), name,
                                     float(scores[i]), float(deletion[i]), float(insertion[i]),
                                     float(masked[i]))
                     for i, s in enumerate(batch.samples)]
    columns = [f.name for f in FaithfulnessRow.__dataclass_fields__.values()]
    frame = pd.DataFrame([r.__dict__ for r in rows], columns=columns)
    order = {name: i for i, name in enumerate([*methods, *BASELINES])}
    return frame.sort_values(["map", "sample_id"], key=lambda c: c.map(order) if c.name == "map"
                             else c, kind="mergesort").reset_index(drop=True)

