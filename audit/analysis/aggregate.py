"""Combine score records into the figures of ``summary.json``.

The combining half of a run (see DESIGN.md, "Data flow"): a pure function of the records
``records.csv`` holds, with no model and no images. A share of samples (accuracy, a fixation
rate, pointing and localisation accuracy) gets a Wilson score interval
(:mod:`audit.metrics.proportions`); a mean of a continuous score a seeded percentile
bootstrap, each statistic drawing from its own sub-seed, derived from the run's seed and the
statistic's name, so a figure does not change when others are added, dropped or computed in
another order. A figure over fewer than ``min_n`` values gets no interval and is marked
``too_few``. The records are sorted by ``(sample_id, method, target)`` first, so the row
order of ``records.csv`` (which depends on batching and resumption) does not matter either.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from audit.metrics.bootstrap import describe
from audit.metrics.outcomes import fixation_outcomes
from audit.metrics.proportions import describe_proportion, proportion
from audit.metrics.records import RECORD_COLUMNS
from audit.metrics.sample_size import DEFAULT_MIN_N, check_min_n
from audit.metrics.seeds import sub_seed
from audit.summary import SCHEMA_VERSION, Summary
from audit.validation import check_int, check_seed

__all__ = ["PROPORTION_SCORES", "SCORES", "TRUE_CLASS_SCORES", "aggregate", "fixation_outcomes",
           "sub_seed"]

#: Per-map scores summarised for every method, over all / correct / misclassified samples.
SCORES: tuple[str, ...] = ("energy_in_box", "enrichment", "pointing_hit", "loc_iou", "loc_correct")

#: The scores of :data:`SCORES` that are 0/1 outcomes: summarised as proportions.
PROPORTION_SCORES: tuple[str, ...] = ("pointing_hit", "loc_correct")

#: Scores summarised for the maps of the true class of misclassified samples.
TRUE_CLASS_SCORES: tuple[str, ...] = ("energy_in_box", "enrichment")

_TARGETS = ("predicted", "true")
_SAMPLE_COLUMNS = ("label_index", "predicted_index", "correct", "centre_hit")


def _floats(column: pd.Series) -> np.ndarray:
    return column.to_numpy(dtype=np.float64, na_value=np.nan)


def _mean_or_none(values: np.ndarray) -> float | None:
    defined = values[~np.isnan(values)]
    return float(defined.mean()) if defined.size else None


def _check_inputs(records, class_names, seed, n_resamples) -> list[str]:
    if not isinstance(records, pd.DataFrame):
        raise ValueError(f"records must be a pandas DataFrame; got {type(records).__name__}")
    missing = [c for c in RECORD_COLUMNS if c not in records.columns]
    if missing:
        raise ValueError(f"records lack the column(s) {missing}; expected {list(RECORD_COLUMNS)}")
    if isinstance(class_names, str) or not all(isinstance(c, str) for c in class_names):
        raise ValueError(f"class_names must be a list of str; got {class_names!r}")
    names = list(class_names)
    if not names:
        raise ValueError("class_names must name at least one class; got an empty list")
    if len(set(names)) != len(names):
        duplicated = sorted({c for c in names if names.count(c) > 1})
        raise ValueError(f"class_names must be unique; got {duplicated} more than once")
    check_seed(seed)
    check_int(n_resamples, "n_resamples", minimum=1)
    return names


def _check_records(frame: pd.DataFrame, n_classes: int) -> None:
    if frame.empty:
        return
    bad_target = sorted(set(frame["target"].astype(str)) - set(_TARGETS))
    if bad_target:
        raise ValueError(f"records hold target(s) {bad_target}; allowed are {list(_TARGETS)}")
    for column in ("label_index", "predicted_index"):
        values = frame[column].to_numpy()
        outside = (values < 0) | (values >= n_classes)
        if outside.any():
            raise ValueError(
                f"records hold {column} {int(values[outside][0])} (sample "
                f"{frame['sample_id'].iloc[int(np.argmax(outside))]!r}); with {n_classes} "
                f"class_names it must be in 0..{n_classes - 1}"
            )
    inconsistent = frame["correct"].to_numpy(dtype=bool) != (
        frame["label_index"].to_numpy() == frame["predicted_index"].to_numpy()
    )
    if inconsistent.any():
        row = frame.iloc[int(np.argmax(inconsistent))]
        raise ValueError(
            f"records of sample {row['sample_id']!r} say correct={bool(row['correct'])} with "
            f"label_index {int(row['label_index'])} and predicted_index "
            f"{int(row['predicted_index'])}; correct must equal predicted_index == label_index"
        )
    keys = ["sample_id", "method", "target"]
    duplicated = frame.duplicated(keys)
    if duplicated.any():
        row = frame.loc[duplicated, keys].iloc[0].tolist()
        raise ValueError(
            f"records hold {int(duplicated.sum())} duplicate row(s) for the same "
            f"(sample_id, method, target), e.g. {tuple(row)}; each map must be recorded once"
        )
    varying = frame.groupby("sample_id", sort=False)[list(_SAMPLE_COLUMNS)].nunique(dropna=False)
    varying = varying[varying.gt(1).any(axis=1)]
    if not varying.empty:
        sample = varying.index[0]
        columns = [c for c in _SAMPLE_COLUMNS if varying.loc[sample, c] > 1]
        raise ValueError(
            f"records of sample {sample!r} disagree on {columns}; these must be the same on "
            "every row of a sample"
        )


class _Describer:
    """The figures of one run: a proportion with its Wilson interval, a mean with its seeded
    bootstrap interval (sub-seeded by the statistic's name), neither judged below ``min_n``."""

    def __init__(self, seed: int, n_resamples: int, min_n: int):
        self.seed, self.n_resamples, self.min_n = seed, n_resamples, min_n

    def mean(self, values: np.ndarray, name: str) -> dict:
        return describe(values, seed=sub_seed(self.seed, name), n_resamples=self.n_resamples,
                        min_n=self.min_n)

    def proportion(self, values: np.ndarray) -> dict:
        return describe_proportion(values, min_n=self.min_n)

    def score(self, values: np.ndarray, score: str, name: str) -> dict:
        return self.proportion(values) if score in PROPORTION_SCORES else self.mean(values, name)


def _method_summary(rows: pd.DataFrame, method: str, stats: _Describer) -> dict:
    predicted = rows[rows["target"] == "predicted"]
    correct = predicted["correct"].to_numpy(dtype=bool)
    misclassified = predicted[~correct]

    fixation = stats.proportion(_floats(misclassified["background_fixation"]))
    per_sample = stats.proportion(fixation_outcomes(predicted))
    summary: dict = {
        "n_maps": len(predicted),
        "n_degenerate": int(predicted["degenerate"].to_numpy(dtype=bool).sum()),
        "background_fixation_rate": fixation["mean"],
        "background_fixation": fixation,
        "background_fixation_per_sample": per_sample,
        "pointing_accuracy": _mean_or_none(_floats(predicted["pointing_hit"])),
        "localization_accuracy": _mean_or_none(_floats(predicted["loc_correct"])),
    }
    splits = {"all": predicted, "correct": predicted[correct], "misclassified": misclassified}
    for score in SCORES:
        summary[score] = {
            split: stats.score(_floats(part[score]), score, f"methods.{method}.{score}.{split}")
            for split, part in splits.items()
        }
    true_rows = rows[(rows["target"] == "true") & ~rows["correct"].to_numpy(dtype=bool)]
    summary["true_class"] = {
        score: stats.mean(_floats(true_rows[score]), f"methods.{method}.true_class.{score}")
        for score in TRUE_CLASS_SCORES
    }
    return summary


def _class_summary(index: int, labels: np.ndarray, correct: np.ndarray,
                   predicted_rows: dict[str, pd.DataFrame], stats: _Describer) -> dict:
    """The figures of the samples of true class ``index``; fixation figures per method."""
    of_class = labels == index
    n = int(of_class.sum())
    fixation, per_sample = {}, {}
    for method, method_rows in predicted_rows.items():
        of_label = method_rows["label_index"].to_numpy() == index
        rows = method_rows[of_label]
        wrong = rows[~rows["correct"].to_numpy(dtype=bool)]
        fixation[method] = stats.proportion(_floats(wrong["background_fixation"]))
        per_sample[method] = stats.proportion(fixation_outcomes(method_rows)[of_label])
    return {
        "n": n,
        "accuracy": float(correct[of_class].mean()) if n else None,
        "correct": proportion(int(correct[of_class].sum()), n, min_n=stats.min_n),
        "n_misclassified": int((~correct[of_class]).sum()),
        "background_fixation_rate": {m: f["mean"] for m, f in fixation.items()},
        "background_fixation": fixation,
        "background_fixation_per_sample": per_sample,
    }


def aggregate(
    records: pd.DataFrame, *, class_names: list[str], seed: int, n_resamples: int = 1000,
    min_n: int = DEFAULT_MIN_N,
) -> Summary:
    """The aggregate figures of a run, as ``summary.json`` holds them.

    Parameters
    ----------
    records : pandas.DataFrame
        One row per sample x method x target, with the columns of
        :data:`~audit.metrics.records.RECORD_COLUMNS` (see
        :func:`~audit.metrics.records.records_to_frame`
        and :func:`audit.metrics.records.read_records`).
    class_names : list of str
        The model's classes in output-index order; ``label_index`` and ``predicted_index``
        index into it.
    seed : int
        Seed of the bootstrap intervals; each statistic uses :func:`sub_seed` of it.
    n_resamples : int, optional
        Number of bootstrap resamples per interval of a mean.
    min_n : int, optional
        ``metrics.min_n``: a figure over fewer defined values has no interval and is marked
        ``too_few`` (see :mod:`audit.metrics.sample_size`).

    Returns
    -------
    summary : Summary
        ``n_samples``, ``class_names``, ``min_n``, ``accuracy``, ``accuracy_ci``, ``correct``,
        ``per_class``, ``confusion_matrix``, ``centre_baseline`` and ``methods`` as described
        in ``docs/results-schema.md``; undefined figures are ``None``. The counts of skipped
        samples and clipped boxes are the ``aggregate`` stage's to add.

    Raises
    ------
    ValueError
        If an option is out of range, a column is missing, a class index is outside
        ``class_names``, ``correct``
        disagrees with the indices, a sample's rows disagree on its label, prediction or
        centre hit, a ``(sample_id, method, target)`` appears twice, or a ``target`` is
        neither ``"predicted"`` nor ``"true"``.

    Notes
    -----
    Sample-level figures (accuracy, per-class figures, the confusion matrix, the centre
    baseline) use one row per ``sample_id``. The confusion matrix has the true class in
    rows and the predicted class in columns. Method figures use the maps of the predicted
    class (``target == "predicted"``); ``true_class`` uses the maps of the true class of
    misclassified samples. ``background_fixation`` and
    ``per_class.<name>.background_fixation_rate.<method>`` count misclassified samples
    whose fixation score is defined (they have a box and a non-degenerate map);
    ``background_fixation_per_sample`` counts the same fixated errors over every sample with
    a defined enrichment (:func:`fixation_outcomes`), and is undefined for a method whose
    errors have no flag (counter-evidence). Per-class figures group samples by their *true*
    class. Methods appear in sorted order.

    Proportions (``correct``, ``centre_baseline``, the fixation figures, ``pointing_hit``,
    ``loc_correct``) carry a Wilson interval (``method: "wilson"``); means of continuous
    scores (``energy_in_box``, ``enrichment``, ``loc_iou``, ``true_class``) a seeded
    bootstrap interval (``method: "bootstrap"``).

    Examples
    --------
    >>> from audit.metrics.records import ScoreRecord, records_to_frame
    >>> def record(sample_id, label, predicted, **scores):
    ...     return ScoreRecord(
    ...         sample_id=sample_id, image=sample_id + ".png", label="ab"[label],
    ...         label_index=label, predicted="ab"[predicted], predicted_index=predicted,
    ...         correct=label == predicted, confidence=0.9, method="gradcam",
    ...         target="predicted", target_class="ab"[predicted], target_index=predicted,
    ...         n_boxes=1, **scores)
    >>> frame = records_to_frame([
    ...     record("s1", 0, 0, pointing_hit=1.0),
    ...     record("s2", 1, 0, pointing_hit=0.0, background_fixation=1.0),
    ... ])
    >>> summary = aggregate(frame, class_names=["a", "b"], seed=0)
    >>> summary.accuracy, summary.confusion_matrix.matrix
    (0.5, [[1, 0], [1, 0]])
    >>> summary.methods["gradcam"].background_fixation_rate
    1.0
    >>> fixation = summary.methods["gradcam"].background_fixation
    >>> fixation.count, fixation.n, fixation.ci, fixation.too_few
    (1, 1, None, True)
    """
    names = _check_inputs(records, class_names, seed, n_resamples)
    stats = _Describer(int(seed), int(n_resamples), check_min_n(min_n))
    _check_records(records, len(names))
    frame = records.sort_values(["sample_id", "method", "target"], kind="mergesort")
    frame = frame.reset_index(drop=True)

    samples = frame.drop_duplicates("sample_id", keep="first")
    labels = samples["label_index"].to_numpy(dtype=np.int64)
    predictions = samples["predicted_index"].to_numpy(dtype=np.int64)
    correct = samples["correct"].to_numpy(dtype=bool)

    accuracy = stats.proportion(correct.astype(np.float64))
    matrix = np.zeros((len(names), len(names)), dtype=np.int64)
    np.add.at(matrix, (labels, predictions), 1)

    methods = sorted(str(m) for m in frame["method"].unique())
    method_rows = {m: frame[frame["method"] == m] for m in methods}
    predicted_rows = {m: rows[rows["target"] == "predicted"] for m, rows in method_rows.items()}

    return Summary.model_validate({
        "schema_version": SCHEMA_VERSION,
        "n_samples": len(samples),
        "class_names": list(names),
        "min_n": stats.min_n,
        "accuracy": accuracy["mean"],
        "accuracy_ci": accuracy["ci"],
        "correct": accuracy,
        "per_class": {name: _class_summary(index, labels, correct, predicted_rows, stats)
                      for index, name in enumerate(names)},
        "confusion_matrix": {"labels": list(names), "matrix": matrix.tolist()},
        "centre_baseline": stats.proportion(_floats(samples["centre_hit"])),
        "methods": {m: _method_summary(method_rows[m], m, stats) for m in methods},
    })
