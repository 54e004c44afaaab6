"""Combine a multi-label model's records and label scores into its summary figures.

The records (one per sample x target label x method, see :mod:`audit.stages.score`) give each
method's figures as a single-label run has them, read for label decisions: the maps of the
predicted labels (``target == "predicted"``) are all / correct (true positives) /
misclassified (false positives), the background-fixation figures count false positives, and
``true_class`` scores the maps of missed labels (false negatives). ``accuracy`` is the exact
match: the share of images whose predicted label set is their label set. There is no
per-class table and no confusion matrix: the label figures (``summary.multilabel``,
:class:`~audit.summary.MultilabelFigures`) take their place, computed from the label scores
(every image x class; :class:`~audit.metrics.multilabel.LabelScore`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from audit.analysis.aggregate import _Describer, _floats, _method_summary, sub_seed
from audit.cams.methods import METHODS
from audit.metrics.multilabel import average_precision, f1_interval, f1_score
from audit.metrics.proportions import proportion
from audit.metrics.sample_size import check_min_n
from audit.summary import SCHEMA_VERSION, Summary

__all__ = ["aggregate_multilabel", "label_figures"]


def _fixation(rows: pd.DataFrame, stats: _Describer) -> dict:
    wrong = rows[~rows["correct"].to_numpy(dtype=bool)]
    fp = wrong[wrong["target"] == "predicted"]
    fn = wrong[wrong["target"] == "true"]
    return {"false_positive": stats.proportion(_floats(fp["background_fixation"])),
            "false_negative": stats.proportion(_floats(fn["background_fixation"])),
            "errors": stats.proportion(_floats(wrong["background_fixation"]))}


def _behaviour(rows: pd.DataFrame, stats: _Describer) -> dict:
    """A label's behavioural test: the share of its true positives kept without the label's
    objects and with its objects alone, and the difference (background reliance)."""
    without_object = stats.proportion(_floats(rows["keeps_without_object"].astype(float)))
    without_background = stats.proportion(
        _floats(rows["keeps_without_background"].astype(float)))
    reliance = (None if without_object["mean"] is None else
                without_object["mean"] - without_background["mean"])
    return {"n": len(rows), "keeps_without_object": without_object,
            "keeps_without_background": without_background, "background_reliance": reliance}


def label_figures(records: pd.DataFrame, label_scores: pd.DataFrame, *, class_names: list[str],
                  seed: int, n_resamples: int = 1000, min_n: int = 10,
                  label_behaviour: pd.DataFrame | None = None) -> dict:
    """``summary.multilabel`` as a dict (see :class:`~audit.summary.MultilabelFigures`).

    Parameters
    ----------
    records : pandas.DataFrame
        The run's records (multi-label: one per sample x target label x method).
    label_scores : pandas.DataFrame
        One row per sample x class (``label_scores.csv``).
    class_names : list of str
    seed, n_resamples, min_n
        As in :func:`audit.analysis.aggregate.aggregate`; the F1 interval of label ``c`` draws
        from ``sub_seed(seed, "multilabel.<c>.f1")``.
    label_behaviour : pandas.DataFrame, optional
        The ``label_behaviour`` stage's rows; each label's ``behaviour`` is None without them.
    """
    stats = _Describer(int(seed), int(n_resamples), check_min_n(min_n))
    scores = label_scores.sort_values(["sample_id", "label_index"], kind="mergesort")
    methods = sorted(str(m) for m in records["method"].unique())
    fixating = [m for m in methods if METHODS[m].fixation]  # counter-evidence has no flag
    labels: dict[str, dict] = {}
    for index, name in enumerate(class_names):
        rows = scores[scores["label_index"] == index]
        truth = rows["truth"].to_numpy(dtype=bool)
        positive = rows["positive"].to_numpy(dtype=bool)
        tp, fp, fn = (int((truth & positive).sum()), int((~truth & positive).sum()),
                      int((truth & ~positive).sum()))
        f1 = f1_score(tp, fp, fn)
        ap = average_precision(truth, rows["probability"].to_numpy(dtype=np.float64))
        ci = (f1_interval(truth, positive, seed=sub_seed(seed, f"multilabel.{name}.f1"),
                          n_resamples=n_resamples)
              if tp + fp + fn >= stats.min_n else None)
        mine = records[records["target_index"] == index]
        fixation, energy = {}, {}
        for method in methods:
            of_method = mine[mine["method"] == method]
            if method in fixating:
                fixation[method] = _fixation(of_method, stats)
            right = of_method[of_method["correct"].to_numpy(dtype=bool)]
            defined = _floats(right["energy_in_box"])
            defined = defined[~np.isnan(defined)]
            energy[method] = float(defined.mean()) if defined.size else None
        labels[name] = {
            "threshold": float(rows["threshold"].iloc[0]) if len(rows) else 0.5,
            "n_positive": int(truth.sum()), "n_predicted": int(positive.sum()),
            "tp": tp, "fp": fp, "fn": fn,
            "precision": proportion(tp, tp + fp, min_n=stats.min_n),
            "recall": proportion(tp, tp + fn, min_n=stats.min_n),
            "f1": None if np.isnan(f1) else f1, "f1_ci": ci,
            "average_precision": None if np.isnan(ap) else ap,
            "fixation": fixation, "energy_in_box": energy,
            "behaviour": None if label_behaviour is None else _behaviour(
                label_behaviour[label_behaviour["label_index"] == index], stats),
        }
    present = [f for f in labels.values() if f["n_positive"]]

    def macro(values) -> float | None:
        defined = [v for v in values if v is not None]
        return float(np.mean(defined)) if defined else None

    by_sample = scores.assign(right=scores["truth"] == scores["positive"]).groupby(
        "sample_id", sort=True)["right"].all()
    return {
        "labels": labels,
        "macro": {"n_labels": len(present),
                  "precision": macro(f["precision"]["mean"] for f in labels.values()),
                  "recall": macro(f["recall"]["mean"] for f in present),
                  "f1": macro(f["f1"] for f in labels.values()),
                  "mean_average_precision": macro(f["average_precision"] for f in present)},
        "exact_match": stats.proportion(by_sample.to_numpy(dtype=np.float64)),
        "n_label_positive": int(scores["truth"].astype(bool).sum()),
    }


def aggregate_multilabel(records: pd.DataFrame, label_scores: pd.DataFrame, *,
                         class_names: list[str], seed: int, n_resamples: int = 1000,
                         min_n: int = 10, label_behaviour: pd.DataFrame | None = None
                         ) -> Summary:
    """The summary of a multi-label run (see the module's notes): ``n_samples``,
    ``class_names``, ``accuracy`` (exact match), ``centre_baseline``, ``methods`` and
    ``multilabel``; ``per_class`` and ``confusion_matrix`` stay empty."""
    stats = _Describer(int(seed), int(n_resamples), check_min_n(min_n))
    frame = records.sort_values(["sample_id", "method", "target", "target_index"],
                                kind="mergesort").reset_index(drop=True)
    figures = label_figures(frame, label_scores, class_names=list(class_names), seed=seed,
                            n_resamples=n_resamples, min_n=min_n,
                            label_behaviour=label_behaviour)
    exact = figures["exact_match"]
    centre = frame.drop_duplicates("sample_id", keep="first")
    methods = sorted(str(m) for m in frame["method"].unique())
    return Summary.model_validate({
        "schema_version": SCHEMA_VERSION,
        "n_samples": int(label_scores["sample_id"].nunique()),
        "class_names": list(class_names),
        "min_n": stats.min_n,
        "accuracy": exact["mean"], "accuracy_ci": exact["ci"], "correct": exact,
        "centre_baseline": stats.proportion(_floats(centre["centre_hit"])),
        "methods": {m: _method_summary(frame[frame["method"] == m], m, stats) for m in methods},
        "multilabel": figures,
    })
