"""Statistics a reviewer can defend: Wilson intervals, McNemar's exact test, the paired bootstrap,
interval rules for unpaired runs, conditional figures that cannot call a disaster an
improvement, and one overall answer. Numbers are worked by hand in the comments.

The issue's scenario: on the same 120 huskies, a good model (119 right; its one error's map on
the snow) and a model that learnt the background (0 right; 66 of its 120 errors on the snow).
"""

from __future__ import annotations

import doctest
import importlib
import json
import math

import numpy as np
import pytest

from audit.analysis.aggregate import aggregate
from audit.app.cli import main
from audit.comparison import (
    Comparison,
    combined_intervals,
    compare_summaries,
    mcnemar_exact,
    newcombe_interval,
    overall_answer,
    paired_bootstrap,
    paired_proportions,
    pairing,
    two_proportions,
)
from audit.metrics import describe_proportion, proportion, too_few, wilson_interval
from audit.metrics.records import ScoreRecord, records_to_frame
from audit.summary import RunSummary, Summary, read_summary, write_summary

NAN = math.nan
Z = 1.959963984540054  # the 97.5% quantile of the standard normal distribution
Z2 = Z * Z  # 3.841459


# --- Wilson intervals -------------------------------------------------------------------------


def test_wilson_one_of_one():
    # centre = (1 + z²/2) / (1 + z²), half = z √1 / (1 + z²) · √(0 + z²/4) = (z²/2) / (1 + z²)
    # low = 1 / (1 + z²) = 1 / 4.841459 = 0.206549; high = 1.
    low, high = wilson_interval(1, 1)
    assert low == pytest.approx(1 / (1 + Z2), abs=1e-12) == pytest.approx(0.2065493, abs=1e-7)
    assert high == 1.0


def test_wilson_119_of_120():
    # p = 0.991667, z²/n = 0.032012; centre = (p + z²/2n) / (1 + z²/n) = 1.007673 / 1.032012
    # = 0.976416; half = z √(p(1-p)/n + z²/4n²) / (1 + z²/n)
    #      = 1.959964 √(6.8866e-5 + 6.6692e-5) / 1.032012 = 0.022112
    # -> [0.954304, 0.998527]: the issue's "about [0.954, 0.999]", not the bootstrap's
    # [0.975, 1.0].
    low, high = wilson_interval(119, 120)
    assert (low, high) == pytest.approx((0.954304, 0.998527), abs=1e-6)


def test_wilson_none_of_120():
    # low = 0; high = z² / (n + z²) = 3.841459 / 123.841459 = 0.031019.
    low, high = wilson_interval(0, 120)
    assert low == 0.0
    assert high == pytest.approx(Z2 / (120 + Z2), abs=1e-12) == pytest.approx(0.031019, abs=1e-6)


@pytest.mark.parametrize("count, n", [(0, 1), (3, 7), (50, 100), (999, 1000)])
def test_wilson_holds_the_rate_and_stays_in_the_unit_interval(count, n):
    low, high = wilson_interval(count, n)
    assert 0.0 <= low <= count / n <= high <= 1.0


@pytest.mark.parametrize("args, match", [
    ((2, 1), "count must be at most n"), ((-1, 3), "count must be an integer >= 0"),
    ((1, 2.0), "n must be an integer >= 0"), ((True, 2), "count must be an integer"),
])
def test_wilson_checks_its_counts(args, match):
    with pytest.raises(ValueError, match=match):
        wilson_interval(*args)


def test_too_few_and_proportions():
    assert too_few(9) and not too_few(10) and too_few(0)
    assert proportion(1, 1, min_n=10)["ci"] is None
    assert proportion(1, 1)["ci"] == pytest.approx([1 / (1 + Z2), 1.0])
    stat = describe_proportion([1.0, 0.0, NAN, True], min_n=2)
    assert (stat["n"], stat["count"], stat["n_nan"], stat["too_few"]) == (3, 2, 1, False)
    with pytest.raises(ValueError, match="0, 1 or NaN; got 0.5"):
        describe_proportion([0.5])
    with pytest.raises(ValueError, match="min_n must be an integer >= 1"):
        too_few(3, min_n=0)


# --- McNemar's exact test ---------------------------------------------------------------------


def test_mcnemar_119_discordant_pairs():
    # 119 samples right in A and wrong in B, none the other way: under "no change" each of the
    # 119 discordant samples moves either way with probability 1/2, so
    # p = 2 · P(X <= 0) = 2 · (1/2)^119 = 2^-118 = 3.009e-36.
    assert mcnemar_exact(119, 0) == 2.0 ** -118
    assert mcnemar_exact(0, 119) == 2.0 ** -118
    assert f"{mcnemar_exact(119, 0):.4g}" == "3.009e-36"


def test_mcnemar_small_counts():
    # 1 and 1: 2 · P(X <= 1), X ~ Bin(2, 1/2) = 2 · 3/4 -> capped at 1.
    assert mcnemar_exact(1, 1) == 1.0
    # 0 and 5: 2 / 32 = 0.0625, not significant at 5% although every pair moved one way.
    assert mcnemar_exact(0, 5) == 2 / 32
    # 0 and 6: 2 / 64 = 0.03125.
    assert mcnemar_exact(6, 0) == 2 / 64
    with pytest.raises(ValueError, match="b must be an integer >= 0"):
        mcnemar_exact(-1, 3)


def test_paired_proportions_counts_the_discordant_pairs():
    a = [1, 1, 1, 0, 0, NAN, 1]
    b = [1, 0, 0, 0, 1, 1.0, NAN]
    result = paired_proportions(a, b)
    # Pairs defined on both sides: the first five. Yes in A only: 2; in B only: 1.
    assert result.n_pairs == 5 and result.discordant == (2, 1)
    assert result.difference == pytest.approx((1 - 2) / 5)
    assert result.p_value == 1.0 and result.significant is False
    with pytest.raises(ValueError, match="one length"):
        paired_proportions([1, 0], [1])
    with pytest.raises(ValueError, match="b must hold 0, 1 or NaN; got 2.0"):
        paired_proportions([1, 0], [1, 2])


# --- Bootstrap of paired differences and the unpaired rules ----------------------------------


def test_paired_bootstrap_is_seeded_and_ignores_undefined_pairs():
    rng = np.random.default_rng(0)
    a = rng.uniform(size=60)
    b = a + rng.normal(0.05, 0.02, size=60)
    b[3] = NAN
    first = paired_bootstrap(a, b, seed=4)
    assert first == paired_bootstrap(a, b, seed=4)
    assert first.n_pairs == 59 and first.significant is True
    low, high = first.interval
    assert low <= first.difference <= high and low > 0
    # The same shift measured on independent samples is lost in the spread of the scores.
    independent = combined_intervals(a.mean(), (a.mean() - 0.07, a.mean() + 0.07),
                                     np.nanmean(b), (np.nanmean(b) - 0.07, np.nanmean(b) + 0.07))
    assert independent.significant is False


def test_newcombe_by_hand():
    # 0 of 120 -> 66 of 120. Wilson: [0, 0.031019] and [0.460815, 0.636083]; d = 0.55.
    # low = 0.55 - √((0.55 - 0.460815)² + (0.031019 - 0)²) = 0.55 - 0.094425 = 0.455575
    # high = 0.55 + √((0.636083 - 0.55)² + (0 - 0)²) = 0.636083
    low, high = newcombe_interval(0, 120, 66, 120)
    assert (low, high) == pytest.approx((0.455575, 0.636083), abs=1e-6)
    assert two_proportions(0, 120, 66, 120).significant is True
    assert two_proportions(30, 100, 30, 100).significant is False
    assert math.isnan(newcombe_interval(0, 0, 1, 2)[0])


def test_combined_intervals_by_hand():
    # d = 0.8 - 0.5 = 0.3; margin = √(0.1² + 0.1²) = 0.141421.
    result = combined_intervals(0.5, (0.4, 0.6), 0.8, (0.7, 0.9))
    assert result.interval == pytest.approx((0.158579, 0.441421), abs=1e-6)
    assert combined_intervals(0.5, None, 0.8, (0.7, 0.9)).significant is None


# --- The two runs ---------------------------------------------------------------------


def husky_run(n_wrong: int, n_fixated: int, n: int = 120) -> list[ScoreRecord]:
    """``n`` huskies; the first ``n_wrong`` called wolves, the first ``n_fixated`` of those
    with their map on the snow (enrichment 0.3, energy in box 5%)."""
    records = []
    for i in range(n):
        wrong, fixated = i < n_wrong, i < n_fixated
        predicted = 1 if wrong else 0
        records.append(ScoreRecord(
            sample_id=f"husky{i:03d}", image=f"husky{i:03d}.png", label="husky",
            label_index=0, predicted=["husky", "wolf"][predicted], predicted_index=predicted,
            correct=not wrong, confidence=0.9, method="gradcam", target="predicted",
            target_class=["husky", "wolf"][predicted], target_index=predicted, n_boxes=1,
            energy_in_box=0.05 if fixated else (0.4 if wrong else 0.6), box_area_fraction=0.3,
            enrichment=0.3 if fixated else 2.0, pointing_hit=float(not fixated),
            loc_iou=0.1 if fixated else 0.6, loc_correct=float(not fixated),
            background_fixation=float(fixated) if wrong else NAN, centre_hit=1.0))
    return records


@pytest.fixture(scope="module")
def runs():
    good, background = husky_run(1, 1), husky_run(120, 66)
    frames = records_to_frame(good), records_to_frame(background)
    summaries = [aggregate(f, class_names=["husky", "wolf"], seed=0) for f in frames]
    return summaries, frames


def test_the_good_model_has_honest_intervals(runs):
    (good, _), _ = runs
    assert good.accuracy_ci == pytest.approx((0.954304, 0.998527), abs=1e-6)
    fixation = good.methods["gradcam"].background_fixation
    # 1 of 1 with a 95% interval of [1.0, 1.0] was the bug; now: no interval, too few.
    assert (fixation.count, fixation.n, fixation.ci, fixation.too_few) == (1, 1, None, True)


@pytest.mark.parametrize("paired", [True, False])
def test_a_disaster_is_never_an_improvement(runs, paired):
    (good, background), (records_good, records_background) = runs
    comparison = compare_summaries(
        good, background, records_a=records_good if paired else None,
        records_b=records_background if paired else None)
    assert comparison.paired is paired
    accuracy = comparison.figure("accuracy")
    assert accuracy.assessment == "regression"
    if paired:
        # 119 discordant pairs, all one way.
        assert (accuracy.test, accuracy.discordant, accuracy.p_value) == (
            "mcnemar-exact", (119, 0), 2.0 ** -118)
    else:
        assert accuracy.test == "newcombe" and accuracy.interval[1] < 0
    # The rates among errors fell (100% -> 55%, 0.6% -> 5.6% energy ...) over 1 vs 120
    # errors: not comparable, never "improved".
    for key in ("gradcam.background_fixation_rate", "gradcam.energy_in_box.misclassified"):
        row = comparison.figure(key)
        assert row.assessment == "not_comparable", key
        assert row.note == "errors 1 → 120"
        assert row.test is None and row.significant is None
    fixation = comparison.figure("gradcam.background_fixation_rate")
    assert (fixation.a, fixation.b) == (1.0, 0.55)
    assert fixation.companion == "gradcam.background_fixation_per_sample"
    # The unconditional companion carries the assessment: 1 -> 66 fixated errors per 120.
    companion = comparison.figure("gradcam.background_fixation_per_sample")
    assert (companion.count_a, companion.n_a, companion.count_b, companion.n_b) == (1, 120, 66,
                                                                                    120)
    assert companion.assessment == "regression"
    if paired:
        # Fixated in B only: samples 1..65; in A only: none -> p = 2 · 2^-65.
        assert companion.discordant == (0, 65)
        assert companion.p_value == pytest.approx(2.0 ** -64)
    assert comparison.figure("gradcam.energy_in_box.all").assessment == "regression"
    assert comparison.overall == "B is worse than A"
    assert comparison.improvements == []
    assert comparison.sentence.startswith("B is worse than A: accuracy 99.2% → 0.0%;")


def test_a_conditional_figure_is_comparable_when_the_errors_hold_steady():
    # 30 errors in both runs (paired on the same samples): the rate among errors is tested
    # as usual (interval rules: the errors are not the same samples).
    a_records = records_to_frame(husky_run(30, 3))
    b_records = records_to_frame(husky_run(30, 27))
    a, b = (aggregate(f, class_names=["husky", "wolf"], seed=0) for f in (a_records, b_records))
    comparison = compare_summaries(a, b, records_a=a_records, records_b=b_records)
    assert comparison.figure("accuracy").assessment == "no_significant_change"
    rate = comparison.figure("gradcam.background_fixation_rate")
    assert (rate.test, rate.assessment) == ("newcombe", "regression")  # 10% -> 90%


def test_identical_runs_show_no_significant_change(runs):
    (good, _), (records, _) = runs
    for kwargs in ({}, {"records_a": records, "records_b": records}):
        comparison = compare_summaries(good, good, **kwargs)
        assert comparison.overall == "no significant change"
        assert comparison.regressions == comparison.improvements == []
        assessments = {r.figure: r.assessment for r in comparison.figures}
        assert assessments["accuracy"] == "no_significant_change"
        # 1 error: too few to judge, in either comparison.
        assert assessments["gradcam.background_fixation_rate"] == "too_few"
    paired = compare_summaries(good, good, records_a=records, records_b=records)
    assert paired.figure("accuracy").p_value == 1.0
    assert paired.figure("gradcam.energy_in_box.all").interval == (0.0, 0.0)


def test_too_few_samples_are_not_evidence():
    a, b = (aggregate(records_to_frame(husky_run(w, f, n=8)), class_names=["husky", "wolf"],
                      seed=0) for w, f in ((0, 0), (8, 8)))
    comparison = compare_summaries(a, b)
    # 8 samples < min_n 10: even 100% -> 0% accuracy is not judged.
    accuracy = comparison.figure("accuracy")
    assert (accuracy.assessment, accuracy.note) == ("too_few",
                                                     "too few samples to judge: n=8 < min_n 10")
    assert comparison.overall == "no significant change"
    assert "not weighed" in comparison.sentence
    assert compare_summaries(a, b, min_n=5).overall == "B is worse than A"


def test_pairing_needs_the_same_samples():
    a = records_to_frame(husky_run(1, 1))
    assert pairing(a, a).paired is True and pairing(a, a).n_samples == 120
    fewer = records_to_frame(husky_run(1, 1, n=100))
    assert pairing(a, fewer).reason.startswith("the runs audited different samples (20 only "
                                               "in A, 0 only in B)")
    relabelled = a.copy()
    relabelled.loc[0, "label_index"] = 1
    assert not pairing(a, relabelled).paired
    assert pairing(a, None).reason == ("no records.csv of B: figures compared by interval "
                                       "rules")


def test_a_figure_an_older_summary_lacks_comes_from_its_records(runs):
    (good, background), (records_good, records_background) = runs
    old = Summary.model_validate(json.loads(good.model_dump_json(
        exclude={"methods": {"gradcam": {"background_fixation_per_sample"}}})))
    assert old.methods["gradcam"].background_fixation_per_sample.mean is None
    comparison = compare_summaries(old, background, records_a=records_good,
                                   records_b=records_background)
    row = comparison.figure("gradcam.background_fixation_per_sample")
    assert (row.count_a, row.n_a, row.assessment) == (1, 120, "regression")


def test_counter_evidence_has_no_companion_even_from_records():
    # The negative-evidence map's errors carry no fixation flag: its per-sample companion is
    # undefined in the summary, and the records must not turn it into "0 of n".
    import dataclasses

    records = [dataclasses.replace(r, method="negative", background_fixation=NAN)
               for r in husky_run(30, 10)]
    frame = records_to_frame(records)
    summary = aggregate(frame, class_names=["husky", "wolf"], seed=0)
    assert summary.methods["negative"].background_fixation_per_sample.mean is None
    row = compare_summaries(summary, summary, records_a=frame, records_b=frame).figure(
        "negative.background_fixation_per_sample")
    assert (row.assessment, row.better) == ("undefined", None)


@pytest.mark.parametrize("assessments, answer", [
    (["regression", "no_significant_change"], "B is worse than A"),
    (["improvement", "too_few"], "B is better than A"),
    (["improvement", "regression"], "mixed"),
    (["no_significant_change", "changed", "not_comparable"], "no significant change"),
])
def test_overall_rule(assessments, answer):
    from types import SimpleNamespace

    rows = [SimpleNamespace(figure=f"gradcam.f{i}", unit="pct", a=0.5, b=0.6, assessment=a)
            for i, a in enumerate(assessments)]
    result = overall_answer(rows)
    assert result.overall == answer
    if answer == "mixed":
        assert result.sentence.startswith("Mixed: worse in Grad-CAM f1 50.0% → 60.0%; better "
                                          "in Grad-CAM f0")


# --- Old summaries, the command line and comparison.json --------------------------------------


def test_a_schema_1_summary_reads_with_counts():
    v1 = {"schema_version": 1, "n_samples": 120, "accuracy": 0.75, "accuracy_ci": [0.7, 0.8],
          "methods": {"gradcam": {"background_fixation": {"n": 30, "count": 12, "mean": 0.4,
                                                          "ci": [0.3, 0.5]},
                                  "pointing_hit": {"all": {"n": 100, "mean": 0.61, "ci": [0.5,
                                                                                          0.7],
                                                           "n_nan": 20}}}},
          "centre_baseline": {"n": 100, "mean": 0.3, "ci": [0.2, 0.4], "n_nan": 20}}
    summary = RunSummary.model_validate(v1)
    assert summary.methods["gradcam"].pointing_hit.all.count == 61
    assert summary.centre_baseline.count == 30 and summary.min_n is None
    assert summary.methods["gradcam"].background_fixation.method is None  # not recorded
    comparison = compare_summaries(summary, summary)
    assert comparison.figure("accuracy").count_a == 90
    assert comparison.overall == "no significant change"


def write_run(folder, records, summary, run_id):
    folder.mkdir()
    summary = RunSummary.model_validate({**summary.model_dump(), "run_id": run_id})
    write_summary(folder / "summary.json", summary)
    records_to_frame(records).to_csv(folder / "records.csv", index=False)


def test_compare_cli_writes_comparison_json(tmp_path, capsys):
    good, background = husky_run(1, 1), husky_run(120, 66)
    for name, records in (("A", good), ("B", background)):
        summary = aggregate(records_to_frame(records), class_names=["husky", "wolf"], seed=0)
        write_run(tmp_path / name, records, summary, f"run-{name}")
    out = tmp_path / "pages" / "compare.html"
    out.parent.mkdir()
    code = main(["compare", str(tmp_path / "A"), str(tmp_path / "B"), "--out", str(out),
                 "--json", str(tmp_path / "c.json")])
    assert code == 0  # a report, not a verdict
    text = capsys.readouterr().out
    assert "Overall: B is worse than A: accuracy 99.2% → 0.0%" in text
    assert "McNemar exact" in text and "p = 3.0e-36" in text
    assert "not comparable (errors 1 → 120" in text
    data = json.loads((tmp_path / "c.json").read_text())
    assert data == json.loads((out.parent / "comparison.json").read_text())
    assert data["overall"] == "B is worse than A" and data["paired"] is True
    Comparison.model_validate({k: v for k, v in data.items() if k not in ("run_a", "run_b")})
    row = next(r for r in data["figures"] if r["figure"] == "accuracy")
    assert {k: row[k] for k in ("figure", "method", "a", "b", "n_a", "n_b", "test", "p_value",
                                "interval", "assessment")} == {
        "figure": "accuracy", "method": None, "a": pytest.approx(119 / 120), "b": 0.0,
        "n_a": 120, "n_b": 120, "test": "mcnemar-exact", "p_value": 2.0 ** -118,
        "interval": None, "assessment": "regression"}
    assert row["difference"] == pytest.approx(-119 / 120)
    html = out.read_text()
    assert html.index("B is worse than A") < html.index("Key figures")
    assert "not comparable" in html and "p = 3.0e-36" in html


def test_compare_cli_of_identical_runs(tmp_path):
    records = husky_run(1, 1)
    summary = aggregate(records_to_frame(records), class_names=["husky", "wolf"], seed=0)
    write_run(tmp_path / "A", records, summary, "run-A")
    write_run(tmp_path / "B", records, summary, "run-B")
    assert main(["compare", str(tmp_path / "A"), str(tmp_path / "B"), "--json",
                 str(tmp_path / "c.json")]) == 0
    data = json.loads((tmp_path / "c.json").read_text())
    assert data["overall"] == "no significant change"
    assert read_summary(tmp_path / "A" / "summary.json").min_n == 10


# --- Doctests are the spec ---------------------------------------------------------------------


@pytest.mark.parametrize("name", [
    "audit.metrics.proportions", "audit.metrics.sample_size", "audit.metrics.bootstrap",
    "audit.comparison.difference", "audit.comparison.mcnemar",
    "audit.comparison.paired_bootstrap", "audit.comparison.unpaired",
    "audit.comparison.figures", "audit.comparison.overall", "audit.comparison.compare",
    "audit.analysis.aggregate", "audit.report.format", "audit.metrics.seeds",
    "audit.metrics.outcomes", "audit.validation",
])
def test_doctests(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0


def _row(figure, p, significant, difference=-0.1, interval=None):
    from audit.comparison.compare import FigureComparison

    return FigureComparison(figure=figure, label=figure, method=None, kind="proportion",
                            unit="pct", better="higher", a=0.9, b=0.8, difference=difference,
                            p_value=p, interval=interval, significant=significant,
                            assessment="regression" if significant else
                            "no_significant_change")


def test_false_discovery_rate_across_the_compared_figures():
    from audit.comparison.compare import control_fdr

    # m = 4 tested: p 0.01, 0.04, 0.03 and an interval test (d = 0.1, 95% interval touching
    # 0: p = 0.05). Lines k q / m: 0.0125, 0.025, 0.0375, 0.05; sorted 0.01, 0.03, 0.04, 0.05:
    # only 0.05 <= 0.05 at k = 4, so step-up keeps all four significant.
    rows = [_row("a", 0.01, True), _row("b", 0.04, True), _row("c", 0.03, True),
            _row("d", None, True, difference=0.1, interval=(0.0, 0.2)),
            _row("untested", None, None)]
    kept = control_fdr(rows, fdr=0.05, confidence=0.95)
    assert [r.significant for r in kept] == [True, True, True, True, None]
    # Make the last one p ~ 0.32 (d = 0.1, interval -0.096 .. 0.296): k = 1 now
    # (0.03 > 0.025, 0.04 > 0.0375), so b and c lose their significance, with a note.
    rows[3] = _row("d", None, False, difference=0.1, interval=(-0.096, 0.296))
    kept = control_fdr(rows, fdr=0.05, confidence=0.95)
    assert [r.significant for r in kept] == [True, False, False, False, None]
    assert kept[1].assessment == "no_significant_change"
    assert "not after false-discovery-rate control" in kept[1].note
    assert kept[0].p_adjusted == pytest.approx(0.04)  # 0.01 x 4 / 1
    assert kept[4].p_adjusted is None
