"""``cam-audit compare RUN_A RUN_B``: a production run (A) against a candidate (B).

Both runs should audit the same dataset. The comparison opens with one overall answer and the
rule it follows, then shows the key figures side by side with their change, the test of it
(McNemar's exact test or a paired bootstrap on the same samples, interval rules otherwise;
:mod:`audit.comparison`) and its assessment, and the samples whose outcome changed: fixed
(wrong in A, right in B), broken (right in A, wrong in B), newly background-fixated and no
longer fixated, from the two ``records.csv`` files. The same comparison is written as
``comparison.json`` for machines.
"""

from __future__ import annotations

import datetime as _dt
import re
import textwrap
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pandas as pd

from audit.cams.methods import ordered_methods
from audit.comparison import Comparison, compare_summaries
from audit.history.runs import load_records
from audit.io import atomic_write_json, atomic_write_text
from audit.metrics.fdr import DEFAULT_FDR
from audit.report.figures import METHODS_RULE, OVERALL_RULE, change_rows
from audit.report.format import NA, fmt_pct, fmt_time
from audit.report.methods import is_counter_evidence
from audit.report.sections.verdict import verdict_state
from audit.report.templating import render
from audit.summary import RunSummary, read_summary
from audit.version import __version__

__all__ = ["CHANGE_KINDS", "COMPARISON_JSON", "compare_runs", "load_records", "sample_changes"]

#: The name of the machine-readable comparison written beside the HTML page.
COMPARISON_JSON = "comparison.json"

#: Per-sample change kinds, in display order, with their descriptions.
CHANGE_KINDS = (
    ("fixed", "fixed", "wrong in A, right in B"),
    ("broken", "broken", "right in A, wrong in B"),
    ("newly_fixated", "newly fixated", "background fixation in B, not in A"),
    ("no_longer_fixated", "no longer fixated", "background fixation in A, not in B"),
)

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_LIST_LIMIT = 100


def _pick_method(a: pd.DataFrame, b: pd.DataFrame, a_methods: Iterable[str]) -> str | None:
    """The first method of run A (registry order, counter-evidence last) that B also has."""
    in_b = set(b["method"].astype(str))
    names = ordered_methods(list(a_methods) or a["method"].astype(str).unique())
    names.sort(key=is_counter_evidence)  # stable: the order within each group stays
    return next((m for m in names if m in in_b), None)


def sample_changes(a: pd.DataFrame, b: pd.DataFrame, method: str) -> dict:
    """Per-sample changes between the records of runs A and B for ``method``.

    Rows with ``target == "predicted"`` of ``method`` are joined on ``sample_id``. Returns
    ``n_common``, ``only_a``, ``only_b`` and, for each of :data:`CHANGE_KINDS`, a DataFrame
    with ``sample_id``, ``image``, ``label``, ``predicted_a``, ``predicted_b``,
    ``energy_a``, ``energy_b``.
    """
    columns = ["sample_id", "image", "label", "predicted", "correct", "energy_in_box",
               "background_fixation"]

    def rows(frame):
        chosen = frame[(frame["target"].astype(str) == "predicted")
                       & (frame["method"].astype(str) == method)]
        chosen = chosen[columns].copy()
        chosen["sample_id"] = chosen["sample_id"].astype(str)
        return chosen.drop_duplicates("sample_id")

    left, right = rows(a), rows(b)
    joined = left.merge(right, on="sample_id", how="inner", suffixes=("_a", "_b"))
    correct_a = joined["correct_a"].astype(bool).to_numpy()
    correct_b = joined["correct_b"].astype(bool).to_numpy()
    fixated_a = joined["background_fixation_a"].to_numpy(dtype=float, na_value=np.nan) == 1.0
    fixated_b = joined["background_fixation_b"].to_numpy(dtype=float, na_value=np.nan) == 1.0
    masks = {
        "fixed": ~correct_a & correct_b,
        "broken": correct_a & ~correct_b,
        "newly_fixated": fixated_b & ~fixated_a,
        "no_longer_fixated": fixated_a & ~fixated_b,
    }
    view = pd.DataFrame({
        "sample_id": joined["sample_id"],
        "image": joined["image_b"].astype(str),
        "label": joined["label_b"].astype(str),
        "predicted_a": joined["predicted_a"].astype(str),
        "predicted_b": joined["predicted_b"].astype(str),
        "energy_a": joined["energy_in_box_a"].astype(float),
        "energy_b": joined["energy_in_box_b"].astype(float),
    })
    result = {
        "n_common": int(len(joined)),
        "only_a": int(len(set(left["sample_id"]) - set(right["sample_id"]))),
        "only_b": int(len(set(right["sample_id"]) - set(left["sample_id"]))),
    }
    for key, mask in masks.items():
        result[key] = view[mask].sort_values("sample_id", kind="mergesort").reset_index(drop=True)
    return result


def _plain(text) -> str:
    return _CONTROL.sub("?", str(text))


def _side(summary: RunSummary, run_dir: Path, role: str) -> dict:
    provenance = summary.provenance
    state, verdict = verdict_state(summary.passed)
    return {
        "role": role,
        "dir": str(run_dir),
        "run_id": summary.run_id or provenance.run_id or run_dir.name,
        "verdict": verdict,
        "state": state,
        "finished_at": fmt_time(provenance.finished_at),
        "model": provenance.model_path or NA,
        "model_sha256": provenance.model_sha256 or NA,
        "manifest_sha256": provenance.manifest_sha256,
    }


def _table(rows: list[list[str]], right: set[int]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for index, row in enumerate(rows):
        cells = [c.rjust(w) if i in right else c.ljust(w)
                 for i, (c, w) in enumerate(zip(row, widths, strict=True))]
        lines.append("  ".join(cells).rstrip())
        if index == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


_STATUS_TEXT = {"regression": "REGRESSION", "improvement": "IMPROVED"}


def compare_runs(run_a, run_b, *, out_path=None, json_path=None) -> tuple[str, str]:
    """Compare run A (production) with run B (candidate) on the same dataset.

    Parameters
    ----------
    run_a, run_b : path
        Run folders, each with ``summary.json`` (required) and ``records.csv`` (for the paired
        tests and the per-sample changes; without it the figures are compared by interval
        rules and the page says so).
    out_path : path, optional
        Where to write the HTML page (atomically); ``comparison.json`` is written beside it.
    json_path : path, optional
        Where to write the comparison as JSON (:class:`audit.comparison.Comparison`: every
        figure with its test and assessment, and the overall answer).

    Returns
    -------
    (html, text)
        A self-contained HTML page and a plain-text table for the terminal, both opening with
        the overall answer. Both warn when the runs' manifests differ
        (``provenance.manifest_sha256``).

    Raises
    ------
    AuditError
        If a run folder has no ``summary.json`` that :func:`audit.summary.read_summary`
        reads (schema version 1, written by cam-audit 0.1, or 2).
    """

    run_a, run_b = Path(run_a), Path(run_b)
    summary_a = read_summary(run_a / "summary.json")
    summary_b = read_summary(run_b / "summary.json")
    side_a, side_b = _side(summary_a, run_a, "A, production"), _side(summary_b, run_b,
                                                                   "B, candidate")

    warnings = []
    manifest_a, manifest_b = side_a["manifest_sha256"], side_b["manifest_sha256"]
    if manifest_a and manifest_b and manifest_a != manifest_b:
        warnings.append(
            f"The runs audited different datasets: manifest SHA-256 {str(manifest_a)[:12]}… in A, "
            f"{str(manifest_b)[:12]}… in B. Figures are not directly comparable."
        )
    same_dataset = bool(manifest_a) and manifest_a == manifest_b
    if not (manifest_a and manifest_b):
        warnings.append("A run does not record its manifest's SHA-256: cannot confirm both "
                        "runs audited the same dataset.")

    records_a, records_b = load_records(run_a), load_records(run_b)
    comparison = compare_summaries(summary_a, summary_b, records_a=records_a,
                                   records_b=records_b, fdr=DEFAULT_FDR)
    figure_rows = change_rows(comparison)

    per_sample = None
    method = None
    if records_a is None or records_b is None:
        missing = [str(d / "records.csv") for d, r in ((run_a, records_a), (run_b, records_b))
                   if r is None]
        warnings.append(f"No per-sample comparison: cannot read {', '.join(missing)}.")
    elif summary_a.multilabel is not None or summary_b.multilabel is not None:
        warnings.append("No per-sample comparison: a multi-label run's records are per label, "
                        "not per sample; compare the label figures in summary.json.")
    else:
        method = _pick_method(records_a, records_b, summary_a.methods)
        if method is None:
            warnings.append("No per-sample comparison: the runs share no CAM method.")
        else:
            per_sample = sample_changes(records_a, records_b, method)

    kinds = []
    if per_sample is not None:
        for key, title, description in CHANGE_KINDS:
            frame = per_sample[key]
            kinds.append({
                "key": key, "title": title, "description": description,
                "count": len(frame),
                "rows": [{
                    "sample_id": str(r.sample_id), "image": str(r.image), "label": str(r.label),
                    "predicted_a": str(r.predicted_a), "predicted_b": str(r.predicted_b),
                    "energy_a": fmt_pct(r.energy_a, 0), "energy_b": fmt_pct(r.energy_b, 0),
                } for r in frame.head(_LIST_LIMIT).itertuples(index=False)],
                "more": max(0, len(frame) - _LIST_LIMIT),
            })

    html = render(
        "compare.html.j2",
        a=side_a, b=side_b, warnings=warnings, same_dataset=same_dataset, figures=figure_rows,
        overall=_overall_view(comparison), rule=OVERALL_RULE, tests=METHODS_RULE,
        n_regressions=len(comparison.regressions), method=method, per_sample=per_sample,
        kinds=kinds, generated=_dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        version=__version__,
    )
    text = _text(comparison, figure_rows, side_a, side_b, warnings, same_dataset, manifest_a,
                 per_sample, method, kinds)

    if out_path is not None:
        out_path = Path(out_path)
        atomic_write_text(out_path, html)
        _write_json(out_path.parent / COMPARISON_JSON, comparison, run_a, run_b)
    if json_path is not None:
        _write_json(Path(json_path), comparison, run_a, run_b)
    return html, text


def _overall_view(comparison: Comparison) -> dict:
    state = {"B is worse than A": "fail", "B is better than A": "pass", "mixed": "warn"}
    return {"answer": comparison.overall, "sentence": comparison.sentence,
            "state": state.get(comparison.overall, "info"), "paired": comparison.paired,
            "pairing": comparison.pairing}


def _write_json(path: Path, comparison: Comparison, run_a: Path, run_b: Path) -> None:
    data = comparison.model_dump(mode="json")
    data = {"run_a": str(run_a), "run_b": str(run_b), **data}
    atomic_write_json(path, data)


def _text(comparison: Comparison, figure_rows, side_a, side_b, warnings, same_dataset,
          manifest_a, per_sample, method, kinds) -> str:
    lines = ["cam-audit compare", ""]
    for side in (side_a, side_b):
        lines.append(f"{side['role']:<15} {_plain(side['run_id'])}  {side['verdict']}  "
                     f"finished {_plain(side['finished_at'])}  model "
                     f"{_plain(side['model_sha256'])[:12]}")
    if same_dataset:
        lines.append(f"Same dataset: manifest SHA-256 {_plain(manifest_a)[:12]}… in both runs.")
    for warning in warnings:
        lines.append(f"WARNING: {_plain(warning)}")
    lines += ["", f"Overall: {comparison.sentence}",
              f"Tests: {'paired' if comparison.paired else 'unpaired'} ({comparison.pairing}).",
              ""]
    table = [["method", "figure", "A", "n", "B", "n", "change", "test", "p / 95% CI of change",
              "assessment"]]
    table += [
        [(_plain(r["method"]) or "all samples") if r["first"] else "", r["label"], r["a"],
         r["n_a"], r["b"], r["n_b"], r["delta"], r["test"], r["evidence"],
         _STATUS_TEXT.get(r["status"], r["assessment"])]
        for r in figure_rows
    ]
    lines.append(_table(table, right={2, 3, 4, 5, 6}))
    lines += ["", f"{len(comparison.regressions)} regression(s), "
                  f"{len(comparison.improvements)} improvement(s).", "",
              textwrap.fill(OVERALL_RULE, 100), "", textwrap.fill(METHODS_RULE, 100)]
    if per_sample is not None:
        lines.append("")
        lines.append(f"Per-sample changes ({_plain(method)}, predicted-class maps, "
                     f"{per_sample['n_common']} samples in both; {per_sample['only_a']} only in "
                     f"A, {per_sample['only_b']} only in B):")
        lines.append(_table([["change", "samples", "meaning"]] + [
            [k["title"], str(k["count"]), k["description"]] for k in kinds], right={1}))
        for k in kinds:
            if k["rows"]:
                shown = ", ".join(_plain(r["sample_id"]) for r in k["rows"][:10])
                more = k["count"] - min(10, len(k["rows"]))
                lines.append(f"  {k['title']}: {shown}{f' (+{more} more)' if more else ''}")
    return "\n".join(lines) + "\n"
