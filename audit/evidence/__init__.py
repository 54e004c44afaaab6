"""Evidence behind a background-fixation verdict that does not rest on one explainer.

Pure building blocks, in the style of :mod:`audit.metrics` (plain functions, keyword-only
options, inputs checked first, NaN for undefined), for three kinds of evidence (see
``DESIGN.md``, "Evidence behind a verdict"):

- behaviour, explainer-free: :mod:`~audit.evidence.fills` edits the image,
  :mod:`~audit.evidence.behaviour` reads the model's decisions on the edits, and
  :mod:`~audit.evidence.agreement` compares verdicts;
- faithfulness of each CAM method: :mod:`~audit.evidence.faithfulness` (deletion and
  insertion), :mod:`~audit.evidence.confidence` (Average Drop, Increase in Confidence),
  :mod:`~audit.evidence.baselines` (random and centre maps) and
  :mod:`~audit.evidence.subset` (the samples they are measured on); deciding it against
  random: :mod:`~audit.evidence.paired` (per-image differences, their interval),
  :mod:`~audit.evidence.signed_rank` (the one-sided test), :mod:`~audit.evidence.holm`
  (across methods), :mod:`~audit.evidence.outcomes` (faithful, not faithful, undecided) and
  :mod:`~audit.evidence.sequential` (when the sampling may stop);
- sanity: :mod:`~audit.evidence.sanity` (cascading randomisation of a model copy) and
  :mod:`~audit.evidence.similarity` (Spearman, SSIM).

Nothing here runs a model: callers predict on what these functions build. Keras is only
imported by the functions of :mod:`~audit.evidence.sanity` that need it.
"""

from audit.evidence.agreement import agreement, cohens_kappa, verdict_agreement
from audit.evidence.baselines import centre_map, random_map
from audit.evidence.behaviour import (
    background_decision,
    background_reliance,
    class_probability,
    keeps,
)
from audit.evidence.confidence import (
    average_drop,
    confidence_drop,
    confidence_increase,
    explanation_map_input,
    increase_in_confidence,
)
from audit.evidence.faithfulness import (
    MODES,
    SUBSTRATES,
    auc,
    ladder_batches,
    perturbation_ladder,
    pixel_order,
    step_counts,
    substrate,
)
from audit.evidence.fills import FILLS, fill_region, remove_background, remove_object
from audit.evidence.holm import holm
from audit.evidence.outcomes import (
    OUTCOMES,
    CurveTest,
    MethodDecision,
    carry_forward,
    decide,
    decide_sequentially,
    samples_to_decide,
)
from audit.evidence.paired import mean_interval, paired_differences
from audit.evidence.sanity import (
    CascadeStep,
    cascade_groups,
    cascading_randomization,
    randomized_copy,
    reinitialize_layer,
    weighted_layers,
)
from audit.evidence.sequential import look_levels, looks
from audit.evidence.signed_rank import signed_rank_p
from audit.evidence.similarity import spearman, ssim
from audit.evidence.subset import choose_subset, stratum_quotas
from audit.evidence.swap import (
    choose_donors,
    paste_object,
    swap_background,
    swap_decision,
    tile_hole,
)

__all__ = [
    "decide_sequentially",
    "signed_rank_p",
    "samples_to_decide",
    "paired_differences",
    "mean_interval",
    "looks",
    "look_levels",
    "holm",
    "decide",
    "carry_forward",
    "FILLS",
    "MODES",
    "OUTCOMES",
    "SUBSTRATES",
    "CascadeStep",
    "CurveTest",
    "MethodDecision",
    "agreement",
    "auc",
    "average_drop",
    "background_decision",
    "background_reliance",
    "cascade_groups",
    "cascading_randomization",
    "centre_map",
    "choose_donors",
    "choose_subset",
    "class_probability",
    "cohens_kappa",
    "confidence_drop",
    "confidence_increase",
    "explanation_map_input",
    "fill_region",
    "increase_in_confidence",
    "keeps",
    "ladder_batches",
    "paste_object",
    "perturbation_ladder",
    "pixel_order",
    "random_map",
    "randomized_copy",
    "reinitialize_layer",
    "remove_background",
    "remove_object",
    "spearman",
    "ssim",
    "step_counts",
    "stratum_quotas",
    "substrate",
    "swap_background",
    "swap_decision",
    "tile_hole",
    "verdict_agreement",
    "weighted_layers",
]
