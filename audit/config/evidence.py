"""The sections of the evidence checks: ``behaviour`` (explainer-free), ``faithfulness`` and
``sanity``."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from audit.config.base import _Section
from audit.config.sections import Method


class BehaviourSection(_Section):
    """The explainer-free behavioural test: the model on images with the object removed and
    with the background removed."""

    # Gray by default: a fixed colour owes nothing to the image. The image's mean colour (and
    # a blur) is the background's own colour when the background covers most of the image,
    # so a colour-cued model keeps its decision "without" its background (reliance 0.00 on
    # the demo's background-cued model; gray: +0.45). See README, "Background swap".
    fill: Literal["mean", "gray", "black", "blur"] = Field(default="gray", description=(
        "What replaces the removed region: gray (128, the default: independent of the "
        "image), black, the image's own mean colour per channel (a poor choice: it is the "
        "background's colour when the background fills most of the image), or a strong "
        "Gaussian blur of the image."))


class FaithfulnessSection(_Section):
    """Deletion and insertion curves, Average Drop and Increase in Confidence of each method,
    against random and centre maps, on a seeded subset."""

    # Defaults sized so the default audit of a MobileNetV2-size model stays within 40x the
    # engine's predict + Grad-CAM per image (docs/benchmarks.md); README says what more buys.
    max_samples: int = Field(default=40, ge=1, le=100_000, description=(
        "The most samples the curves are measured on (seeded, stratified correct / "
        "misclassified); with sequential: true the stage stops at an earlier look (16, 32, "
        "64, ...) once every method is decided."))
    steps: int = Field(default=6, ge=2, le=1024, description=(
        "Deletion / insertion steps: 2 (steps - 1) + 1 forward passes per map; more gives "
        "finer curves (RISE's reference code takes 224 steps at 224 px)."))
    substrate: Literal["blur", "mean", "zero"] = "blur"
    random_maps: int = Field(default=4, ge=1, le=64, description=(
        "Seeded random maps per sample; each method is paired with their mean on the same "
        "image. More make the baseline per image steadier, each costing a method's passes."))
    alpha: float = Field(default=0.05, gt=0.0, lt=0.5, description=(
        "The family-wise error rate of the 'faithful' calls (Holm across the methods, "
        "spent over the looks)."))
    # 0.01 of AUC (one percentage point of the class probability, averaged along the curve):
    # far below the gaps a useful map shows on a curve (README: the demo's Grad-CAM beats
    # random by 0.1 to 0.3) and below the spread of the demo's random-against-random
    # differences from run to run, so "within the margin" means "no better than random".
    margin: float = Field(default=0.01, ge=0.0, le=1.0, description=(
        "Equivalence margin in AUC units: a method whose paired interval on a curve lies "
        "wholly below it is 'not faithful' (shown no better than random)."))
    sequential: bool = Field(default=True, description=(
        "Look at 16, 32, 64, ... samples and the cap (each at least twice the one before) "
        "and stop once every method is decided (alpha spending across the looks); false: "
        "one look at max_samples."))


class SanitySection(_Section):
    """Cascading model-parameter randomisation (Adebayo et al. 2018) on a copy of the model."""

    steps: int = Field(default=5, ge=1, le=100)
    samples: int = Field(default=8, ge=1, le=10_000, description=(
        "Samples whose maps are compared at every step (each step explains them again on a "
        "new copy of the model)."))
    max_similarity: float = Field(default=0.5, gt=-1.0, le=1.0, description=(
        "A method passes when the mean Spearman correlation of its maps after full "
        "randomisation with the original maps is below this."))


class StrategiesSection(_Section):
    """Strategy discovery: spectral relevance analysis (SpRAy, Lapuschkin et al. 2019) of each
    class's maps, needing no box (see :mod:`audit.evidence.spray`)."""

    method: Method | None = Field(default=None, description=(
        "The method whose maps are clustered; null: the first trusted method (faithful and "
        "sane on this run), else gradcam, else the first method that explains the decision."))
    map_size: int = Field(default=32, ge=4, le=128, description=(
        "Side of the small maps clustered (each map resized to map_size x map_size, kept on "
        "disk per batch as float16)."))
    max_clusters: int = Field(default=6, ge=2, le=50, description=(
        "Most strategies per class; the eigengap of the affinity graph's Laplacian picks how "
        "many up to this."))
    n_neighbors: int = Field(default=10, ge=2, le=200, description=(
        "Neighbours of each map in the k-nearest-neighbour affinity graph."))
    min_class_size: int = Field(default=20, ge=4, description=(
        "Fewest maps a class is clustered on; smaller classes are listed with their n."))
    max_maps_per_class: int = Field(default=10_000, ge=100, description=(
        "Maps of one class clustered at most (a seeded subsample); the class's other maps join "
        "the cluster whose mean map is nearest. Bounds the time and memory of a large class."))
    min_exclusive_mass: float = Field(default=0.3, gt=0.0, le=1.0, description=(
        "Off-object flag: the share of a cluster's mean map that lies where the class's other "
        "clusters do not look (where their mean map has less than a quarter of its weight)."))
    max_area: float = Field(default=0.15, gt=0.0, le=1.0, description=(
        "Off-object flag: the region the other clusters do not use is small, at most this "
        "share of the image (a tag, a watermark, not a different view of the object)."))
    alpha: float = Field(default=0.05, gt=0.0, lt=1.0, description=(
        "False discovery rate of the accuracy flags (Fisher's exact test of a cluster's "
        "accuracy against the rest of its class, Benjamini-Hochberg over every cluster)."))
