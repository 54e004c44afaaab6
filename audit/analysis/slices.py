"""Slices: the run's figures per subgroup of samples named by manifest columns.

Slicing is two steps, as in TensorFlow Model Analysis (a ``SliceKeyExtractor``, then metrics
per slice key), and no metric knows about it:

1. :func:`extract_slice_keys` reads each sample's value of the configured columns from the
   manifest (``Sample.meta``: extra CSV columns, the ``meta`` object of JSON Lines, the extra
   fields of COCO ``images`` entries). It runs before any image is read (stage ``slices``), so
   a column that is not in the manifest stops the run at once (exit code 2), naming it and the
   columns there are.
2. :func:`slice_figures` groups the audited samples by those values and computes, per slice,
   the whole run's figures with the whole run's functions (stage ``aggregate``): accuracy and
   rates with Wilson intervals, mean energy in box with a seeded bootstrap whose seed is a
   sub-seed of the run's seed and the slice key.

A slice is keyed ``"column=value"`` (``"site=A"``), a crossed slice ``"site=A,device=X"`` (in
the configured column order). A sample with no value for a column (the field is absent, empty,
or a JSON ``null``) falls in the slice ``"column=(missing)"``: it is shown, not dropped, so that
the slices of a column always add up to the run. A slice of fewer than
``metrics.min_slice_size`` samples is listed with its ``n`` and not scored. ``records.csv`` is
not changed: the values come from the manifest, by ``sample_id``.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from audit.analysis.evidence import behaviour_figures
from audit.datasets import DatasetManifest
from audit.errors import ConfigError, DatasetError
from audit.metrics.bootstrap import describe
from audit.metrics.outcomes import fixation_outcomes
from audit.metrics.proportions import describe_proportion
from audit.metrics.seeds import sub_seed
from audit.summary import BehaviourSplit, SliceFigures
from audit.summary.slices import MISSING, slice_key

__all__ = ["MISSING", "SliceKeys", "extract_slice_keys", "slice_figures", "slice_key"]


#: Formats whose per-sample fields are JSON values: a ``null`` there is no value.
_JSON_FORMATS = ("jsonl", "coco")

#: Where each manifest format keeps the per-sample fields slices are named from.
_WHERE_COLUMNS = {
    "csv": "extra columns of the CSV",
    "jsonl": "keys of each line's \"meta\" object",
    "coco": "fields of the COCO \"images\" entries besides id, file_name, width and height",
    "voc": "none: Pascal VOC annotations carry no per-sample fields",
}


@dataclass(frozen=True)
class SliceKeys:
    """Each sample's value of the columns the slices name (the ``slices`` stage's output).

    Attributes
    ----------
    slices : tuple of tuple of str
        The configured slices, each a tuple of column names.
    values : pandas.DataFrame
        Indexed by ``sample_id`` (every sample of the manifest), one column per column named
        in ``slices``; a value is the manifest's text, or None when the sample has none.
    """

    slices: tuple[tuple[str, ...], ...]
    values: pd.DataFrame


def _column_problem(column: str, present: Sequence[str], manifest: DatasetManifest) -> str:
    """Why ``column`` cannot name a slice of ``manifest``, in words."""
    if column in manifest.dropped_meta:
        return (f"column {column!r} was left out of every sample because the rows of one "
                f"image disagree on it ({manifest.dropped_meta[column]}): it describes the "
                "rows (boxes), not the image, and cannot name a slice")
    lowered = {name.lower(): name for name in present}
    guess = difflib.get_close_matches(column.lower(), list(lowered), n=1)
    hint = f" (did you mean {lowered[guess[0]]!r}?)" if guess else ""
    return f"column {column!r} is not in the manifest{hint}"


def extract_slice_keys(manifest: DatasetManifest, slices: Sequence[Sequence[str]]) -> SliceKeys:
    """Each sample's value of every column the ``slices`` name.

    Parameters
    ----------
    manifest : DatasetManifest
        The dataset; the columns are read from each sample's ``meta``.
    slices : sequence of sequence of str
        The configured slices (``slices`` in the configuration), each a list of columns.

    Returns
    -------
    SliceKeys
        Values for every sample of the manifest (not only the audited ones); a field that is
        absent, empty, or a JSON ``null`` (JSON Lines, COCO) is None.

    Raises
    ------
    ConfigError
        When a column is on no sample of the manifest (or was left out because the rows of
        one image disagree on it: ``DatasetManifest.dropped_meta``). The message names each
        such column and lists the columns the manifest has.

    Examples
    --------
    >>> from audit.datasets import DatasetManifest, Sample
    >>> samples = [Sample("a.png", "a.png", "a.png", 0, "cat", meta={"site": "A"}),
    ...            Sample("b.png", "b.png", "b.png", 0, "cat", meta={"site": ""})]
    >>> manifest = DatasetManifest(samples, [], ["cat"], "m.csv", "csv")
    >>> keys = extract_slice_keys(manifest, [["site"]])
    >>> keys.values["site"].tolist()
    ['A', None]
    >>> try:
    ...     extract_slice_keys(manifest, [["Site"]])
    ... except ConfigError as error:
    ...     print(error)  # doctest: +NORMALIZE_WHITESPACE
    slices: column 'Site' is not in the manifest (did you mean 'site'?);
    m.csv has the columns: site.
    """
    specs = tuple(tuple(columns) for columns in slices)
    columns = list(dict.fromkeys(column for spec in specs for column in spec))
    present = list(dict.fromkeys(key for sample in manifest.samples for key in sample.meta))
    problems = [_column_problem(c, present, manifest) for c in columns if c not in present]
    if problems:
        where = _WHERE_COLUMNS.get(manifest.format, "its per-sample fields")
        listed = (f"{manifest.path} has the columns: {', '.join(present)}" if present else
                  f"{manifest.path} has no per-sample columns (slices are named from the "
                  f"{where})")
        raise ConfigError(f"slices: {'; '.join(problems)}; {listed}.")
    # JSON formats keep a null as the text "null" (audit.datasets.types.Meta.from_json).
    nothing = {"", "null"} if manifest.format in _JSON_FORMATS else {""}
    values = pd.DataFrame(
        [[None if sample.meta.get(c, "") in nothing else sample.meta[c] for c in columns]
         for sample in manifest.samples],
        index=pd.Index([s.sample_id for s in manifest.samples], name="sample_id"),
        columns=columns, dtype=object)
    return SliceKeys(slices=specs, values=values)


def _value_order(values: pd.Series) -> dict[str, tuple]:
    """Sort keys for a column's values: numbers numerically when every value is a number,
    text otherwise; no value last."""
    distinct = [v for v in dict.fromkeys(values.tolist()) if v is not None]
    try:
        numbers = {v: float(v) for v in distinct}
    except ValueError:
        numbers = None
    if numbers is not None and not any(np.isnan(x) for x in numbers.values()):
        return {v: (0, numbers[v], v) for v in distinct}
    return {v: (0, 0.0, v) for v in distinct}


def _groups(values: pd.DataFrame, spec: tuple[str, ...]) -> list[tuple[tuple, np.ndarray]]:
    """The samples of each combination of values of ``spec``'s columns, in sorted order."""
    orders = {c: _value_order(values[c]) for c in spec}
    members: dict[tuple, list[int]] = {}
    for i, row in enumerate(values[list(spec)].itertuples(index=False, name=None)):
        members.setdefault(tuple(row), []).append(i)

    def order(combination: tuple) -> tuple:
        return tuple((1, 0.0, "") if v is None else orders[c][v]
                     for c, v in zip(spec, combination, strict=True))

    return [(combination, np.asarray(members[combination]))
            for combination in sorted(members, key=order)]


def _method_figures(predicted: pd.DataFrame, per_sample: np.ndarray, *, seed: int,
                    n_resamples: int, min_n: int) -> dict:
    correct = predicted["correct"].to_numpy(dtype=bool)
    floats = {c: predicted[c].to_numpy(dtype=np.float64, na_value=np.nan)
              for c in ("background_fixation", "energy_in_box", "pointing_hit")}
    return {
        "n_maps": len(predicted),
        "n_degenerate": int(predicted["degenerate"].to_numpy(dtype=bool).sum()),
        "background_fixation": describe_proportion(floats["background_fixation"][~correct],
                                                   min_n=min_n),
        "background_fixation_per_sample": describe_proportion(per_sample, min_n=min_n),
        "energy_in_box": describe(floats["energy_in_box"], seed=seed, n_resamples=n_resamples,
                                  min_n=min_n),
        "pointing_hit": describe_proportion(floats["pointing_hit"], min_n=min_n),
    }


def slice_figures(records: pd.DataFrame, keys: SliceKeys, *, seed: int, min_slice_size: int,
                  n_resamples: int = 1000, min_n: int = 10,
                  samples: pd.DataFrame | None = None) -> dict[str, SliceFigures]:
    """The figures of every slice of the audited samples.

    Parameters
    ----------
    records : pandas.DataFrame
        The run's score records (``records.csv``), as
        :func:`audit.analysis.aggregate.aggregate` takes
        them; the audited samples are those with a record.
    keys : SliceKeys
        Each sample's values (:func:`extract_slice_keys`).
    seed : int
        The run's seed. Each slice draws its bootstrap intervals from ``sub_seed(seed,
        "slices.<key>")``, and each figure of the slice from a sub-seed of that and its name,
        so a slice's figures do not change when other slices are added or dropped.
    min_slice_size : int
        ``metrics.min_slice_size``: a smaller slice is listed, not scored.
    n_resamples : int, optional
        Bootstrap resamples per interval of a mean.
    min_n : int, optional
        ``metrics.min_n``: a figure of a scored slice over fewer values has no interval.
    samples : pandas.DataFrame, optional
        The behavioural test's rows (``samples.csv``) when the pipeline ran it: each scored
        slice gets its behavioural split (background reliance).

    Returns
    -------
    dict of str to SliceFigures
        Keyed by :func:`slice_key`, slice by slice in the configured order, and within one the
        values sorted (numbers as numbers; no value last). Only combinations that occur are
        listed. Per method (the maps of the predicted class): the background-fixation rate
        among the slice's misclassified samples and per sample, the mean energy in box over
        the slice, the pointing hit rate, and the maps and degenerate maps.

    Raises
    ------
    DatasetError
        When two slices get the same key (a value that itself reads like ``(missing)`` or
        holds ``,column=``).

    Notes
    -----
    ``background_fixation_per_sample`` takes each sample's outcome from the whole run's
    records of the method (:func:`audit.analysis.aggregate.fixation_outcomes`), so that whether a
    method flags fixation is decided once, not slice by slice.
    """
    frame = records.sort_values(["sample_id", "method", "target"], kind="mergesort")
    frame = frame.reset_index(drop=True)
    samples_of_run = frame.drop_duplicates("sample_id")
    audited = pd.Index(samples_of_run["sample_id"].astype(str))
    correct = samples_of_run["correct"].to_numpy(dtype=bool)
    values = keys.values.reindex(audited).astype(object)
    values = values.where(values.notna(), None)

    # Every table as (rows, the position of each row's sample in ``audited``): a slice's rows
    # are then one boolean lookup, whatever the number of samples.
    predicted = frame[frame["target"] == "predicted"]
    by_method = {}
    for method in sorted(str(m) for m in predicted["method"].unique()):
        rows = predicted[predicted["method"] == method]
        by_method[method] = (rows, audited.get_indexer(rows["sample_id"].astype(str)),
                             fixation_outcomes(rows))
    behaviour = None
    if samples is not None and not samples.empty:
        behaviour = (samples, audited.get_indexer(samples["sample_id"].astype(str)))

    out: dict[str, SliceFigures] = {}
    for spec in keys.slices:
        for combination, members in _groups(values, spec):
            named = dict(zip(spec, combination, strict=True))
            key = slice_key(named)
            if key in out:
                raise DatasetError(
                    f"slices: two slices of {list(spec)} are both named {key!r}; a value "
                    f"reads like {MISSING!r} or holds ',column='. Rename it in the manifest.")
            entry = {"values": named, "n": len(members),
                     "scored": len(members) >= min_slice_size}
            if entry["scored"]:
                member = np.zeros(len(audited) + 1, dtype=bool)  # position -1: not audited
                member[members] = True
                entry.update(_scored(member, correct[members], by_method, behaviour,
                                     seed=sub_seed(seed, f"slices.{key}"),
                                     n_resamples=n_resamples, min_n=min_n))
            out[key] = SliceFigures.model_validate(entry)
    return out


def _scored(member: np.ndarray, correct: np.ndarray, by_method: dict, behaviour: tuple | None,
            *, seed: int, n_resamples: int, min_n: int) -> dict:
    """Accuracy, per-method figures and the behavioural split of one slice's samples
    (``member[i]``: the run's ``i``-th audited sample is in the slice)."""
    methods = {}
    for method, (rows, positions, outcomes) in by_method.items():
        inside = member[positions]
        methods[method] = _method_figures(
            rows[inside], outcomes[inside],
            seed=sub_seed(seed, f"methods.{method}.energy_in_box.all"),
            n_resamples=n_resamples, min_n=min_n)
    split = None
    if behaviour is not None:
        rows, positions = behaviour
        figures = behaviour_figures(rows[member[positions]], class_names=[], fill="",
                                    seed=seed, n_resamples=n_resamples, min_n=min_n)
        split = BehaviourSplit(n=figures.n, keeps_without_object=figures.keeps_without_object,
                               keeps_without_background=figures.keeps_without_background,
                               background_reliance=figures.background_reliance,
                               swap=figures.swap)
    return {"accuracy": describe_proportion(correct.astype(np.float64), min_n=min_n),
            "methods": methods, "behaviour": split}
