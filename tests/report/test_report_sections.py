"""The report's section views, the key figures and the plots, from hand-made typed summaries.

Every view is plain, formatted data; an undefined figure (None) reads "n/a".
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from run_builders import drift_of

from audit.config import AuditConfig
from audit.report.figures import change_rows, compare_summaries, key_figures
from audit.report.plots import energy_distribution_png
from audit.report.sections.accuracy import accuracy_view
from audit.report.sections.agreement import agreement_view
from audit.report.sections.baseline import baseline_view
from audit.report.sections.data import MAX_SKIPPED_ROWS, data_view
from audit.report.sections.fixation import fixation_view
from audit.report.sections.glance import glance_view
from audit.report.sections.guide import guide_view
from audit.report.sections.localisation import localisation_view, stat_cell
from audit.report.sections.provenance import provenance_rows
from audit.report.sections.verdict import verdict_view
from audit.summary import (
    ClassFigures,
    FixationFigure,
    Gate,
    MethodFigures,
    Proportion,
    ProportionSplit,
    Provenance,
    RunSummary,
    Split,
    Stat,
)

CONFIG = AuditConfig.model_validate({
    "model": {"path": "models/net.keras"},
    "dataset": {"path": "data/manifest.csv", "format": "jsonl"},
    "metrics": {"fixation_enrichment_below": 0.8, "loc_threshold": 0.2},
    "gates": {"max_background_fixation_rate": 0.4},
})

NO_RECORDS = pd.DataFrame()


def gradcam() -> MethodFigures:
    """Grad-CAM figures, every one defined."""
    return MethodFigures(
        n_maps=10, n_degenerate=1, background_fixation_rate=0.5,
        background_fixation=FixationFigure(n=4, count=2, mean=0.5, ci=(0.25, 0.75)),
        background_fixation_per_sample=Proportion(n=9, count=2, mean=2 / 9, ci=(0.06, 0.55)),
        pointing_accuracy=0.9, localization_accuracy=0.4,
        energy_in_box=Split(all=Stat(n=9, mean=0.55, ci=(0.45, 0.65), n_nan=1),
                            correct=Stat(n=5, mean=0.7, ci=(0.6, 0.8), n_nan=1),
                            misclassified=Stat(n=4, mean=0.3, ci=(0.2, 0.4))),
        pointing_hit=Split(all=Stat(n=9, mean=0.9, ci=(0.8, 1.0))),
        loc_correct=Split(all=Stat(n=9, mean=0.4, ci=(0.3, 0.5))),
    )


def summary(**changes) -> RunSummary:
    """Two classes, Grad-CAM defined, negative evidence undefined; ``changes`` on top."""
    fields = dict(
        n_samples=10, class_names=["cat", "dog"], accuracy=0.6, accuracy_ci=(0.4, 0.8),
        correct=Proportion(n=10, count=6, mean=0.6, ci=(0.4, 0.8), method="wilson"),
        per_class={
            "cat": ClassFigures(n=5, accuracy=0.8, n_misclassified=1,
                                correct=Proportion(n=5, count=4, mean=0.8, too_few=True),
                                background_fixation_rate={"gradcam": 1.0, "negative": None},
                                background_fixation={"gradcam": Proportion(
                                    n=1, count=1, mean=1.0, too_few=True)}),
            "dog": ClassFigures(n=5, accuracy=0.4, n_misclassified=3,
                                correct=Proportion(n=5, count=2, mean=0.4, ci=(0.12, 0.77)),
                                background_fixation_rate={"gradcam": 1 / 3},
                                background_fixation={"gradcam": Proportion(
                                    n=3, count=1, mean=1 / 3, ci=(0.06, 0.79))}),
        },
        centre_baseline=Stat(n=10, mean=0.5, ci=(0.45, 0.55)),
        methods={"negative": MethodFigures(n_maps=10), "gradcam": gradcam()},
        n_skipped=2, run_id="run-1", passed=True,
        gates={"min_accuracy": Gate(value=0.6, threshold=0.5, passed=True, reason="ok")},
        provenance=Provenance(run_id="run-1", model_path="models/net.keras",
                              model_sha256="a" * 64),
    )
    return RunSummary(**(fields | changes))


# --- Verdict and glance -----------------------------------------------------------------------


def test_verdict_view_lists_every_gate():
    view = verdict_view(summary(passed=False, gates={
        "min_accuracy": Gate(value=0.6123456, threshold=0.9, passed=False, reason="too low"),
        "max_degenerate_fraction": Gate(value=None, threshold=0.1, passed=True),
    }))
    assert view == {
        "state": "failed", "label": "FAILED", "line": "1 of 2 gates failed.",
        "gates": [
            {"name": "min_accuracy", "value": "0.6123", "threshold": "0.9", "passed": False,
             "too_few": False, "reason": "too low"},
            {"name": "max_degenerate_fraction", "value": "n/a", "threshold": "0.1",
             "passed": True, "too_few": False, "reason": ""},
        ],
        "disagreement": None,  # one method: nothing to disagree with
        "first": [],
        "faithfulness": None,  # no faithfulness stage
    }


def test_verdict_view_counts_gates_with_too_few_samples():
    gate = Gate(value=1.0, threshold=0.5, passed=True, outcome="not_enough_samples", n=1,
                reason="not enough samples (n=1 < metrics.min_n 10): ...")
    view = verdict_view(summary(gates={"max_background_fixation_rate[gradcam]": gate}))
    assert view["gates"][0]["too_few"] is True
    assert view["line"] == ("All 1 gate passed. 1 had not enough samples to judge (passed as "
                            "gates.on_too_few says).")


def test_verdict_view_without_gates_or_verdict():
    view = verdict_view(RunSummary())
    assert (view["state"], view["label"], view["gates"]) == ("none", "NO VERDICT", [])
    assert view["line"].startswith("No verdict: no gates configured.")
    assert view["faithfulness"] is None
    assert verdict_view(summary())["line"] == "All 1 gate passed."


def test_glance_view_rows_follow_the_registry():
    view = glance_view(summary(), ["gradcam", "negative"], fixation_limit=0.4)
    assert {k: v for k, v in view.items() if k != "rows"} == {
        "accuracy": "60.0%", "accuracy_ci": "40.0% – 80.0%",
        "accuracy_note": "95% Wilson CI 40.0% – 80.0%", "n_samples": "10",
        "n_misclassified": "4", "n_skipped": "2", "n_classes": "2", "centre": "50.0%",
        "checks": False,  # no faithfulness or sanity stage ran
    }
    grad, negative = view["rows"]
    assert grad == {
        "method": "gradcam", "title": "Grad-CAM", "counter_evidence": False,
        "fixation_rate": "50.0%", "fixation_count": "2 of 4", "fixation_too_few": False,
        "fixation_high": True, "per_sample": "22.2%", "per_sample_count": "2 of 9",
        "energy_correct": "70.0%", "energy_misclassified": "30.0%", "pointing": "90.0%",
        "beats_centre": "above", "localization": "40.0%", "degenerate": "1 of 10",
        "degenerate_any": True, "faithful": None, "faithful_badge": None,
        "sane": None, "checks_text": "",
    }
    # Undefined figures read n/a; nothing is compared with an undefined baseline.
    assert negative == {
        "method": "negative", "title": "Negative evidence", "counter_evidence": True,
        "fixation_rate": "n/a", "fixation_count": "0 of 0", "fixation_too_few": False,
        "fixation_high": False, "per_sample": "n/a", "per_sample_count": "",
        "energy_correct": "n/a", "energy_misclassified": "n/a", "pointing": "n/a",
        "beats_centre": None, "localization": "n/a", "degenerate": "0 of 10",
        "degenerate_any": False, "faithful": None, "faithful_badge": None,
        "sane": None, "checks_text": "",
    }


def test_glance_too_few_samples():
    few = gradcam().model_copy(update={"background_fixation": Proportion(
        n=1, count=1, mean=1.0, method="wilson", too_few=True), "background_fixation_rate": 1.0})
    view = glance_view(summary(methods={"gradcam": few},
                               correct=Proportion(n=6, count=3, mean=0.5, too_few=True)),
                       ["gradcam"], fixation_limit=0.4)
    assert view["accuracy_note"] == "too few samples to judge (n=6)"
    row = view["rows"][0]
    # A rate of 1 of 1 above the gate's limit is not shown red: it is not evidence.
    assert (row["fixation_too_few"], row["fixation_high"]) == (True, False)


@pytest.mark.parametrize(("pointing", "ci", "expected"), [
    (0.9, (0.8, 1.0), "above"),
    (0.6, (0.52, 0.7), "level"),  # the intervals overlap
    (0.6, None, "above"),  # without an interval the mean stands in
    (0.4, (0.3, 0.5), "below"),
])
def test_glance_pointing_against_the_centre(pointing, ci, expected):
    figures = MethodFigures(pointing_accuracy=pointing, pointing_hit=Split(all=Stat(ci=ci)))
    view = glance_view(summary(methods={"gradcam": figures}), ["gradcam"],
                       fixation_limit=None)
    assert view["rows"][0]["beats_centre"] == expected
    assert view["rows"][0]["fixation_high"] is False  # no gate, no red


# --- Figures ----------------------------------------------------------------------------------


def test_stat_cell():
    assert stat_cell(Stat(n=1234, mean=0.25, ci=(0.2, 0.3), n_nan=2), "pct") == {
        "mean": "25.0%", "ci": "20.0% – 30.0%", "n": "1,234", "n_nan": "2", "defined": True,
        "too_few": False}
    assert stat_cell(Stat(n=3, mean=1.23456, ci=None, too_few=True), "num") == {
        "mean": "1.235", "ci": "", "n": "3", "n_nan": "0", "defined": True, "too_few": True}
    assert stat_cell(Stat(too_few=True), "pct") == {
        "mean": "n/a", "ci": "", "n": "0", "n_nan": "0", "defined": False, "too_few": False}


def test_localisation_view():
    degenerate = MethodFigures(n_maps=4, n_degenerate=4)
    view = localisation_view(summary(methods={"gradcam": gradcam(), "scorecam": degenerate}),
                             NO_RECORDS, ["gradcam", "scorecam"])
    grad, score = view["blocks"]
    assert [r["label"] for r in grad["rows"]] == [
        "Energy in box", "Enrichment (1 = chance)", "Pointing game hit", "Localisation IoU",
        "Localisation correct (IoU ≥ 0.5)"]
    assert [c["mean"] for c in grad["rows"][0]["cells"]] == ["55.0%", "70.0%", "30.0%"]
    assert grad["true_rows"][0]["predicted"]["mean"] == "30.0%"
    assert grad["true_rows"][0]["true"]["mean"] == "n/a"
    assert (grad["title"], grad["pointing"], grad["all_degenerate"]) == ("Grad-CAM", "90.0%",
                                                                         False)
    assert score["all_degenerate"] is True and score["n_degenerate"] == "4"
    assert all(c["mean"] == "n/a" for r in score["rows"] for c in r["cells"])
    assert view["any_box"] is True and view["centre"]["mean"] == "50.0%"
    assert view["energy_plot"] is None  # no records
    assert view["pointing_plot"].startswith("data:image/png;base64,")


def test_localisation_leaves_counter_evidence_out_of_the_pointing_plot():
    methods = {"gradcam": MethodFigures(), "negative": MethodFigures(pointing_accuracy=0.5)}
    view = localisation_view(summary(methods=methods), NO_RECORDS, ["gradcam", "negative"])
    assert view["pointing_plot"] is None  # Grad-CAM undefined, negative evidence not plotted
    assert view["any_box"] is False
    assert [b["counter_evidence"] for b in view["blocks"]] == [False, True]


def test_fixation_view():
    view = fixation_view(summary(), ["gradcam", "negative"], threshold=0.8)
    assert view["rows"] == [
        {"method": "gradcam", "title": "Grad-CAM", "counter_evidence": False, "rate": "50.0%",
         "ci": "25.0% – 75.0%", "count": "2", "n": "4", "too_few": False,
         "per_sample": {"rate": "22.2%", "ci": "6.0% – 55.0%", "count": "2", "n": "9",
                        "too_few": False}},
        {"method": "negative", "title": "Negative evidence", "counter_evidence": True,
         "rate": "n/a", "ci": "", "count": "0", "n": "0", "too_few": False,
         "per_sample": {"rate": "n/a", "ci": "", "count": "0", "n": "0", "too_few": False}},
    ]
    assert view["n_misclassified"] == 4 and view["threshold"] == "0.80"
    assert view["plot"].startswith("data:image/png;base64,")
    only_negative = fixation_view(summary(), ["negative"], threshold=1.0)
    assert only_negative["plot"] is None


def test_accuracy_view():
    view = accuracy_view(summary(), ["gradcam", "negative"])
    no_rate = {"rate": "n/a", "count": "", "too_few": False}
    assert view["per_class"] == [
        {"name": "cat", "n": "5", "accuracy": "80.0%", "ci": "", "too_few": True,
         "n_misclassified": "1",
         "rates": [{"rate": "100.0%", "count": "1 of 1", "too_few": True}, no_rate]},
        {"name": "dog", "n": "5", "accuracy": "40.0%", "ci": "12.0% – 77.0%", "too_few": False,
         "n_misclassified": "3",
         "rates": [{"rate": "33.3%", "count": "1 of 3", "too_few": False}, no_rate]},
    ]
    assert (view["overall"], view["ci"], view["n"], view["too_few"], view["method"]) == (
        "60.0%", "40.0% – 80.0%", "10", False, "Wilson")
    assert view["confusion"] is None  # the summary has no matrix
    assert (view["per_class_more"], view["stacked"], view["annotated"]) == (0, False, True)


def test_data_view_falls_back_on_the_configuration():
    skipped = pd.DataFrame({
        "sample_id": [f"s{i}" for i in range(MAX_SKIPPED_ROWS + 3)],
        "image": "x.png",
        "reason": ["unreadable image: truncated"] * (MAX_SKIPPED_ROWS + 1) + ["no box", "no box"],
    })
    view = data_view(summary(provenance=Provenance()), skipped, CONFIG, ["gradcam", "negative"])
    assert view["facts"] == [
        ("Model file", "models/net.keras"),
        ("Explained layer", "automatic"),
        ("Dataset manifest", "data/manifest.csv"),
        ("Dataset format", "jsonl"),
        ("Samples audited", "10"),
        ("Samples skipped", "2"),
        ("Boxes clipped to the image", "0"),
        ("CAM methods", "Grad-CAM, Negative evidence"),
    ]
    assert view["classes"] == ["cat", "dog"]
    assert len(view["skipped"]) == MAX_SKIPPED_ROWS
    assert view["skipped"][0] == {"sample_id": "s0", "image": "x.png",
                                  "reason": "unreadable image: truncated"}
    assert (view["skipped_total"], view["skipped_more"]) == (MAX_SKIPPED_ROWS + 3, 3)
    assert view["skipped_reasons"] == [("unreadable image", MAX_SKIPPED_ROWS + 1),
                                       ("no box", 2)]


def test_guide_view_quotes_the_configuration():
    assert guide_view(summary(), CONFIG) == {
        "threshold": "0.80", "tolerance": "15", "loc_threshold": "20%", "loc_min_iou": "0.50",
        "resamples": "1000", "min_n": "10", "layer": "the last convolutional layer"}
    recorded = summary(provenance=Provenance.model_validate({"layer": "conv5"}))
    assert guide_view(recorded, CONFIG)["layer"] == "conv5"


def test_provenance_rows_show_what_the_run_recorded():
    provenance = Provenance.model_validate({
        "host": "ci-3", "run_id": "run-1", "duration_s": 3725.0, "finished_at": None,
        "started_at": "2026-11-25T21:30:00+00:00", "model_sha256": "a" * 64,
        "input_size": [224, 224], "gpus": 0,
    })
    assert provenance_rows(RunSummary(provenance=provenance)) == [
        ("Run id", "run-1", False),
        ("Model SHA-256", "a" * 64, True),
        ("Started", "2026-11-25 21:30:00 UTC", False),
        ("Finished", "n/a", False),
        ("Duration", "3,725 s (1 h 2 min)", False),
        ("Host", "ci-3", False),
        ("input size", "[224, 224]", False),
        ("gpus", "0", False),
        ("Results schema", "2", False),
    ]


def test_agreement_leaves_counter_evidence_out():
    rows = [{"sample_id": f"s{i}", "method": method, "target": "predicted",
             "energy_in_box": energy, "background_fixation": np.nan, "correct": True,
             "image": f"s{i}.png", "label": "a", "predicted": "a"}
            for i in range(4)
            for method, energy in (("gradcam", 0.1 * i), ("scorecam", 0.2 * i),
                                   ("negative", 0.9 - 0.1 * i))]
    view = agreement_view(pd.DataFrame(rows))
    assert view["methods"] == ["Grad-CAM", "Score-CAM"]
    assert view["excluded"] == ["Negative evidence"]
    assert view["pairs"] == [{"a": "Grad-CAM", "b": "Score-CAM", "n": "4", "spearman": "1.00",
                              "n_fixation": "0", "fixation_agreement": "n/a"}]


# --- Key figures and the baseline ------------------------------------------------------------


def test_key_figures_follow_the_registry():
    methods = {"negative": MethodFigures(), "lime": MethodFigures(), "scorecam": gradcam(),
               "gradcam": gradcam()}
    figures = key_figures(summary(methods=methods))
    assert [f.method for f in figures][::7] == [None, "gradcam", "scorecam", "negative", "lime"]
    assert [(f.key, f.stat.mean, f.stat.ci, f.better) for f in figures[1:8]] == [
        ("gradcam.background_fixation_rate", 0.5, (0.25, 0.75), "lower"),
        ("gradcam.background_fixation_per_sample", 2 / 9, (0.06, 0.55), "lower"),
        ("gradcam.energy_in_box.all", 0.55, (0.45, 0.65), "higher"),
        ("gradcam.energy_in_box.correct", 0.7, (0.6, 0.8), "higher"),
        ("gradcam.energy_in_box.misclassified", 0.3, (0.2, 0.4), "higher"),
        ("gradcam.pointing_accuracy", 0.9, (0.8, 1.0), "higher"),
        ("gradcam.localization_accuracy", 0.4, (0.3, 0.5), "higher"),
    ]
    # Counter-evidence has no better direction; a method the registry does not know has one.
    assert {f.better for f in figures if f.method == "negative"} == {None}
    assert {f.better for f in figures if f.method == "lime"} == {"higher", "lower"}


def good_and_background_models() -> tuple[RunSummary, RunSummary]:
    """The issue's two runs, as summaries only: 119 of 120 right, the one error fixated, and
    0 of 120 right, 66 errors fixated."""
    def run(correct, fixated, errors, energy, pointing):
        figures = MethodFigures(
            n_maps=120, background_fixation_rate=fixated / errors,
            background_fixation=Proportion(n=errors, count=fixated, mean=fixated / errors),
            background_fixation_per_sample=Proportion(n=120, count=fixated, mean=fixated / 120),
            energy_in_box=Split(all=Stat(n=120, mean=energy, ci=(energy - 0.02, energy + 0.02))),
            pointing_accuracy=pointing / 120,
            pointing_hit=ProportionSplit(all=Proportion(n=120, count=pointing,
                                                        mean=pointing / 120)))
        return summary(accuracy=correct / 120, correct=Proportion(
            n=120, count=correct, mean=correct / 120), methods={"gradcam": figures})
    return run(119, 1, 1, 0.6, 108), run(0, 66, 120, 0.2, 54)


def test_change_rows():
    a, b = good_and_background_models()
    rows = {(r["method"], r["label"]): r for r in change_rows(compare_summaries(a, b))}
    assert rows[("", "accuracy")] == {
        "method": "", "first": True, "label": "accuracy", "a": "99.2%", "b": "0.0%",
        "n_a": "120", "n_b": "120", "delta": "-99.2 pp", "test": "Newcombe interval",
        "evidence": "95% CI -99.9 pp to -94.3 pp", "status": "regression",
        "assessment": "regression"}
    fixation = rows[("Grad-CAM", "background fixation rate among errors")]
    assert (fixation["a"], fixation["b"], fixation["status"], fixation["test"]) == (
        "100.0%", "55.0%", "not_comparable", "")
    assert fixation["assessment"] == ("not comparable (errors 1 → 120; see Grad-CAM "
                                      "background-fixated errors per sample)")
    per_sample = rows[("Grad-CAM", "background-fixated errors per sample")]
    assert (per_sample["a"], per_sample["b"], per_sample["status"]) == ("0.8%", "55.0%",
                                                                        "regression")
    energy = rows[("Grad-CAM", "energy in box, all samples")]
    # d = -0.4 ± √(0.02² + 0.02²) = -0.4 ± 0.028
    assert (energy["test"], energy["evidence"], energy["status"]) == (
        "combined intervals", "95% CI -42.8 pp to -37.2 pp", "regression")
    correct = rows[("Grad-CAM", "energy in box, correct")]
    assert correct["assessment"] == "n/a (undefined in A and B)"
    assert all(r["status"] == "undefined" for r in rows.values()
               if r["method"] == "Negative evidence")


def test_baseline_view():
    assert baseline_view(summary(), None) is None
    baseline = summary(run_id=None, accuracy=0.9, accuracy_ci=None, passed=False,
                       correct=Proportion(n=100, count=90, mean=0.9),
                       provenance=Provenance(run_id="run-0", model_sha256="a" * 64,
                                             finished_at="2026-11-01T00:00:00Z"))
    view = baseline_view(summary(), drift_of(baseline, summary()))
    assert {k: v for k, v in view.items()
            if k not in ("rows", "rule", "tests", "sentence", "changes")} == {
        "note": "", "run_id": "run-0", "finished_at": "2026-11-01 00:00:00 UTC", "model": "n/a",
        "same_model": True, "passed": False, "n_regressions": 1, "n_improvements": 0,
        "overall": "B is worse than A", "state": "fail", "paired": False,
        "headline": "1 regression against the baseline run run-0.",
        "min_change": "2.0 percentage points (0.02 of background reliance)",
        "pairing": "no records.csv of A or B: figures compared by interval rules"}
    assert view["sentence"].startswith("B is worse than A: accuracy 90.0% → 60.0%.")
    assert view["rows"][0]["status"] == "regression"
    assert [c["text"] for c in view["changes"]] == [
        "accuracy 90.0% → 60.0% (-30.0 pp; 95% CI -59.1 pp to -5.7 pp)"]
    # A significant change no larger than report.min_change is shown, not flagged.
    view = baseline_view(summary(), drift_of(baseline, summary(), min_change=0.35))
    assert view["n_regressions"] == 0 and view["changes"] == [] and view["state"] == "info"
    assert view["rows"][0]["status"] == "small"
    assert view["rows"][0]["assessment"] == ("significant, not larger than report.min_change "
                                             "(-30.0 pp)")
    assert ("1 significant change no larger than report.min_change is not flagged."
            in view["sentence"])
    assert "Negative evidence" not in view["rule"] and "counter-evidence" in view["rule"]
    assert "McNemar" in view["tests"]


# --- Plots ------------------------------------------------------------------------------------


def test_energy_plot_is_reproducible():
    rng = np.random.default_rng(0)
    records = pd.DataFrame({
        "method": ["gradcam"] * 40, "target": "predicted",
        "energy_in_box": rng.uniform(size=40), "correct": rng.uniform(size=40) < 0.5,
    })
    np.random.seed(7)
    expected = np.random.random()
    np.random.seed(7)
    first = energy_distribution_png(records, methods=["gradcam"])
    assert np.random.random() == expected  # the caller's global generator is left as it was
    assert energy_distribution_png(records, methods=["gradcam"]) == first
