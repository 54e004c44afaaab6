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

The random baseline is ``faithfulness.random_maps`` seeded maps per sample (``K``); each method
is decided by its paired differences against their mean on the same images
(:mod:`audit.evidence.outcomes`: faithful, not faithful or undecided). The samples are taken
in a seeded order and looked at after fixed counts (16, 32, 64, ... and the cap, each at
least twice the one before; :mod:`audit.evidence.sequential`); the stage stops at the first
look where every method is decided, so the rows and decisions depend only on the seed, the
configuration and the data, never on the batch size or the engine.

Counter-evidence maps (negative evidence) rank the pixels that argue *against* the class; they
are not put to these tests. All perturbed inputs, of every map of a batch together, go through
the model in fixed-shape batches;
per map the cost is ``2 (steps - 1)`` forward passes plus one for the map-weighted input (the
input's score is known, the substrate's is shared by the sample's maps).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from audit.analysis.evidence import method_differences
from audit.cams import CamExplainer
from audit.cams.methods import ordered_methods
from audit.config import CamsSection, FaithfulnessSection, MetricsSection
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
from audit.evidence.outcomes import MethodDecision, carry_forward, decide
from audit.evidence.sequential import look_levels, looks
from audit.metrics.seeds import sub_seed
from audit.stages.cost import RunShape
from audit.stages.load_model import ModelInfo, require_single_label
from audit.stages.reload import classes_of, decisions, reload

__all__ = ["BASELINES", "STOPPING_RULE", "FaithfulnessResult", "FaithfulnessRow", "faithfulness",
           "map_scores"]

#: Maps that know nothing of the model, measured the same way on the same samples.
BASELINES = ("random", "centre")

#: What provenance and the summary say about when the stage stops.
STOPPING_RULE = ("group-sequential: looks at 16, 32, 64, ... samples and the cap, each at "
                 "least twice the one before, each "
                 "spending its share of alpha (Hwang-Shih-DeCani, gamma -2, Bonferroni "
                 "across looks); stop at the first look where every method is decided")

#: Perturbed images per model call (a multiple of the explainer's micro-batch).
_CHUNK = 64


@dataclass(frozen=True)
class FaithfulnessRow:
    """The faithfulness scores of one map (a method's or a baseline's) of one sample."""

    sample_id: str
    correct: bool
    map: str  # a method name, "random" or "centre"
    replicate: int  # which of the K random maps (0 for the others)
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


def _baseline(name: str, shape: tuple[int, int], sample_id: str, seed: int,
              replicate: int = 0) -> np.ndarray:
    if name == "random":
        # Replicate 0 keeps the single random map's seed of earlier versions.
        suffix = f".{replicate}" if replicate else ""
        return random_map(shape,
                          seed=sub_seed(seed, f"faithfulness.random.{sample_id}{suffix}"))
    return centre_map(shape)


@dataclass(frozen=True)
class FaithfulnessResult:
    """What the stage found: the rows, each method's decision, and how far it sampled.

    ``looks`` are the sample counts it could look at, ``levels`` the alpha each may spend;
    it used the first ``n_used`` samples of its seeded order (a look's count) out of
    ``n_available`` (at most ``max_samples``), ``sample_ids`` in that order; ``stopped_early``
    when that is before the cap.
    """

    rows: pd.DataFrame
    decisions: dict[str, MethodDecision] = field(default_factory=dict)
    looks: tuple[int, ...] = ()
    levels: tuple[float, ...] = ()
    n_used: int = 0
    n_available: int = 0
    alpha: float = 0.05
    margin: float = 0.01
    random_maps: int = 1
    sequential: bool = True
    stopping_rule: str = STOPPING_RULE
    sample_ids: tuple[str, ...] = ()

    @property
    def stopped_early(self) -> bool:
        return self.n_used < self.n_available


def _score_batch(batch, decided, correct, methods, explainer, faithfulness, seed
                 ) -> list[FaithfulnessRow]:
    classes = classes_of(batch, decided)
    images = batch.images
    n = len(images)
    if methods:  # the input's scores come from the pass that explains it
        explained = explainer.explain_targets(images, classes[:, None], methods)
        scores = explained.predictions.probabilities[np.arange(n), classes]
        method_maps = dict(explained.target(0))
    else:
        scores, method_maps = _probability(explainer, images, classes), {}
    blanks = np.stack([substrate(image, kind=faithfulness.substrate) for image in images])
    blank_scores = _probability(explainer, blanks, classes)
    maps = [(name, 0, stack) for name, stack in method_maps.items()]
    shape = images.shape[1:3]
    for name in BASELINES:
        for replicate in range(faithfulness.random_maps if name == "random" else 1):
            maps.append((name, replicate, np.stack([
                _baseline(name, shape, s.sample_id, seed, replicate) for s in batch.samples
            ]).astype(np.float32)))
    # Every map's perturbed inputs share the model's fixed-shape batches.
    copies = len(maps)
    deletion, insertion, masked = map_scores(
        explainer, np.concatenate([images] * copies), np.tile(classes, copies),
        np.concatenate([stack for _, _, stack in maps]),
        np.concatenate([blanks] * copies), steps=faithfulness.steps,
        scores=np.tile(scores, copies), substrate_scores=np.tile(blank_scores, copies))
    rows = []
    for j, (name, replicate, _) in enumerate(maps):
        rows += [FaithfulnessRow(s.sample_id, bool(correct[s.sample_id]), name, replicate,
                                 float(scores[i]), float(deletion[j * n + i]),
                                 float(insertion[j * n + i]), float(masked[j * n + i]))
                 for i, s in enumerate(batch.samples)]
    return rows


def _frame(rows: list[FaithfulnessRow], methods: list[str]) -> pd.DataFrame:
    columns = [f.name for f in FaithfulnessRow.__dataclass_fields__.values()]
    frame = pd.DataFrame([r.__dict__ for r in rows], columns=columns)
    order = {name: i for i, name in enumerate([*methods, *BASELINES])}
    return frame.sort_values(
        ["map", "replicate", "sample_id"],
        key=lambda c: c.map(order) if c.name == "map" else c,
        kind="mergesort").reset_index(drop=True)


def faithfulness_cost(shape: RunShape) -> tuple[float, str]:
    """On the capped subset: every map (the deciding methods, the centre baseline and the
    ``K`` random maps) over the deletion and insertion ladders, plus the subset's predictions
    and maps; a sequential stage may stop at an earlier look once every method is decided."""
    settings = shape.config.faithfulness
    subset = min(settings.max_samples, shape.n)
    n_maps = len(shape.deciding_methods) + 1 + settings.random_maps
    ladder = 2 * (settings.steps - 1) + 1
    passes = subset * (n_maps * ladder + 2 + shape.per_map)
    early = ", at most" if settings.sequential else ""
    return passes, f"{subset} samples{early} x {n_maps} maps x {ladder} passes"


def faithfulness(faithfulness: FaithfulnessSection, cams: CamsSection, metrics: MetricsSection,
                 seed: int, records: pd.DataFrame, manifest: DatasetManifest,
                 explainer: CamExplainer, model_info: ModelInfo) -> FaithfulnessResult:
    """The rows (one :class:`FaithfulnessRow` per map of each sample used: methods first, in
    registry order, then the baselines, ``K`` rows per sample for the random map) and every
    method's decision at the look the stage stopped at (see the module's docstring)."""
    require_single_label(model_info, "faithfulness")
    decided = decisions(records)
    chosen = choose_subset(decided["sample_id"].tolist(), decided["correct"].tolist(),
                           max_samples=faithfulness.max_samples, seed=seed)
    # A seeded order, so that each look's samples are a random part of the subset.
    rng = np.random.default_rng(sub_seed(seed, "faithfulness.order"))
    order = [chosen[i] for i in rng.permutation(len(chosen))]
    methods = [m for m in ordered_methods(cams.methods)
               if explainer.registry[m].kind != "counter-evidence"]
    correct = decided.set_index("sample_id")["correct"]
    counts = (looks(len(order)) if faithfulness.sequential else (len(order),)) if order else ()
    levels = look_levels(counts, alpha=faithfulness.alpha) if counts else ()
    seeds = {m: sub_seed(seed, f"faithfulness.decision.{m}") for m in methods}
    rows: list[FaithfulnessRow] = []
    result: dict[str, MethodDecision] | None = None
    done = 0
    for count, level in zip(counts, levels, strict=True):
        for batch in reload(order[done:count], manifest=manifest, model_info=model_info,
                            batch_size=cams.batch_size):
            if len(batch):
                rows += _score_batch(batch, decided, correct, methods, explainer,
                                     faithfulness, seed)
        done = count
        frame = _frame(rows, methods)
        differences = {m: (method_differences(frame, m, "deletion"),
                           method_differences(frame, m, "insertion")) for m in methods}
        current = decide(differences, level=level, margin=faithfulness.margin, seeds=seeds,
                         n_resamples=metrics.bootstrap_resamples)
        result = carry_forward(result, current, n=count)
        if all(d.outcome != "undecided" for d in result.values()):
            break
    return FaithfulnessResult(
        rows=_frame(rows, methods), decisions=result or {}, looks=tuple(counts),
        levels=tuple(levels), n_used=done, n_available=len(order),
        alpha=faithfulness.alpha, margin=faithfulness.margin,
        random_maps=faithfulness.random_maps, sequential=faithfulness.sequential,
        stopping_rule=STOPPING_RULE if faithfulness.sequential else
        "fixed: one look at max_samples", sample_ids=tuple(order[:done]))
