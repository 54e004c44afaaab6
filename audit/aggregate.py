"""Combine score records into the figures of ``summary.json``.

The combining half of a run (see DESIGN.md, "Data flow"): a pure function of the records
``records.csv`` holds, with no model and no images. Every interval is a seeded percentile
bootstrap; each statistic draws from its own sub-seed, derived from the run's seed and the
statistic's name, so a figure does not change when others are added, dropped or computed in
another order. The records are sorted by ``(sample_id, method, target)`` first, so the row
order of ``records.csv`` (which depends on batching and resumption) does not matter either.
"""

from __future__ import annotations

import zlib
from numbers import Integral

import numpy as np
import pandas as pd

from audit.metrics.bootstrap import describe
from audit.records import RECORD_COLUMNS
from audit.summary import SCHEMA_VERSION, Summary

__all__ = ["SCORES", "TRUE_CLASS_SCORES", "aggregate", "sub_seed"]

#: Per-map scores summarised for every method, over all / correct / misclassified samples.
SCORES: tuple[str, ...] = ("energy_in_box", "enrichment", "pointing_hit", "loc_iou", "loc_correct")

#: Scores summarised for the maps of the true class of misclassified samples.
TRUE_CLASS_SCORES: tuple[str, ...] = ("energy_in_box", "enrichment")

_TARGETS = ("predicted", "true")
_SAMPLE_COLUMNS = ("label_index", "predicted_index", "correct", "centre_hit")


def sub_seed(seed: int, name: str) -> int:
    """The seed of the statistic ``name``, derived from the run's ``seed``.

    ``numpy.random.SeedSequence([seed, crc32(name)])``: stable across processes and Python
    versions (unlike ``hash``), and different for every name.

    Examples
    --------
    >>> sub_seed(0, "accuracy") == sub_seed(0, "accuracy")
    True
    >>> sub_seed(0, "accuracy") == sub_seed(0, "centre_baseline")
    False
    """
    entropy = [int(seed), zlib.crc32(name.encode("utf-8"))]
    return int(np.random.SeedSequence(entropy).generate_state(1, dtype=np.uint64)[0])


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
    if isinstance(seed, bool) or not isinstance(seed, Integral) or seed < 0:
        raise ValueError(f"seed must be an integer >= 0; got {seed!r}")
    if isinstance(n_resamples, bool) or not isinstance(n_resamples, Integral) or n_resamples < 1:
        raise ValueError(f"n_resamples must be an integer >= 1; got {n_resamples!r}")
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


def _method_summary(rows: pd.DataFrame, method: str, seed: int, n_resamples: int) -> dict:
    predicted = rows[rows["target"] == "predicted"]
    correct = predicted["correct"].to_numpy(dtype=bool)
    misclassified = predicted[~correct]

    fixation = _floats(misclassified["background_fixation"])
    fixation_stat = describe(
        fixation,
        seed=sub_seed(seed, f"methods.{method}.background_fixation"),
        n_resamples=n_resamples,
    )
    summary: dict = {
        "n_maps": len(predicted),
        "n_degenerate": int(predicted["degenerate"].to_numpy(dtype=bool).sum()),
        "background_fixation_rate": fixation_stat["mean"],
        "background_fixation": {
            "n": fixation_stat["n"],
            "count": int(np.count_nonzero(fixation == 1.0)),
            "mean": fixation_stat["mean"],
            "ci": fixation_stat["ci"],
        },
        "pointing_accuracy": _mean_or_none(_floats(predicted["pointing_hit"])),
        "localization_accuracy": _mean_or_none(_floats(predicted["loc_correct"])),
    }
    splits = {"all": predicted, "correct": predicted[correct], "misclassified": misclassified}
    for score in SCORES:
        summary[score] = {
            split: describe(
                _floats(part[score]),
                seed=sub_seed(seed, f"methods.{method}.{score}.{split}"),
                n_resamples=n_resamples,
            )
            for split, part in splits.items()
        }
    true_rows = rows[(rows["target"] == "true") & ~rows["correct"].to_numpy(dtype=bool)]
    summary["true_class"] = {
        score: describe(
            _floats(true_rows[score]),
            seed=sub_seed(seed, f"methods.{method}.true_class.{score}"),
            n_resamples=n_resamples,
        )
        for score in TRUE_CLASS_SCORES
    }
    return summary


def aggregate(
    records: pd.DataFrame, *, class_names: list[str], seed: int, n_resamples: int = 1000
) -> Summary:
    """The aggregate figures of a run, as ``summary.json`` holds them.

    Parameters
    ----------
    records : pandas.DataFrame
        One row per sample x method x target, with the columns of
        :data:`audit.records.RECORD_COLUMNS` (see :func:`audit.records.records_to_frame`
        and :func:`audit.records.read_records`).
    class_names : list of str
        The model's classes in output-index order; ``label_index`` and ``predicted_index``
        index into it.
    seed : int
        Seed of the bootstrap intervals; each statistic uses :func:`sub_seed` of it.
    n_resamples : int, optional
        Number of bootstrap resamples per interval.

    Returns
    -------
    summary : Summary
        ``n_samples``, ``class_names``, ``accuracy``, ``accuracy_ci``, ``per_class``,
        ``confusion_matrix``, ``centre_baseline`` and ``methods`` as described in
        ``docs/results-schema.md``; undefined figures are ``None``. The counts of skipped
        samples and clipped boxes are the ``aggregate`` stage's to add.

    Raises
    ------
    ValueError
        If a column is missing, a class index is outside ``class_names``, ``correct``
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
    whose fixation score is defined (they have a box and a non-degenerate map); the
    per-class rate groups samples by their *true* class. Methods appear in sorted order.

    Examples
    --------
    >>> from audit.records import ScoreRecord, records_to_frame
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
    """
    names = _check_inputs(records, class_names, seed, n_resamples)
    seed = int(seed)
    n_resamples = int(n_resamples)
    _check_records(records, len(names))
    frame = records.sort_values(["sample_id", "method", "target"], kind="mergesort")
    frame = frame.reset_index(drop=True)

    samples = frame.drop_duplicates("sample_id", keep="first")
    labels = samples["label_index"].to_numpy(dtype=np.int64)
    predictions = samples["predicted_index"].to_numpy(dtype=np.int64)
    correct = samples["correct"].to_numpy(dtype=bool)

    accuracy = describe(
        correct.astype(np.float64), seed=sub_seed(seed, "accuracy"), n_resamples=n_resamples
    )
    matrix = np.zeros((len(names), len(names)), dtype=np.int64)
    np.add.at(matrix, (labels, predictions), 1)

    methods = sorted(str(m) for m in frame["method"].unique())
    method_rows = {m: frame[frame["method"] == m] for m in methods}

    misclassified_predicted = frame[
        (frame["target"] == "predicted") & ~frame["correct"].to_numpy(dtype=bool)
    ]
    per_class = {}
    for index, name in enumerate(names):
        of_class = labels == index
        n = int(of_class.sum())
        class_rows = misclassified_predicted[misclassified_predicted["label_index"] == index]
        per_class[name] = {
            "n": n,
            "accuracy": float(correct[of_class].mean()) if n else None,
            "n_misclassified": int((~correct[of_class]).sum()),
            "background_fixation_rate": {
                m: _mean_or_none(
                    _floats(class_rows.loc[class_rows["method"] == m, "background_fixation"])
                )
                for m in methods
            },
        }

    return Summary.model_validate({
        "schema_version": SCHEMA_VERSION,
        "n_samples": len(samples),
        "class_names": list(names),
        "accuracy": accuracy["mean"],
        "accuracy_ci": accuracy["ci"],
        "per_class": per_class,
        "confusion_matrix": {"labels": list(names), "matrix": matrix.tolist()},
        "centre_baseline": describe(
            _floats(samples["centre_hit"]),
            seed=sub_seed(seed, "centre_baseline"),
            n_resamples=n_resamples,
        ),
        "methods": {m: _method_summary(method_rows[m], m, seed, n_resamples) for m in methods},
    })
