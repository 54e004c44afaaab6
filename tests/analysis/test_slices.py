"""Slices: figures per subgroup named by manifest columns, worked out by hand on a small CSV
manifest with ``site`` and ``device`` columns; crossed slices, ``min_slice_size``, a missing
column (exit 2 with its message), per-slice gates and their JUnit cases, the report section."""

from __future__ import annotations

import doctest
import json
import math
import xml.etree.ElementTree as ET
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import demo_config

import audit.analysis.slices
import audit.summary.slices
from audit.analysis.aggregate import aggregate, sub_seed
from audit.analysis.gates import evaluate_gates
from audit.analysis.slices import MISSING, extract_slice_keys, slice_figures, slice_key
from audit.app.cli import main
from audit.config import (
    DatasetSection,
    GatesSection,
    MetricsSection,
    ReportSection,
    parse_config,
)
from audit.datasets import load_manifest
from audit.errors import ConfigError, ExitCode
from audit.metrics import describe, wilson_interval
from audit.metrics.records import RECORD_COLUMNS, ScoreRecord, records_to_frame
from audit.report import write_junit, write_report
from audit.report.sections.slices import MAX_UNSCORED_ROWS, slices_view
from audit.stages.aggregate import aggregate_stage
from audit.stages.gate import gate
from audit.summary import Proportion, RunSummary, SliceFigures, Summary

NAN = math.nan
CLASSES = ["cat", "dog"]
ROOT = Path(__file__).resolve().parents[2]

# Eight samples: (site, device, correct, gradcam energy in box, gradcam pointing hit).
# Boxes cover 0.4 of each image, so enrichment = energy / 0.4 and an error is fixated on the
# background when its energy is below 0.4. s8 has no site and no box.
SAMPLES = {
    "s1.png": ("A", "X", True, 0.8, 1.0),
    "s2.png": ("A", "X", False, 0.2, 0.0),   # fixated error
    "s3.png": ("A", "Y", True, 0.6, 1.0),
    "s4.png": ("A", "Y", True, 0.7, 1.0),
    "s5.png": ("B", "X", False, 0.1, 0.0),   # fixated error
    "s6.png": ("B", "Y", False, 0.6, 1.0),   # error on the object
    "s7.png": ("B", "Y", True, 0.9, 1.0),
    "s8.png": ("", "Y", True, NAN, NAN),
}
SLICES = [["site"], ["device"], ["site", "device"]]


def write_manifest(folder: Path, samples=SAMPLES) -> Path:
    rows = []
    for image, (site, device, _, energy, _) in samples.items():
        box = ("", "", "", "") if math.isnan(energy) else (0, 0, 40, 10)
        rows.append((image, "cat", *box, site, device))
    path = folder / "manifest.csv"
    pd.DataFrame(rows, columns=["image", "label", "x_min", "y_min", "x_max", "y_max", "site",
                                "device"]).to_csv(path, index=False)
    return path


@pytest.fixture
def manifest(tmp_path):
    return load_manifest("csv", write_manifest(tmp_path), class_names=CLASSES)


def _record(image, method, *, correct, energy, hit, box, fixation=True, target="predicted"):
    predicted = 0 if correct else 1
    index = predicted if target == "predicted" else 0
    enrichment = energy / 0.4
    flag = NAN
    if fixation and not correct and target == "predicted" and not math.isnan(energy):
        flag = float(enrichment < 1.0)
    return ScoreRecord(
        sample_id=image, image=image, label="cat", label_index=0, predicted=CLASSES[predicted],
        predicted_index=predicted, correct=correct, confidence=0.9, method=method,
        target=target, target_class=CLASSES[index], target_index=index,
        n_boxes=int(box), energy_in_box=energy, box_area_fraction=0.4 if box else NAN,
        enrichment=enrichment, pointing_hit=hit, background_fixation=flag,
        centre_hit=1.0 if box else NAN)


def build_records(samples=SAMPLES) -> pd.DataFrame:
    records = []
    for image, (_, _, correct, energy, hit) in samples.items():
        box = not math.isnan(energy)
        records.append(_record(image, "gradcam", correct=correct, energy=energy, hit=hit,
                               box=box))
        # Negative evidence has no fixation flag; its maps of s2 and s5 (the errors of
        # device=X) are degenerate, so that slice alone could not tell it has none.
        degenerate = image in ("s2.png", "s5.png")
        records.append(_record(image, "negative", correct=correct,
                               energy=NAN if degenerate else 1 - energy, hit=NAN, box=box,
                               fixation=False))
        if not correct:
            records.append(_record(image, "gradcam", correct=correct, energy=0.5, hit=1.0,
                                   box=box, target="true"))
    return records_to_frame(records)


def figures(records=None, manifest=None, *, min_slice_size=2, min_n=1, seed=0, samples=None):
    keys = extract_slice_keys(manifest, SLICES)
    return slice_figures(build_records() if records is None else records, keys, seed=seed,
                         min_slice_size=min_slice_size, n_resamples=200, min_n=min_n,
                         samples=samples)


# --- Keys and values -------------------------------------------------------------------------


def test_keys_in_configured_order_values_sorted_missing_last(manifest):
    result = figures(manifest=manifest)
    assert list(result) == [
        "site=A", "site=B", "site=(missing)",
        "device=X", "device=Y",
        "site=A,device=X", "site=A,device=Y", "site=B,device=X", "site=B,device=Y",
        "site=(missing),device=Y",
    ]
    assert result["site=(missing)"].values == {"site": None}
    assert result["site=A,device=Y"].values == {"site": "A", "device": "Y"}
    # The slices of one column add up to the run.
    assert sum(result[k].n for k in ("site=A", "site=B", "site=(missing)")) == len(SAMPLES)


def test_numbers_sort_as_numbers(tmp_path):
    samples = {f"s{i}.png": (site, "X", True, 0.5, 1.0)
               for i, site in enumerate(["10", "9", "2", "10", ""])}
    manifest = load_manifest("csv", write_manifest(tmp_path, samples), class_names=CLASSES)
    keys = extract_slice_keys(manifest, [["site"]])
    result = slice_figures(build_records(samples), keys, seed=0, min_slice_size=1)
    assert list(result) == ["site=2", "site=9", "site=10", "site=(missing)"]
    assert slice_key({"site": "A", "device": None}) == f"site=A,device={MISSING}"


# --- Figures, by hand --------------------------------------------------------------------------


def test_site_a_by_hand(manifest):
    site_a = figures(manifest=manifest)["site=A"]
    assert (site_a.n, site_a.scored) == (4, True)
    assert (site_a.accuracy.count, site_a.accuracy.n, site_a.accuracy.mean) == (3, 4, 0.75)
    assert site_a.accuracy.ci == pytest.approx(wilson_interval(3, 4))
    assert site_a.accuracy.method == "wilson"
    gradcam = site_a.methods["gradcam"]
    assert (gradcam.n_maps, gradcam.n_degenerate) == (4, 0)
    # Errors of site A: s2, fixated: 1 of 1.
    assert (gradcam.background_fixation.count, gradcam.background_fixation.n) == (1, 1)
    # Fixated errors per sample with a box: s2 of s1-s4.
    per_sample = gradcam.background_fixation_per_sample
    assert (per_sample.count, per_sample.n, per_sample.mean) == (1, 4, 0.25)
    assert per_sample.ci == pytest.approx(wilson_interval(1, 4))
    energy = gradcam.energy_in_box
    assert (energy.n, energy.mean, energy.method) == (4, pytest.approx(0.575), "bootstrap")
    # The interval is the bootstrap of the slice's values, from the slice's own sub-seed.
    seed = sub_seed(sub_seed(0, "slices.site=A"), "methods.gradcam.energy_in_box.all")
    assert energy.ci == pytest.approx(
        describe([0.8, 0.2, 0.6, 0.7], seed=seed, n_resamples=200)["ci"])
    assert (gradcam.pointing_hit.count, gradcam.pointing_hit.n) == (3, 4)
    assert site_a.behaviour is None  # no behaviour stage


def test_device_slices_by_hand(manifest):
    result = figures(manifest=manifest)
    x, y = result["device=X"], result["device=Y"]
    assert (x.n, x.accuracy.count) == (3, 1)
    fixation = x.methods["gradcam"].background_fixation
    assert (fixation.count, fixation.n) == (2, 2)
    assert x.methods["gradcam"].energy_in_box.mean == pytest.approx((0.8 + 0.2 + 0.1) / 3)
    # s8 has no box: counted in n and accuracy, undefined for the box figures.
    assert (y.n, y.accuracy.count) == (5, 4)
    energy = y.methods["gradcam"].energy_in_box
    assert (energy.n, energy.n_nan, energy.mean) == (4, 1, pytest.approx(0.7))
    per_sample = y.methods["gradcam"].background_fixation_per_sample
    assert (per_sample.count, per_sample.n, per_sample.n_nan) == (0, 4, 1)
    # Whether negative evidence flags fixation is decided on the whole run (it never does),
    # not on device=X, whose errors' negative maps are all degenerate.
    negative = x.methods["negative"]
    assert negative.background_fixation_per_sample.n == 0
    assert negative.energy_in_box.n == 1  # s1 only: s2 and s5 have no defined energy


def test_crossed_slice_by_hand(manifest):
    crossed = figures(manifest=manifest)["site=A,device=X"]
    assert crossed.values == {"site": "A", "device": "X"}
    assert (crossed.n, crossed.accuracy.count) == (2, 1)
    assert crossed.methods["gradcam"].energy_in_box.mean == pytest.approx(0.5)


def test_small_slices_are_listed_not_scored(manifest):
    result = figures(manifest=manifest, min_slice_size=4)
    scored = [k for k, f in result.items() if f.scored]
    assert scored == ["site=A", "device=Y"]
    small = result["site=B"]
    assert (small.n, small.scored, small.accuracy, small.methods, small.behaviour) == (
        3, False, None, {}, None)


def test_figures_below_min_n_have_no_interval(manifest):
    site_a = figures(manifest=manifest, min_n=10)["site=A"]
    assert site_a.scored and site_a.accuracy.too_few and site_a.accuracy.ci is None


def test_order_of_records_and_other_slices_do_not_matter(manifest):
    records = build_records()
    shuffled = records.sample(frac=1.0, random_state=3).reset_index(drop=True)
    assert figures(records, manifest) == figures(shuffled, manifest)
    only_site = slice_figures(records, extract_slice_keys(manifest, [["site"]]), seed=0,
                              min_slice_size=2, n_resamples=200, min_n=1)
    assert only_site["site=A"] == figures(records, manifest)["site=A"]


def test_behaviour_split_per_slice(manifest):
    samples = pd.DataFrame({
        "sample_id": list(SAMPLES),
        "label": "cat",
        "correct": [s[2] for s in SAMPLES.values()],
        "keeps_without_object": [1.0, 1.0, 0.0, 0.0, 1.0, 0.0, 0.0, NAN],
        "keeps_without_background": [0.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0, NAN],
        "background_decision": [NAN, 1.0, NAN, NAN, 1.0, 0.0, NAN, NAN],
        "predicted_without_object": "cat", "predicted_without_background": "cat",
    })
    site_a = figures(manifest=manifest, samples=samples)["site=A"]
    # keeps without object: 2 of 4; without background: 2 of 4; reliance 0.
    assert site_a.behaviour.n == 4
    assert site_a.behaviour.keeps_without_object.value == 0.5
    assert site_a.behaviour.background_reliance.value == 0.0


def test_a_key_two_slices_share_is_refused(tmp_path):
    samples = {"a.png": ("(missing)", "X", True, 0.5, 1.0), "b.png": ("", "X", True, 0.5, 1.0)}
    manifest = load_manifest("csv", write_manifest(tmp_path, samples), class_names=CLASSES)
    with pytest.raises(Exception, match=r"both named 'site=\(missing\)'"):
        slice_figures(build_records(samples), extract_slice_keys(manifest, [["site"]]), seed=0,
                      min_slice_size=1)


def test_doctests():
    for module in (audit.analysis.slices, audit.summary.slices):
        result = doctest.testmod(module)
        assert result.attempted > 0 and result.failed == 0


# --- Missing columns -----------------------------------------------------------------------------


def test_missing_column_names_it_and_the_columns_there_are(manifest):
    with pytest.raises(ConfigError) as error:
        extract_slice_keys(manifest, [["site"], ["Device"], ["scanner"]])
    assert str(error.value) == (
        f"slices: column 'Device' is not in the manifest (did you mean 'device'?); column "
        f"'scanner' is not in the manifest; {manifest.path} has the columns: site, device.")


def test_column_dropped_for_disagreeing_rows_says_so(tmp_path):
    path = tmp_path / "m.csv"
    path.write_text("image,label,x_min,y_min,x_max,y_max,note\n"
                    "a.png,cat,0,0,4,4,left\na.png,cat,4,4,8,8,right\n")
    manifest = load_manifest("csv", path, class_names=CLASSES)
    with pytest.raises(ConfigError, match=r"column 'note' was left out of every sample because "
                                          r"the rows of one image disagree on it \(image "
                                          r"'a.png' has 'note' 'left' at line 2 but 'right'"):
        extract_slice_keys(manifest, [["note"]])


def test_manifest_without_columns_says_where_they_come_from(tmp_path):
    path = tmp_path / "m.jsonl"
    path.write_text('{"image": "a.png", "label": "cat"}\n')
    manifest = load_manifest("jsonl", path, class_names=CLASSES)
    with pytest.raises(ConfigError, match=r"has no per-sample columns \(slices are named from "
                                          r"the keys of each line's \"meta\" object\)"):
        extract_slice_keys(manifest, [["site"]])


def test_jsonl_meta_and_coco_image_fields_name_columns(tmp_path):
    jsonl = tmp_path / "m.jsonl"
    jsonl.write_text('{"image": "a.png", "label": "cat", "meta": {"site": "A", "age": 41}}\n'
                     '{"image": "b.png", "label": "dog", "meta": {"age": 7}}\n'
                     '{"image": "c.png", "label": "dog", "meta": {"site": null, "age": 7.5}}\n')
    keys = extract_slice_keys(load_manifest("jsonl", jsonl, class_names=CLASSES),
                              [["site", "age"]])
    # Absent and null are no value; numbers are their JSON text.
    assert keys.values.to_dict("index") == {"a.png": {"site": "A", "age": "41"},
                                            "b.png": {"site": None, "age": "7"},
                                            "c.png": {"site": None, "age": "7.5"}}
    coco = tmp_path / "coco.json"
    coco.write_text(json.dumps({
        "images": [{"id": 1, "file_name": "a.png", "width": 10, "height": 10, "site": "A",
                    "date_captured": "2026-01-01"}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [0, 0, 5, 5]}],
        "categories": [{"id": 1, "name": "cat"}]}))
    keys = extract_slice_keys(load_manifest("coco", coco, class_names=CLASSES), [["site"]])
    assert keys.values["site"].tolist() == ["A"]
    with pytest.raises(ConfigError, match=r"'width' is not in the manifest.*columns: site, "
                                          r"date_captured"):
        extract_slice_keys(load_manifest("coco", coco, class_names=CLASSES), [["width"]])


# --- Config ---------------------------------------------------------------------------------


MINIMAL = {"model": {"path": "m.keras"}, "dataset": {"path": "d.csv"}}


def test_config_defaults_and_shorthand(tmp_path):
    config = parse_config(MINIMAL, base_dir=tmp_path)
    assert (config.slices, config.metrics.min_slice_size, config.gates.per_slice) == (
        [], 30, False)
    config = parse_config({**MINIMAL, "slices": ["site", ["site", "device"]]}, base_dir=tmp_path)
    assert config.slices == [["site"], ["site", "device"]]


@pytest.mark.parametrize("patch,message", [
    ({"slices": [[]]}, r"slices: slices\[0\] names no column.*; got \[\[\]\]"),
    ({"slices": [["site", "site"]]}, r"slices\[0\] names 'site' more than once"),
    ({"slices": [["site", "device"], ["device", "site"]]},
     r"slices\[1\] \['device', 'site'\] repeats slices\[0\]"),
    ({"slices": [[""]]}, r"slices\[0\] has an empty column name"),
    ({"gates": {"per_slice": True}}, r"gates: .*per_slice is true but the configuration names "
                                     r"no slices"),
    ({"metrics": {"min_slice_size": 0}}, r"metrics\.min_slice_size must be .*; got 0"),
])
def test_config_errors(patch, message, tmp_path):
    with pytest.raises(ConfigError, match=message):
        parse_config({**MINIMAL, **patch}, where="config.yaml", base_dir=tmp_path)


# --- The aggregate stage and summary.json ---------------------------------------------------------


def _stage(manifest, records, *, slices=SLICES, slice_keys=None, min_slice_size=2):
    # The slices stage's output, as the pipeline (which adds that stage) hands it on.
    slice_keys = slice_keys if slice_keys is not None else extract_slice_keys(manifest, slices)
    return aggregate_stage(
        MetricsSection(min_n=1, min_slice_size=min_slice_size, bootstrap_resamples=200), 0,
        parse_config(MINIMAL).behaviour, parse_config(MINIMAL).sanity, records,
        pd.DataFrame({"sample_id": [], "image": [], "reason": []}), manifest, {}, CLASSES,
        None, None, None, slice_keys)


def test_aggregate_stage_adds_slices_and_leaves_the_run_figures(manifest):
    records = build_records()
    sliced = _stage(manifest, records, slice_keys=extract_slice_keys(manifest, SLICES))
    unsliced = _stage(manifest, records, slices=[])
    assert sliced.min_slice_size == 2 and len(sliced.slices) == 10
    assert unsliced.min_slice_size is None and unsliced.slices == {}
    assert sliced.model_copy(update={"slices": {}, "min_slice_size": None}) == unsliced


def test_summary_json_round_trip_and_older_files(manifest, tmp_path):
    summary = _stage(manifest, build_records(), slice_keys=extract_slice_keys(manifest, SLICES))
    data = RunSummary.assemble(summary, gate(GatesSection(), DatasetSection(path="d.csv"),
                                             summary), RunSummary().provenance
                               ).model_dump(mode="json")
    site = data["slices"]["site=(missing)"]
    assert site == {"values": {"site": None}, "n": 1, "scored": False, "accuracy": None,
                    "methods": {}, "behaviour": None}
    assert set(data["slices"]["site=A"]["methods"]["gradcam"]) == {
        "n_maps", "n_degenerate", "background_fixation", "background_fixation_per_sample",
        "energy_in_box", "pointing_hit"}
    assert RunSummary.model_validate(data).slices == summary.slices
    older = {k: v for k, v in data.items() if k not in ("slices", "min_slice_size")}
    assert RunSummary.model_validate(older).slices == {}


# --- Gates ------------------------------------------------------------------------------------


def test_per_slice_gates_names_reasons_and_order(manifest):
    summary = _stage(manifest, build_records(), min_slice_size=4)
    gates = GatesSection(min_accuracy=0.7, max_background_fixation_rate=0.5, per_slice=True)
    result = evaluate_gates(summary, gates)
    assert list(result) == [
        "min_accuracy", "max_background_fixation_rate[gradcam]",
        "min_accuracy[site=A]", "max_background_fixation_rate[gradcam][site=A]",
        "min_accuracy[device=Y]", "max_background_fixation_rate[gradcam][device=Y]",
    ]  # scored slices only (n >= 4); negative evidence is never gated
    site_a = result["min_accuracy[site=A]"]
    assert (site_a.value, site_a.n, site_a.passed, site_a.outcome) == (0.75, 4, True, "pass")
    assert site_a.reason == "slice site=A: accuracy 0.750 is at or above the minimum 0.700"
    fixated = result["max_background_fixation_rate[gradcam][site=A]"]
    assert (fixated.value, fixated.n, fixated.passed) == (1.0, 1, False)
    assert result["max_background_fixation_rate[gradcam][device=Y]"].value == 0.0
    # Off by default: the whole run's gates only.
    assert list(evaluate_gates(summary, gates.model_copy(update={"per_slice": False}))) == [
        "min_accuracy", "max_background_fixation_rate[gradcam]"]


def test_every_gate_applies_to_a_slice(manifest):
    summary = _stage(manifest, build_records(), min_slice_size=4)
    gates = GatesSection(min_accuracy=0.7, max_background_fixation_rate=0.5,
                         min_pointing_accuracy=0.5, min_energy_in_box=0.5,
                         max_degenerate_fraction=0.1, max_background_reliance=0.2,
                         per_slice=True)
    result = evaluate_gates(summary, gates)
    whole = [n for n in result if "[site=A]" not in n and "[device=Y]" not in n]
    assert [n for n in result if n.endswith("[site=A]")] == [f"{n}[site=A]" for n in whole]
    energy = result["min_energy_in_box[gradcam][device=Y]"]
    assert (energy.value, energy.n) == (pytest.approx(0.7), 4)
    assert result["min_pointing_accuracy[gradcam][site=A]"].value == 0.75
    assert result["max_degenerate_fraction[gradcam][site=A]"].value == 0.0
    # The pipeline had no behaviour stage: the gate fails on the run and on each slice.
    assert not result["max_background_reliance[site=A]"].passed


def test_slice_view_keeps_the_runs_trust_and_refuses_small_slices(manifest):
    summary = _stage(manifest, build_records(), min_slice_size=4)
    view = summary.slice_view("site=A")
    assert isinstance(view, Summary) and view.n_samples == 4 and view.accuracy == 0.75
    assert view.correct == summary.slices["site=A"].accuracy
    with pytest.raises(KeyError, match="too few samples"):
        summary.slice_view("site=B")
    with pytest.raises(KeyError, match="no slice"):
        summary.slice_view("site=C")


def test_gate_stage_fails_on_a_slice_and_junit_has_a_case_each(manifest, tmp_path):
    summary = _stage(manifest, build_records(), min_slice_size=4)
    # Accuracy: the run 5 of 8, site=A 3 of 4, device=Y 4 of 5. Each slice on its own
    # (report.fdr null): the false-discovery-rate control is the next test's.
    verdict = gate(GatesSection(min_accuracy=0.78, per_slice=True),
                   DatasetSection(path="d.csv"), summary, report=ReportSection(fdr=None))
    assert [n for n, g in verdict.gates.items() if not g.passed] == [
        "min_accuracy", "min_accuracy[site=A]"]
    assert verdict.exit_code == ExitCode.GATE_FAILED
    final = RunSummary.assemble(summary, verdict, RunSummary().provenance)
    cases = ET.parse(write_junit(tmp_path, final)).getroot().iter("testcase")
    names = {c.get("name"): c.find("failure") is not None for c in cases}
    assert names == {"min_accuracy": True, "min_accuracy[site=A]": True,
                     "min_accuracy[device=Y]": False}


def test_slice_gates_control_the_false_discovery_rate(manifest):
    summary = _stage(manifest, build_records(), min_slice_size=4)
    verdict = gate(GatesSection(min_accuracy=0.78, per_slice=True),
                   DatasetSection(path="d.csv"), summary)  # report.fdr: 0.05
    site_a = verdict.gates["min_accuracy[site=A]"]
    # 3 of 4 below 0.78 is no evidence: P(X <= 3 | 4, 0.78) = 1 - 0.78**4 = 0.63; with
    # device=Y's P(X <= 4 | 5, 0.78) = 1 - 0.78**5 = 0.711, BH adjusts 0.63 to 0.711.
    assert site_a.passed and site_a.outcome == "pass"
    assert site_a.p_value == pytest.approx(1 - 0.78 ** 4)
    assert site_a.p_adjusted == pytest.approx(1 - 0.78 ** 5)
    assert "false-discovery rate across the 2 per-slice gates" in site_a.reason
    assert not verdict.gates["min_accuracy"].passed  # the whole run's gate is not adjusted
    assert verdict.gates["min_accuracy"].p_value is None


def test_whole_run_figures_unchanged_by_slicing(manifest):
    records = build_records()
    run = aggregate(records, class_names=CLASSES, seed=0, n_resamples=200, min_n=1)
    sliced = _stage(manifest, records)
    assert sliced.correct == run.correct and sliced.methods == run.methods
    assert run.slices == {} and run.min_slice_size is None


# --- Report -----------------------------------------------------------------------------------


def _run_summary(manifest, **kwargs) -> RunSummary:
    summary = _stage(manifest, build_records(), **kwargs)
    verdict = gate(GatesSection(min_accuracy=0.78, per_slice=True),
                   DatasetSection(path="d.csv"), summary)
    return RunSummary.assemble(summary, verdict, RunSummary().provenance)


def test_slices_view(manifest):
    view = slices_view(_run_summary(manifest, min_slice_size=4), ["gradcam", "negative"])
    assert view["configured"] and (view["n_slices"], view["n_scored"]) == ("10", "2")
    assert view["min_slice_size"] == "4"
    assert view["methods"] == [{"name": "gradcam", "title": "Grad-CAM"}]  # no counter-evidence
    assert view["whole"]["accuracy"]["value"] == "62.5%"
    rows = {r["key"]: r for r in view["rows"]}
    assert list(rows)[:3] == ["site=A", "site=B", "site=(missing)"]
    assert [r["group"] for r in view["rows"][:4]] == [True, False, False, True]
    site_a = rows["site=A"]
    assert (site_a["n"], site_a["scored"], site_a["accuracy"]["value"]) == ("4", True, "75.0%")
    assert site_a["accuracy"]["count"] == "3 of 4" and site_a["accuracy"]["ci"]
    fixation = site_a["cells"][0]["fixation"]
    assert (fixation["value"], fixation["count"]) == ("100.0%", "1 of 1")
    assert site_a["cells"][0]["energy"]["value"] == "57.5%"
    assert rows["site=B"]["scored"] is False
    assert view["plot"].startswith("data:image/png;base64,")
    assert view["plot_method"] == "Grad-CAM"


def test_slices_view_flags_a_worse_slice_and_caps_small_ones():
    from audit.summary import SliceMethodFigures

    def share(count, n):
        low, high = wilson_interval(count, n)
        return Proportion(n=n, count=count, mean=count / n, ci=(low, high), method="wilson")

    slices = {"site=bad": SliceFigures(values={"site": "bad"}, n=100, scored=True,
                                       accuracy=share(50, 100),
                                       methods={"gradcam": SliceMethodFigures(
                                           background_fixation=share(45, 50))})}
    slices.update({f"site={i}": SliceFigures(values={"site": str(i)}, n=1)
                   for i in range(MAX_UNSCORED_ROWS + 5)})
    summary = RunSummary(n_samples=1000, accuracy=0.9, correct=share(900, 1000),
                         methods={"gradcam": {"background_fixation": share(50, 100)}},
                         min_slice_size=30, slices=slices)
    view = slices_view(summary, ["gradcam"])
    bad = view["rows"][0]
    assert bad["accuracy"]["worse"] and bad["cells"][0]["fixation"]["worse"]
    assert not bad["cells"][0]["energy"]["worse"]  # undefined
    assert len(view["rows"]) == 1 + MAX_UNSCORED_ROWS and view["more_unscored"] == 5
    unsliced = slices_view(RunSummary(), ["gradcam"])
    assert not unsliced["configured"] and unsliced["plot"] is None


def test_report_has_the_slices_table(manifest, tmp_path):
    summary = _run_summary(manifest, min_slice_size=4)
    config = parse_config({**MINIMAL, "slices": SLICES, "metrics": {"min_slice_size": 4}})
    path = write_report(tmp_path, summary=summary, records=build_records(),
                        skipped=pd.DataFrame(columns=["sample_id", "image", "reason"]),
                        gallery=[], config=config)
    text = path.read_text()
    section = text[text.index('<section id="slices">'):text.index('<section id="agreement">')]
    assert '<a href="#slices">6 Slices</a>' in text
    for expected in ("<code>site=A</code>", "<code>site=(missing)</code>",
                     "<code>site=A</code>,<wbr><code>device=X</code>", "too few samples (n &lt; 4",
                     "3 of 4", "whole run", 'alt="Accuracy and Grad-CAM background fixation'):
        assert expected in section, expected
    assert "min_accuracy[site=A]" in text  # the per-slice gate in the verdict table
    unsliced = write_report(tmp_path / "plain", summary=_run_summary(manifest, slices=[]),
                            records=build_records(), gallery=[],
                            skipped=pd.DataFrame(columns=["sample_id", "image", "reason"]),
                            config=parse_config(MINIMAL)).read_text()
    assert "No slices configured" in unsliced


# --- Through the command line ---------------------------------------------------------------


def _demo_with_site(demo, tmp_path) -> Path:
    """A copy of the small demo's manifest with a site and a device column (images stay)."""
    frame = pd.read_csv(demo.audit_manifest)
    frame["site"] = ["B" if i % 3 == 0 else "A" for i in range(len(frame))]
    frame["device"] = ["" if i % 5 == 0 else "X" if i % 2 else "Y" for i in range(len(frame))]
    path = tmp_path / "manifest.csv"
    frame.to_csv(path, index=False)
    return path


def _cli_config(demo, tmp_path, **extra) -> Path:
    data = demo_config(demo, tmp_path, pipeline=str(ROOT / "pipelines" / "quick.yaml"),
                       dataset={"path": str(_demo_with_site(demo, tmp_path)),
                                "images_root": str(Path(demo.audit_manifest).parent)},
                       **extra)
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_cli_missing_column_exits_2_before_any_image(capsys, tmp_path, demo_small_biased):
    config = _cli_config(demo_small_biased, tmp_path, slices=[["site"], ["scanner", "Device"]])
    code = main(["run", str(config), "--out", str(tmp_path / "run"), "--quiet"])
    err = capsys.readouterr().err
    assert code == ExitCode.BAD_INPUT
    assert err == (
        f"cam-audit: error: slices: column 'scanner' is not in the manifest; column 'Device' "
        f"is not in the manifest (did you mean 'device'?); {tmp_path / 'manifest.csv'} has the "
        f"columns: site, device.\n")
    assert not (tmp_path / "run" / "records.csv").exists()  # stopped before the stream
    assert json.loads((tmp_path / "run" / "status.json").read_text())["status"] == "failed"


def test_cli_run_with_slices_end_to_end(capsys, tmp_path, demo_small_biased):
    config = _cli_config(demo_small_biased, tmp_path, slices=[["site"], ["site", "device"]],
                         metrics={"min_slice_size": 10},
                         gates={"min_accuracy": 0.0, "per_slice": True})
    run = tmp_path / "run"
    code = main(["run", str(config), "--out", str(run), "--limit", "40", "--quiet"])
    assert code == ExitCode.PASSED, capsys.readouterr().err
    summary = json.loads((run / "summary.json").read_text())
    slices = summary["slices"]
    # Of the first 40 samples, every third is site B (14) and the rest site A (26).
    assert (slices["site=A"]["n"], slices["site=B"]["n"]) == (26, 14)
    assert summary["min_slice_size"] == 10
    assert slices["site=A"]["scored"] and slices["site=A"]["accuracy"]["method"] == "wilson"
    assert set(slices["site=A"]["methods"]) == {"gradcam"}  # quick.yaml: Grad-CAM only
    crossed = {k: v for k, v in slices.items() if k.count(",")}
    assert sum(v["n"] for v in crossed.values()) == 40
    assert "site=A,device=(missing)" in crossed
    scored = [k for k, v in slices.items() if v["scored"]]
    assert list(summary["gates"]) == ["min_accuracy"] + [f"min_accuracy[{k}]" for k in scored]
    cases = [c.get("name") for c in ET.parse(run / "junit.xml").getroot().iter("testcase")]
    assert cases == list(summary["gates"])
    report = (run / "report.html").read_text()
    assert '<section id="slices">' in report and "<code>site=B</code>" in report
    # records.csv is the same with or without slices: no metadata columns.
    assert list(pd.read_csv(run / "records.csv", nrows=1).columns) == list(RECORD_COLUMNS)
