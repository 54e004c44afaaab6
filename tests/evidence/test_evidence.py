"""The evidence package as a whole: its doctests, its exports, keyword-only options, no TF."""

from __future__ import annotations

import doctest
import importlib
import inspect
import os
import subprocess
import sys
from pathlib import Path

import pytest

import audit.evidence as evidence

MODULES = [
    "agreement",
    "baselines",
    "behaviour",
    "confidence",
    "faithfulness",
    "fills",
    "holm",
    "outcomes",
    "paired",
    "sanity",
    "sequential",
    "signed_rank",
    "similarity",
    "subset",
]

# Positional parameters are the data; everything else is keyword-only.
POSITIONAL = {
    "agreement": ["a", "b"],
    "auc": ["scores"],
    "average_drop": ["y", "o"],
    "background_decision": ["correct", "keeps_without_object", "keeps_without_background"],
    "background_reliance": ["keeps_without_object", "keeps_without_background"],
    "cascade_groups": ["layers"],
    "cascading_randomization": ["model"],
    "centre_map": ["shape"],
    "choose_donors": ["sample_ids", "labels"],
    "choose_subset": ["sample_ids", "correct"],
    "class_probability": ["predicted", "probabilities"],
    "cohens_kappa": ["a", "b"],
    "confidence_drop": ["y", "o"],
    "confidence_increase": ["y", "o"],
    "explanation_map_input": ["image", "saliency"],
    "paste_object": ["image", "region", "background"],
    "swap_background": ["image", "region", "donor", "donor_region"],
    "swap_decision": ["correct", "predicted_mixed_rand", "donor_class"],
    "tile_hole": ["image", "region"],
    "fill_region": ["image", "region"],
    "increase_in_confidence": ["y", "o"],
    "carry_forward": ["previous", "current"],
    "decide": ["differences"],
    "decide_sequentially": ["differences"],
    "holm": ["p_values"],
    "look_levels": ["counts"],
    "looks": ["n_max"],
    "mean_interval": ["d"],
    "paired_differences": ["method", "random"],
    "samples_to_decide": ["d_deletion", "d_insertion"],
    "signed_rank_p": ["differences"],
    "keeps": ["predicted", "scores"],
    "ladder_batches": ["images", "saliencies", "substrates"],
    "perturbation_ladder": ["image", "saliency", "substrate"],
    "pixel_order": ["saliency"],
    "random_map": ["shape"],
    "randomized_copy": ["model", "n_layers_from_top"],
    "reinitialize_layer": ["layer"],
    "remove_background": ["image", "mask"],
    "remove_object": ["image", "mask"],
    "spearman": ["a", "b"],
    "ssim": ["a", "b"],
    "step_counts": ["n_pixels"],
    "stratum_quotas": ["n_correct", "n_misclassified"],
    "substrate": ["image"],
    "verdict_agreement": ["a", "b"],
    "weighted_layers": ["model"],
}


@pytest.mark.parametrize("name", MODULES)
def test_doctests(name):
    module = importlib.import_module(f"audit.evidence.{name}")
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


def test_every_public_function_is_exported_and_documented():
    functions = {name for name in evidence.__all__ if inspect.isfunction(getattr(evidence, name))}
    assert functions == set(POSITIONAL)
    for name in functions:
        doc = inspect.getdoc(getattr(evidence, name))
        assert doc and doc.split("\n", 1)[0].endswith("."), name


@pytest.mark.parametrize("name", sorted(POSITIONAL))
def test_options_are_keyword_only(name):
    parameters = inspect.signature(getattr(evidence, name)).parameters.values()
    positional = [p.name for p in parameters if p.kind is p.POSITIONAL_OR_KEYWORD]
    others = {p.kind for p in parameters if p.kind is not p.POSITIONAL_OR_KEYWORD}
    assert positional == POSITIONAL[name]
    assert others <= {inspect.Parameter.KEYWORD_ONLY}


def test_importing_the_package_does_not_load_tensorflow():
    code = "import sys, audit.evidence; print('tensorflow' in sys.modules, 'keras' in sys.modules)"
    root = str(Path(evidence.__file__).resolve().parents[2])  # this checkout, not another
    env = {**os.environ, "PYTHONPATH": root}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env=env)
    assert out.stdout.split() == ["False", "False"]
