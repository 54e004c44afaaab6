"""Stage ``aggregate``: combine all records (and the evidence stages' results, when the
pipeline has them) into the summary figures, for the whole run and for each configured
slice."""

from __future__ import annotations

import pandas as pd

from audit.analysis.aggregate import aggregate
from audit.analysis.evidence import (
    behaviour_agreement,
    behaviour_figures,
    faithfulness_figures,
    sanity_figures,
)
from audit.analysis.multilabel import aggregate_multilabel
from audit.analysis.slices import SliceKeys, slice_figures
from audit.config import BehaviourSection, MetricsSection, SanitySection
from audit.datasets import DatasetManifest
from audit.errors import ConfigError, DatasetError
from audit.pipeline import Counts
from audit.stages.faithfulness import BASELINES, FaithfulnessResult
from audit.stages.sanity import SanityResult
from audit.summary import Summary


def aggregate_stage(metrics: MetricsSection, seed: int, behaviour_params: BehaviourSection,
                    sanity_params: SanitySection, records: pd.DataFrame,
                    skipped: pd.DataFrame, manifest: DatasetManifest,
                    batch_counts: Counts, class_names: list[str], samples: pd.DataFrame | None,
                    faithfulness: FaithfulnessResult | None, sanity: SanityResult | None,
                    slice_keys: SliceKeys, label_scores: pd.DataFrame | None = None,
                    label_behaviour: pd.DataFrame | None = None) -> Summary:
    """Accuracy, per-method localisation and fixation figures with their intervals (none below
    ``metrics.min_n`` samples), the counts of what could not be audited, the evidence
    figures of the evidence stages the pipeline ran (``behaviour``, ``faithfulness``,
    ``sanity``; None when it did not), and the figures of each configured slice
    (with ``min_slice_size``; see :mod:`audit.analysis.slices`).

    The slices' values come from the ``slices`` stage (``slice_keys``), which the pipeline
    adds when its file does not name it.

    A multi-label model's run (``label_scores`` from the ``label_scores`` stage has rows) is
    combined by :func:`audit.analysis.multilabel.aggregate_multilabel`: label figures in
    ``summary.multilabel``, no per-class table or confusion matrix.

    Raises
    ------
    DatasetError
        When no sample could be audited.
    """
    multilabel = label_scores is not None and not label_scores.empty
    n_samples = int((label_scores if multilabel else records)["sample_id"].nunique())
    n_skipped = int(skipped["sample_id"].nunique())
    if n_samples == 0:
        raise DatasetError(f"No sample of '{manifest.path}' could be audited ({n_skipped} "
                           "skipped); the reasons are in the run folder's skipped.csv.")
    n_resamples = metrics.bootstrap_resamples
    if multilabel:
        _check_multilabel_inputs(samples, faithfulness, sanity, slice_keys)
        summary = aggregate_multilabel(records, label_scores, class_names=list(class_names),
                                       seed=seed, n_resamples=n_resamples, min_n=metrics.min_n,
                                       label_behaviour=label_behaviour)
    elif manifest.samples and manifest.samples[0].label_set is not None:
        raise ConfigError(_MULTILABEL_PIPELINE.format(what="the label_scores stage"))
    else:
        summary = aggregate(records, class_names=list(class_names), seed=seed,
                            n_resamples=n_resamples, min_n=metrics.min_n)
    update: dict = {
        "n_skipped": n_skipped,
        "n_boxes_clipped": manifest.n_boxes_clipped + batch_counts.get("n_boxes_clipped", 0),
        "n_duplicates": manifest.n_duplicates,
        "skipped_fraction": n_skipped / (n_skipped + n_samples),
    }
    per_method: dict[str, dict] = {m: {} for m in summary.methods}
    if samples is not None:
        update["behaviour"] = behaviour_figures(samples, class_names=list(class_names),
                                                fill=behaviour_params.fill, seed=seed,
                                                n_resamples=n_resamples, min_n=metrics.min_n)
        for method, figures in behaviour_agreement(records, samples).items():
            per_method[method]["behaviour_agreement"] = figures
    if faithfulness is not None:
        methods, baselines, run = faithfulness_figures(
            faithfulness, baselines=BASELINES, seed=seed, n_resamples=n_resamples,
            min_n=metrics.min_n)
        update["baselines"] = baselines
        update["faithfulness"] = run
        for method, figures in methods.items():
            per_method[method]["faithfulness"] = figures
    if sanity is not None:
        for method, figures in sanity_figures(
                sanity, max_similarity=sanity_params.max_similarity).items():
            per_method[method]["sanity"] = figures
    update["methods"] = {m: summary.methods[m].model_copy(update=per_method[m])
                         for m in summary.methods}
    if slice_keys.slices:
        update["min_slice_size"] = metrics.min_slice_size
        update["slices"] = slice_figures(records, slice_keys, seed=seed,
                                         min_slice_size=metrics.min_slice_size,
                                         n_resamples=n_resamples, min_n=metrics.min_n,
                                         samples=samples)
    return summary.model_copy(update=update)


_MULTILABEL_PIPELINE = (
    "a multi-label model's audit needs {what}; run the multilabel pipeline "
    "(pipeline: multilabel.yaml), which has the label_scores stage and "
    "none of behaviour, faithfulness, sanity and slices")


def _check_multilabel_inputs(samples, faithfulness, sanity, slice_keys) -> None:
    """The evidence stages and slices judge single-label decisions: refuse them for a
    multi-label run rather than report figures that mean something else."""
    given = [name for name, value in (("behaviour", samples), ("faithfulness", faithfulness),
                                      ("sanity", sanity)) if value is not None]
    if slice_keys is not None and slice_keys.slices:
        given.append("slices")
    if given:
        raise ConfigError(f"{', '.join(given)} do(es) not support multi-label models yet; "
                          + _MULTILABEL_PIPELINE.format(what="a pipeline without them"))
