"""The report outputs: HTML report, JUnit XML, run history, baseline lookup and run comparison.

Inputs are synthetic: score records built by hand (``tests/run_builders.py``), a summary from
:func:`audit.analysis.aggregate.aggregate`
with gates and provenance added (as cam-audit 0.1 wrote it: a schema-1 dict; validated into a
:class:`~audit.summary.RunSummary` for the report), and gallery panels drawn with Pillow. The
browser tests open the report in headless Chromium
(``apt-get install -y chromium chromium-driver``) and fail, not skip, when it is missing.
"""

from __future__ import annotations

import base64
import html as html_lib
import io
import json
import re
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pandas as pd
import pytest
from conftest import assert_fits
from PIL import Image
from run_builders import (  # noqa: F401
    CLASSES,
    CONFIG,
    HOSTILE_CLASS,
    HOSTILE_FILE,
    METHODS,
    NAN,
    NO_SKIPPED,
    PROVENANCE,
    make_gallery,
    make_records,
    make_skipped,
    make_summary,
    make_summary_v1,
    png,
    render_full,
    write_run,
)

from audit.comparison import compare_summaries
from audit.metrics.records import ScoreRecord, records_to_frame
from audit.report import (
    GalleryItem,
    Panel,
    compare_runs,
    find_baseline,
    update_history,
    write_junit,
    write_report,
)
from audit.report.agreement import method_agreement
from audit.report.html import build_context
from audit.report.images import data_uri
from audit.report.sections.data import MAX_SKIPPED_ROWS
from audit.report.templating import TEMPLATES_ENV_VAR, templates_dir
from audit.summary import Gate, RunSummary, Stat, write_summary


@pytest.fixture(scope="module")
def full_report(tmp_path_factory) -> tuple[Path, str]:
    run_dir = tmp_path_factory.mktemp("run")
    baseline = make_summary(make_records(seed=1, error_rate=0.15), run_id="20261101-000000-prod",
                            finished_at="2026-11-01T00:00:00+00:00")
    return render_full(run_dir, baseline=baseline)


# --- Report -----------------------------------------------------------------------------------


SECTIONS = ("verdict", "data", "accuracy", "localisation", "fixation", "agreement", "guide",
            "provenance", "config")


def test_report_has_every_section(full_report):
    path, text = full_report
    assert path.name == "report.html"
    for section in SECTIONS:
        assert f'id="{section}"' in text, section
    assert "FAILED" in text and "min_accuracy" in text
    assert "Compared with the baseline run" in text
    for heading in ("Model and data", "Confusion matrix", "Localisation per method",
                    "Background fixation", "Method agreement", "How to read this report",
                    "Provenance", "Configuration as run"):
        assert heading in text, heading
    # Every provenance key the lead passes is shown.
    for value in ("conv5_block3_out", "a" * 64, "b" * 64, "ci-runner-3", "3.11.9", "2.17.0"):
        assert value in text
    # Plots and panels are embedded; nothing is fetched.
    assert text.count('src="data:image/png;base64,') >= 4 + 2 * 10
    assert "<script" not in text


def test_report_escapes_hostile_names(full_report):
    _, text = full_report
    assert HOSTILE_CLASS not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "<img src=x" not in text
    assert '"><img' not in text
    assert "img&#34;&gt;&lt;img src=x onerror=alert(1)&gt;.png" in text
    assert html_lib.unescape("img&#34;&gt;&lt;img src=x onerror=alert(1)&gt;.png") == HOSTILE_FILE
    # Only images we built: every src is a data URI.
    for src in re.findall(r'\ssrc="([^"]*)"', text):
        assert src.startswith("data:image/"), src[:40]


def with_method(summary: RunSummary, method: str, **changes) -> RunSummary:
    """``summary`` with some figures of ``method`` replaced."""
    figures = summary.methods[method].model_copy(update=changes)
    return summary.model_copy(update={"methods": {**summary.methods, method: figures}})


def test_report_regression_flags(tmp_path):
    records = make_records()
    summary = make_summary(records)
    worse = make_summary(make_records(error_rate=0.9))
    changes = {c.figure: c for c in compare_summaries(summary, worse).figures}
    assert changes["accuracy"].assessment == "regression"
    assert changes["accuracy"].test == "newcombe"  # no records: interval rules
    # Over correct samples only, while the number of errors moved: not comparable.
    assert changes["gradcam.energy_in_box.correct"].assessment == "not_comparable"
    assert changes["negative.background_fixation_rate"].better is None
    baseline = make_summary(make_records(error_rate=0.05))
    _, text = render_full(tmp_path, baseline=baseline, baseline_records=records_to_frame(
        make_records(error_rate=0.05)))
    assert "Compared with the baseline run" in text
    assert "B is worse than A: accuracy" in text
    assert "McNemar exact" in text and "Paired tests" in text
    assert "not comparable" in text and "errors" in text
    assert "McNemar&#39;s exact test" in text  # the rule, beside the table


def test_report_edge_cases_do_not_crash(tmp_path):
    # A single class, no boxes, every map degenerate for one method, no gallery, no gates,
    # nothing skipped, no misclassified sample, an empty config.
    records = make_records(20, classes=["only"], with_boxes=False, degenerate=("scorecam",),
                           hostile_file=False)
    summary = make_summary(records, classes=["only"], gates={})
    assert summary.methods["gradcam"].background_fixation_rate is None
    path = write_report(tmp_path / "a", summary=summary, records=records_to_frame(records),
                        skipped=NO_SKIPPED, gallery=[], config=CONFIG)
    text = path.read_text()
    # No gate configured: no verdict (a neutral banner), even where the summary says passed.
    assert '<div class="verdict-word">NO VERDICT</div>' in text
    assert '<div class="verdict-line">No verdict: no gates configured.' in text
    assert "No sample was misclassified" in text
    assert "No sample has a usable ground-truth box" in text
    assert '<td class="n"><b>n/a</b></td>' in text  # the fixation rates

    # All maps degenerate with boxes; undefined figures through the summary, no verdict.
    records = make_records(12, degenerate=("gradcam",), methods=("gradcam",))
    summary = make_summary(records, passed=None)
    summary = summary.model_copy(update={
        "accuracy": None, "accuracy_ci": None, "passed": None,
        "centre_baseline": Stat(n=0, n_nan=12),
        "provenance": summary.provenance.model_copy(update={"duration_s": None})})
    text = write_report(tmp_path / "b", summary=summary, records=records_to_frame(records),
                        skipped=NO_SKIPPED, gallery=[], config=CONFIG).read_text()
    assert "Every map of this method is degenerate" in text
    assert '<div class="verdict-word">NO VERDICT</div>' in text
    assert "<tr><th>Duration</th><td>n/a</td></tr>" in text
    assert '<div class="k">Accuracy</div><div class="v">n/a</div>' in text

    # Nothing at all.
    text = write_report(tmp_path / "c", summary=RunSummary(), records=pd.DataFrame(),
                        skipped=NO_SKIPPED, gallery=[], config=CONFIG).read_text()
    assert '<div class="verdict-word">NO VERDICT</div>' in text and 'id="guide"' in text
    assert "<p class=\"muted\">No CAM method was run.</p>" in text


def test_report_marks_figures_with_too_few_samples(tmp_path):
    # 12 samples, about 4 errors: the fixation rates and the per-class figures are too few.
    records = make_records(12, methods=("gradcam",), hostile_file=False)
    summary = make_summary(records, gates={"max_background_fixation_rate[gradcam]": {
        "value": 0.5, "threshold": 0.4, "passed": True, "outcome": "not_enough_samples", "n": 4,
        "reason": "not enough samples (n=4 < metrics.min_n 10): ..."}})
    assert summary.methods["gradcam"].background_fixation.too_few
    text = write_report(tmp_path, summary=summary, records=records_to_frame(records),
                        skipped=NO_SKIPPED, gallery=[], config=CONFIG).read_text()
    assert '<span class="badge info">not enough samples</span>' in text
    assert text.count('<span class="too-few">too few samples to judge</span>') >= 3
    assert "95% Wilson CI" in text  # the accuracy card: 12 samples are enough
    assert "Too few samples to judge</dt>" in text  # the reading guide


def test_report_caps_the_skipped_table(tmp_path):
    records = make_records(9, methods=("gradcam",), hostile_file=False)
    skipped = make_skipped(MAX_SKIPPED_ROWS + 25)
    context = build_context(summary=make_summary(records), records=records_to_frame(records),
                            skipped=skipped, gallery=[], config=CONFIG)
    assert len(context["data"]["skipped"]) == MAX_SKIPPED_ROWS
    assert context["data"]["skipped_more"] == 25


def test_gallery_layout_and_bad_png(tmp_path):
    items = make_gallery(1, methods=("gradcam",))
    broken = Panel(title="scorecam: predicted", png=b"not a png", method="scorecam",
                   target="predicted")
    items[0].panels.append(broken)
    records = make_records(9, methods=("gradcam",), hostile_file=False)
    context = build_context(summary=make_summary(records), records=records_to_frame(records),
                            skipped=NO_SKIPPED, gallery=items, config=CONFIG)
    gallery = context["gallery"]
    assert gallery["columns"] == ["map of the predicted class", "map of the true class",
                                  "negative evidence"]
    rows = gallery["entries"][0]["rows"]
    assert [r["method"] for r in rows] == ["Grad-CAM", "Score-CAM"]
    assert rows[1]["cells"][0]["uri"] is None and rows[1]["cells"][1] is None
    assert data_uri(b"<svg onload=alert(1)>") is None
    assert data_uri(png()).startswith("data:image/png;base64,")
    # A truncated PNG (right signature, broken body) and a large one (shrunk).
    big = Panel(title="image", png=png(size=(1200, 900)))
    cut = Panel(title="gradcam: true", png=png()[:60], method="gradcam", target="true")
    item = GalleryItem(sample_id="x", image="x.png", label="a", predicted="b", confidence=0.5,
                       background_energy=0.9, panels=[big, cut])
    context = build_context(summary=RunSummary(), records=pd.DataFrame(), skipped=NO_SKIPPED,
                            gallery=[item], config=CONFIG)
    view = context["gallery"]["entries"][0]
    assert view["rows"][0]["cells"][0]["uri"] is None
    shrunk = Image.open(io.BytesIO(base64.b64decode(view["image"]["uri"].split(",", 1)[1])))
    assert max(shrunk.size) == 300


def test_method_agreement_from_records():
    rows = []
    for i, (a, b, fa, fb) in enumerate([(0.1, 0.2, 1.0, 1.0), (0.5, 0.6, 0.0, 1.0),
                                        (0.9, 0.8, 0.0, 0.0), (0.3, 0.9, 1.0, 0.0)]):
        for method, energy, fix in (("gradcam", a, fa), ("scorecam", b, fb)):
            rows.append(ScoreRecord(
                sample_id=f"s{i}", image=f"s{i}.png", label="a", label_index=0, predicted="b",
                predicted_index=1, correct=False, confidence=0.7, method=method,
                target="predicted", target_class="b", target_index=1, n_boxes=1,
                energy_in_box=energy, background_fixation=fix))
    result = method_agreement(records_to_frame(rows))
    (pair,) = result["pairs"]
    assert pair["n"] == 4 and pair["n_fixation"] == 4
    assert pair["fixation_agreement"] == pytest.approx(0.5)
    # ranks: gradcam 1,3,4,2 scorecam 1,2,3,4 -> rho = 1 - 6*(0+1+1+4)/(4*15) = 0.4
    assert pair["spearman"] == pytest.approx(0.4)
    assert result["disagreements"][0]["sample_id"] == "s3"
    assert result["disagreements"][0]["spread"] == pytest.approx(0.6)


def test_templates_dir_resolution(tmp_path, monkeypatch):
    assert (templates_dir() / "report.html.j2").is_file()
    monkeypatch.setenv(TEMPLATES_ENV_VAR, str(tmp_path))
    with pytest.raises(FileNotFoundError, match=TEMPLATES_ENV_VAR):
        templates_dir()
    shutil.copytree(Path(__file__).resolve().parents[2] / "templates", tmp_path / "t")
    monkeypatch.setenv(TEMPLATES_ENV_VAR, str(tmp_path / "t"))
    assert templates_dir() == tmp_path / "t"


# --- JUnit ------------------------------------------------------------------------------------


def test_junit_one_case_per_gate(tmp_path):
    summary = make_summary(make_records(12, methods=("gradcam",)))
    odd_gate = Gate(value=None, threshold=0.1, passed=False,
                    reason="undefined <value> & \"quotes\"")
    summary = summary.model_copy(update={"gates": {**summary.gates, "odd\x01name": odd_gate}})
    path = write_junit(tmp_path, summary)
    assert path == tmp_path / "junit.xml"
    root = ET.parse(path).getroot()
    suite = root.find("testsuite")
    cases = suite.findall("testcase")
    assert len(cases) == len(summary.gates) == 3
    assert {c.get("classname") for c in cases} == {"cam-audit.analysis.gates"}
    assert suite.get("tests") == "3" and suite.get("failures") == "2"
    assert suite.get("id") == summary.run_id
    assert suite.get("time") == "250.400" and suite.get("hostname") == "ci-runner-3"
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props == {"run_id": summary.run_id, "run_name": "demo", "verdict": "failed",
                     "model_sha256": "a" * 64, "manifest_sha256": "b" * 64}
    failed = {c.get("name"): c.find("failure") for c in cases}
    assert failed["max_background_fixation_rate"] is None
    passing = next(c for c in cases if c.get("name") == "max_background_fixation_rate")
    assert passing.find("system-out").text == (
        f"value 0.12, threshold 0.5: fine for class {HOSTILE_CLASS}")
    assert failed["min_accuracy"].get("message") == (
        f"value {summary.accuracy:.4g}, threshold 0.9: accuracy {summary.accuracy:.3f} is below "
        "the minimum 0.900")
    assert failed["odd\ufffdname"].get("message") == (
        'value n/a, threshold 0.1: undefined <value> & "quotes"')


def test_faithfulness_outcomes_in_junit_and_the_report(tmp_path):
    from audit.report.sections.trust import trust_view
    from audit.report.sections.verdict import faithfulness_sentence
    from audit.summary import FaithfulnessFigures, FaithfulnessRun, PairedFigure, PairedFigures

    summary = make_summary(make_records(12))
    paired = PairedFigures(deletion_auc=PairedFigure(n=24, mean=0.12, ci=(0.05, 0.2),
                                                     p_value=0.001))
    outcomes = {"gradcam": ("faithful", None), "gradcam++": ("not faithful", None),
                "scorecam": ("undecided", 180)}
    for method, (outcome, needed) in outcomes.items():
        summary = with_method(summary, method, faithfulness=FaithfulnessFigures(
            n=24, outcome=outcome, paired=paired, p_adjusted=0.003, samples_to_decide=needed))
    summary = summary.model_copy(update={"faithfulness": FaithfulnessRun(
        n_used=24, n_available=24, n_faithful=1, n_not_faithful=1, n_undecided=1,
        samples_to_decide=180, alpha=0.05, margin=0.01, random_maps=4, looks=[16, 24])})
    root = ET.parse(write_junit(tmp_path, summary)).getroot()
    gates_suite, evidence = root.findall("testsuite")
    assert gates_suite.get("name") == "cam-audit.analysis.gates"
    cases = {c.get("name"): c for c in evidence.findall("testcase")}
    assert set(cases) == {"faithfulness[gradcam]", "faithfulness[gradcam++]",
                          "faithfulness[scorecam]"}
    # Evidence, never a failure: only gates fail the run.
    assert evidence.get("failures") == "0" and evidence.get("skipped") == "2"
    assert cases["faithfulness[gradcam]"].find("system-out").text.startswith(
        "faithful: deletion +0.120 vs random (p 0.001)")
    assert cases["faithfulness[gradcam++]"].find("skipped").get("message").startswith(
        "not faithful: ")
    assert cases["faithfulness[scorecam]"].find("skipped").get("message").endswith(
        "about 180 samples would decide")
    view = trust_view(summary, ["gradcam", "gradcam++", "scorecam"], max_similarity=0.5,
                      substrate="zero")
    rows = {r["title"]: r for r in view["faithfulness"] if not r["baseline"]}
    assert [(r["outcome"], r["badge"]) for r in rows.values()] == [
        ("faithful", "pass"), ("not faithful", "fail"), ("undecided", "info")]
    assert rows["Grad-CAM"]["vs_random"]["deletion"] == {
        "mean": "+0.120", "ci": "0.050 – 0.200", "p": "p = 0.001"}
    assert rows["Score-CAM"]["samples_to_decide"] == "180"
    assert faithfulness_sentence(summary) == (
        "Faithfulness on 24 samples: 1 method faithful, 1 not faithful, 1 undecided; "
        "faithfulness.max_samples: 180 would likely decide it (normal approximation, 80% "
        "power).")
    report, _ = render_full(tmp_path / "run", summary=summary)
    text = report.read_text()
    assert all(f'">{word}</span>' in text for word in ("faithful", "not faithful", "undecided"))
    assert "180 would likely decide it" in text


def test_junit_without_gates(tmp_path):
    summary = make_summary(make_records(6, methods=("gradcam",)), gates={})
    root = ET.parse(write_junit(tmp_path, summary)).getroot()
    (case,) = root.iter("testcase")
    assert case.get("name") == "no gates configured" and case.find("failure") is None
    assert root.find("testsuite").get("failures") == "0"


def test_junit_gates_with_too_few_samples(tmp_path):
    reason = ("not enough samples (n=3 < metrics.min_n 10): gradcam background-fixation rate "
              "among misclassified samples 1.000 is not judged")
    summary = make_summary(make_records(6, methods=("gradcam",)), gates={
        "max_background_fixation_rate[gradcam]": {
            "value": 1.0, "threshold": 0.5, "passed": True, "outcome": "not_enough_samples",
            "n": 3, "reason": reason + "; the gate passes (gates.on_too_few: pass)"},
        "max_background_fixation_rate[scorecam]": {
            "value": 1.0, "threshold": 0.5, "passed": False, "outcome": "not_enough_samples",
            "n": 3, "reason": reason + "; the gate fails (gates.on_too_few: fail)"},
    })
    suite = ET.parse(write_junit(tmp_path, summary)).getroot().find("testsuite")
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("2", "1", "1")
    passing, failing = suite.findall("testcase")
    assert passing.find("skipped").get("message").startswith(
        "value 1, threshold 0.5: not enough samples (n=3 < metrics.min_n 10)")
    assert failing.find("failure").get("type") == "NotEnoughSamples"


# --- History and baseline ---------------------------------------------------------------------


def test_history_two_runs_newest_first(tmp_path):
    # The older run was written by cam-audit 0.1 (schema 1): the rebuilt history reads it too.
    old_dir, old = write_run(tmp_path, "run-old", "2026-11-01T10:00:00+00:00",
                             schema_version=1)
    new_dir, new = write_run(tmp_path, "run-new", "2026-11-02T10:00:00+00:00", seed=1)
    index_json, index_html = update_history(tmp_path, summary=new, run_dir=new_dir)
    rows = json.loads(index_json.read_text())
    # index.json was missing: rebuilt from both run folders.
    assert [r["run_id"] for r in rows] == ["run-new", "run-old"]
    assert rows[1]["accuracy"] == old.accuracy
    index_json, index_html = update_history(tmp_path, summary=old, run_dir=old_dir)
    rows = json.loads(index_json.read_text())
    assert [r["run_id"] for r in rows] == ["run-new", "run-old"]
    assert rows[0] == {
        "run_id": "run-new",
        "run_name": "demo",
        "finished_at": "2026-11-02T10:00:00+00:00",
        "model_sha256": "a" * 64,
        "manifest_sha256": "b" * 64,
        "passed": False,
        "accuracy": new.accuracy,
        "background_fixation_rate": {m: new.methods[m].background_fixation_rate
                                     for m in ("gradcam", "scorecam")},
        "background_fixation_per_sample": {
            m: new.methods[m].background_fixation_per_sample.mean
            for m in ("gradcam", "scorecam")},
        "energy_in_box_misclassified": {m: new.methods[m].energy_in_box.misclassified.mean
                                        for m in ("gradcam", "scorecam")},
        "accuracy_ci": list(new.correct.ci),
        "background_fixation_rate_ci": {m: _listed(new.methods[m].background_fixation.ci)
                                        for m in ("gradcam", "scorecam")},
        "background_fixation_per_sample_ci": {
            m: _listed(new.methods[m].background_fixation_per_sample.ci)
            for m in ("gradcam", "scorecam")},
        "background_reliance": None,
        "background_reliance_ci": None,
        "thresholds": {"min_accuracy": 0.9, "max_background_fixation_rate": 0.5},
        "changes": [],
        "report": "run-new/report.html",
    }
    # A summary of an earlier cam-audit does not say whether it had a baseline: neither does
    # its row (and the page says "not recorded").
    assert "baseline_run_id" not in rows[0]
    page = index_html.read_text()
    assert page.count('<span class="badge fail">failed</span>') == 2
    assert '<div class="pm"><span>Grad-CAM</span>' in page and "<span>Score-CAM</span>" in page
    assert "fixated errors per sample" in page and "not recorded" in page
    assert "2 runs: 0 passed, 2 failed" in page and "1 runs" not in page
    assert page.index("run-new") < page.index("run-old")
    assert 'href="run-new/report.html"' in page and 'href="run-old/report.html"' in page
    assert not re.search(r'(src|href)="(https?:)?//', page)


def _listed(ci):
    return None if ci is None else list(ci)


def test_history_rebuilds_a_corrupt_index(tmp_path):
    _, first = write_run(tmp_path, "run-1", "2026-11-01T10:00:00+00:00")
    second_dir, second = write_run(tmp_path, "run-2", "2026-11-03T10:00:00+00:00")
    (tmp_path / "index.json").write_text("{not json")
    index_json, _ = update_history(tmp_path, summary=second, run_dir=second_dir)
    assert [r["run_id"] for r in json.loads(index_json.read_text())] == ["run-2", "run-1"]
    (tmp_path / "index.json").write_text(json.dumps({"rows": "wrong shape"}))
    index_json, _ = update_history(tmp_path, summary=second, run_dir=second_dir)
    assert [r["run_id"] for r in json.loads(index_json.read_text())] == ["run-2", "run-1"]
    (tmp_path / "index.json").write_text(json.dumps([{"run_id": 7}]))  # not a run id
    index_json, _ = update_history(tmp_path, summary=second, run_dir=second_dir)
    assert [r["run_id"] for r in json.loads(index_json.read_text())] == ["run-2", "run-1"]
    assert not list(tmp_path.glob(".index.*.tmp"))


def test_find_baseline(tmp_path):
    write_run(tmp_path, "a-oldest", "2026-11-01T10:00:00+00:00")
    write_run(tmp_path, "b-previous", "2026-11-05T10:00:00+00:00", schema_version=1)
    write_run(tmp_path, "c-other-data", "2026-11-06T10:00:00+00:00", manifest="c" * 64)
    write_run(tmp_path, "d-failed-run", "2026-11-07T10:00:00+00:00", status="failed")
    write_run(tmp_path, "e-no-status", "2026-11-04T10:00:00+00:00", status=None)
    (tmp_path / "f-broken").mkdir()
    (tmp_path / "f-broken" / "summary.json").write_text("{")
    current_dir, current = write_run(tmp_path, "g-current", "2026-11-08T10:00:00+00:00")
    found = find_baseline(tmp_path, summary=current, exclude_run_dir=current_dir)
    assert found == tmp_path / "b-previous"
    current = current.model_copy(update={
        "provenance": current.provenance.model_copy(update={"manifest_sha256": "z" * 64})})
    assert find_baseline(tmp_path, summary=current, exclude_run_dir=current_dir) is None
    assert find_baseline(tmp_path / "missing", summary=current, exclude_run_dir=None) is None


# --- Compare ----------------------------------------------------------------------------------


def pair_record(sample, correct, fixation, method="gradcam"):
    label, predicted = (0, 0) if correct else (0, 1)
    return ScoreRecord(
        sample_id=sample, image=f"{sample}.png", label="cat", label_index=label,
        predicted=["cat", "dog"][predicted], predicted_index=predicted, correct=correct,
        confidence=0.8, method=method, target="predicted",
        target_class=["cat", "dog"][predicted], target_index=predicted, n_boxes=1,
        energy_in_box=0.5, enrichment=2.0 if fixation != 1.0 else 0.5,
        background_fixation=fixation,
    )


def test_compare_runs_counts(tmp_path):
    # Run A was written by cam-audit 0.1 (schema 1), run B by this version (schema 2).
    # sample: (A correct, A fixation), (B correct, B fixation)
    plan = {
        "fixed1": ((False, 1.0), (True, NAN)),
        "fixed2": ((False, 0.0), (True, NAN)),
        "broken": ((True, NAN), (False, 1.0)),
        "newfix": ((False, 0.0), (False, 1.0)),
        "stayfx": ((False, 1.0), (False, 1.0)),
        "same": ((True, NAN), (True, NAN)),
        "onlyA": ((True, NAN), None),
    }
    for side, index in (("A", 0), ("B", 1)):
        run = tmp_path / side
        run.mkdir()
        records = []
        for sample, states in plan.items():
            if states[index] is None:
                continue
            correct, fixation = states[index]
            for method in ("gradcam", "scorecam"):
                records.append(pair_record(sample, correct, fixation, method))
        options = dict(classes=["cat", "dog"], run_id=f"run-{side}",
                       manifest_sha256="b" * 64 if side == "A" else "c" * 64)
        if side == "A":
            (run / "summary.json").write_text(json.dumps(make_summary_v1(records, **options)))
        else:
            write_summary(run / "summary.json", make_summary(records, **options))
        records_to_frame(records).to_csv(run / "records.csv", index=False)
    out = tmp_path / "compare.html"
    html, text = compare_runs(tmp_path / "A", tmp_path / "B", out_path=out)
    assert out.read_text() == html
    counts = dict(re.findall(r"^(fixed|broken|newly fixated|no longer fixated)\s+(\d+)", text,
                             re.M))
    # fixed1 is also "no longer fixated" (it is right in B).
    assert counts == {"fixed": "2", "broken": "1", "newly fixated": "2",
                      "no longer fixated": "1"}
    assert "6 samples in both; 1 only in A, 0 only in B" in text
    assert ("WARNING: The runs audited different datasets: manifest SHA-256 bbbbbbbbbbbb… in A, "
            "cccccccccccc… in B. Figures are not directly comparable.") in text.splitlines()
    # The key figures of both versions line up, method by method.
    assert re.search(r"^Grad-CAM\s+background fixation rate\s+\S+\s+\S+", text, re.M)
    assert re.search(r"^Score-CAM\s+background fixation rate\s+\S+\s+\S+", text, re.M)
    assert "different datasets" in html and "run-A" in html and "run-B" in html
    assert "fixed1" in html and "newfix" in html
    assert not re.search(r'(src|href)="(https?:)?//', html)


# --- Real browser -----------------------------------------------------------------------------

@pytest.mark.browser
def test_report_in_chromium(browser, full_report, tmp_path):
    path, _ = full_report
    browser.get(path.resolve().as_uri())
    assert "cam-audit report" in browser.title
    errors = [e for e in browser.get_log("browser") if e.get("level") == "SEVERE"]
    assert errors == [], errors
    images = browser.execute_script(
        "return Array.from(document.images).map(i => [i.complete, i.naturalWidth, i.alt]);")
    assert len(images) >= 20
    assert all(complete and width > 0 for complete, width, _ in images), images
    # The hostile class name is text on the page, and no script ran.
    assert HOSTILE_CLASS in browser.find_element("tag name", "body").text
    assert browser.execute_script("return document.scripts.length;") == 0
    height = browser.execute_script("return document.body.scrollHeight;")
    browser.set_window_size(1200, min(int(height), 16000))
    shot = tmp_path / "report.png"
    assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 10_000


@pytest.mark.browser
def test_report_makes_no_network_request(browser, full_report, tmp_path):
    path, text = full_report
    # Static check: no remote URL in any src/href/url() (plain text may mention one).
    assert not re.search(r'(?:src|href)\s*=\s*["\']?\s*(?:https?:)?//', text, re.I)
    assert not re.search(r"url\(\s*['\"]?\s*(?:https?:)?//", text, re.I)
    assert not re.search(r"@import", text)
    # History page too.
    run_dir = path.parent
    summary = make_summary(make_records(6, methods=("gradcam",)))
    _, index_html = update_history(run_dir.parent, summary=summary, run_dir=run_dir)
    for page in (path, index_html):
        browser.get("about:blank")
        browser.get_log("performance")  # drop what the browser did before our page
        browser.get(page.resolve().as_uri())
        browser.execute_script("return document.readyState;")
        requested = []
        for entry in browser.get_log("performance"):
            message = json.loads(entry["message"])["message"]
            if message.get("method") == "Network.requestWillBeSent":
                params = message["params"]
                requested.append((params["request"]["url"], params.get("documentURL", "")))
        assert requested, "performance logging recorded nothing"
        assert any(u.startswith("file:") for u, _ in requested), requested
        remote = [(u, d) for u, d in requested if not u.startswith(("data:", "file:"))]
        assert remote == [], remote


@pytest.mark.browser
def test_pages_fit_1280_px_and_a4(browser, tmp_path):
    # The widest report: four methods with their trust checks (faithful, sane), a baseline
    # and its flagged changes; the history of two runs with four methods; the comparison.
    from audit.summary import FaithfulnessFigures, SanityFigures

    records = make_records()
    summary = make_summary(records)
    for i, method in enumerate(("gradcam", "gradcam++", "scorecam")):
        summary = with_method(summary, method,
                              faithfulness=FaithfulnessFigures(
                                  n=24, outcome=("faithful", "not faithful", "undecided")[i]),
                              sanity=SanityFigures(n=8, passed=i != 2))
    baseline = make_summary(make_records(seed=1, error_rate=0.05), run_id="prod")
    report, _ = render_full(tmp_path / "run-new", summary=summary, baseline=baseline)
    text = report.read_text()
    assert all(f'">{word}</span>' in text for word in ("faithful", "not faithful", "undecided"))
    old_dir, _ = write_run(tmp_path / "history", "run-old", "2026-11-01T10:00:00+00:00")
    new_dir, new = write_run(tmp_path / "history", "run-new", "2026-11-02T10:00:00+00:00",
                             seed=1)
    _, index_html = update_history(tmp_path / "history", summary=new, run_dir=new_dir)
    compare = tmp_path / "compare.html"
    compare_runs(old_dir, new_dir, out_path=compare)
    for page in (report, index_html, compare):
        assert_fits(browser, page)
