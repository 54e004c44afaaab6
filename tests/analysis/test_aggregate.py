"""The aggregate of score records: hand-built record sets with known figures."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pandas as pd
import pytest

from audit.analysis.aggregate import PROPORTION_SCORES, SCORES, fixation_outcomes, sub_seed
from audit.analysis.aggregate import aggregate as aggregate_summary
from audit.metrics import describe, wilson_interval
from audit.metrics.records import ScoreRecord, read_records, records_to_frame


def aggregate(*args, **kwargs) -> dict:
    """The summary as ``summary.json`` holds its figures (the assertions read keys)."""
    return aggregate_summary(*args, **kwargs).model_dump(mode="json")


pytestmark = pytest.mark.filterwarnings("error::RuntimeWarning")

CLASSES = ["cat", "dog", "fox"]
NAN = math.nan


def rec(sample, label, predicted, method, target="predicted", centre=1.0, **scores):
    target_index = predicted if target == "predicted" else label
    return ScoreRecord(
        sample_id=sample,
        image=f"images/{sample}.png",
        label=CLASSES[label],
        label_index=label,
        predicted=CLASSES[predicted],
        predicted_index=predicted,
        correct=label == predicted,
        confidence=0.8,
        method=method,
        target=target,
        target_class=CLASSES[target_index],
        target_index=target_index,
        n_boxes=scores.pop("n_boxes", 1),
        centre_hit=centre,
        **scores,
    )


def scores(energy, enrichment, hit, iou, **extra):
    return dict(
        energy_in_box=energy,
        box_area_fraction=0.4,
        enrichment=enrichment,
        pointing_hit=hit,
        loc_iou=iou,
        loc_correct=NAN if math.isnan(iou) else float(iou >= 0.5),
        **extra,
    )


UNDEFINED = dict(energy_in_box=NAN, enrichment=NAN, pointing_hit=NAN, loc_iou=NAN)

# Six samples: (label, predicted, centre hit).
#   s1 cat -> cat   s2 cat -> dog   s3 dog -> dog   s4 dog -> cat   s5 fox -> fox
#   s6 fox -> cat, without a box (every box score NaN, centre hit NaN)
SAMPLES = {
    "s1": (0, 0, 1.0),
    "s2": (0, 1, 0.0),
    "s3": (1, 1, 1.0),
    "s4": (1, 0, 0.0),
    "s5": (2, 2, 1.0),
    "s6": (2, 0, NAN),
}


def build_records() -> list[ScoreRecord]:
    def r(sample, method, target="predicted", **kw):
        label, predicted, centre = SAMPLES[sample]
        return rec(sample, label, predicted, method, target, centre, **kw)

    return [
        # Grad-CAM, maps of the predicted class.
        r("s1", "gradcam", **scores(0.8, 2.0, 1.0, 0.6)),
        r("s2", "gradcam", **scores(0.1, 0.5, 0.0, 0.2, background_fixation=1.0)),
        r("s3", "gradcam", **scores(0.6, 1.5, 1.0, 0.4)),
        r("s4", "gradcam", **scores(0.5, 1.25, 1.0, 0.7, background_fixation=0.0)),
        r("s5", "gradcam", degenerate=True, **UNDEFINED),
        r("s6", "gradcam", n_boxes=0, **UNDEFINED),
        # Grad-CAM, maps of the true class of the misclassified samples.
        r("s2", "gradcam", "true", energy_in_box=0.7, enrichment=3.5),
        r("s4", "gradcam", "true", energy_in_box=0.3, enrichment=0.75),
        r("s6", "gradcam", "true", n_boxes=0),
        # Score-CAM, predicted class only.
        r("s1", "scorecam", **scores(0.9, 2.25, 1.0, 0.8)),
        r("s2", "scorecam", **scores(0.48, 1.2, 1.0, 0.5, background_fixation=0.0)),
        r("s3", "scorecam", **scores(0.7, 1.75, 1.0, 0.9)),
        r("s4", "scorecam", **scores(0.44, 1.1, 0.0, 0.1, background_fixation=0.0)),
        r("s5", "scorecam", **scores(0.2, 0.5, 0.0, 0.3)),
        r("s6", "scorecam", n_boxes=0, **UNDEFINED),
    ]


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return records_to_frame(build_records())


#: The hand-built runs are tiny: min_n 1 keeps their intervals (min_n has tests of its own).
OPTIONS = dict(class_names=CLASSES, seed=11, n_resamples=300, min_n=1)


@pytest.fixture(scope="module")
def summary(frame) -> dict:
    return aggregate(frame, **OPTIONS)


def approx_stat(n, mean, n_nan):
    return {"n": n, "mean": mean if mean is None else pytest.approx(mean), "n_nan": n_nan}


def without_ci(stat):
    return {k: v for k, v in stat.items() if k in ("n", "mean", "n_nan")}


def wilson(count, n):
    return list(wilson_interval(count, n))


def prop(count, n, n_nan=0, *, min_n=1):
    """A PROPORTION with its Wilson interval (none when too few)."""
    too_few = n < min_n
    return {"n": n, "count": count, "mean": count / n if n else None,
            "ci": None if too_few else wilson(count, n), "n_nan": n_nan,
            "method": "wilson", "too_few": too_few}


# ---------------------------------------------------------------------------- sample level


def test_keys(summary):
    assert set(summary) == {
        "schema_version",
        "n_samples",
        "class_names",
        "min_n",
        "accuracy",
        "accuracy_ci",
        "correct",
        "per_class",
        "confusion_matrix",
        "centre_baseline",
        "methods",
        # evidence figures, filled in when the pipeline runs the evidence stages
        "behaviour",
        "baselines",
        "faithfulness",  # how faithfulness was decided (the test, the looks, the counts)
        # counts the aggregate stage fills in from the skipped table and the manifest
        "n_skipped",
        "n_boxes_clipped",
        "n_duplicates",
        "skipped_fraction",
        # per-subgroup figures, filled in when the configuration names slices
        "min_slice_size",
        "slices",
    }
    assert summary["schema_version"] == 2 and summary["min_n"] == 1
    assert list(summary["methods"]) == ["gradcam", "scorecam"]
    gradcam = summary["methods"]["gradcam"]
    assert set(gradcam) == {
        "n_maps",
        "n_degenerate",
        "background_fixation_rate",
        "background_fixation",
        "background_fixation_per_sample",
        "pointing_accuracy",
        "localization_accuracy",
        "true_class",
        "faithfulness",  # evidence figures: None without the evidence stages
        "sanity",
        "behaviour_agreement",
        *SCORES,
    }
    stat_keys = {"n", "mean", "ci", "n_nan", "method", "too_few"}
    for score in SCORES:
        assert set(gradcam[score]) == {"all", "correct", "misclassified"}
        for stat in gradcam[score].values():
            if score in PROPORTION_SCORES:
                assert set(stat) == stat_keys | {"count"} and stat["method"] == "wilson"
            else:
                assert set(stat) == stat_keys and stat["method"] == "bootstrap"
    assert set(gradcam["true_class"]) == {"energy_in_box", "enrichment"}
    for proportion in (gradcam["background_fixation"], gradcam["background_fixation_per_sample"],
                       summary["correct"], summary["centre_baseline"]):
        assert set(proportion) == stat_keys | {"count"} and proportion["method"] == "wilson"


def test_accuracy_and_confusion_matrix(summary):
    assert summary["n_samples"] == 6
    assert summary["class_names"] == CLASSES
    assert summary["accuracy"] == 0.5
    assert summary["correct"] == prop(3, 6)
    assert summary["accuracy_ci"] == wilson(3, 6)
    assert summary["confusion_matrix"] == {
        "labels": CLASSES,
        # Rows: true class; columns: predicted class.
        "matrix": [[1, 1, 0], [1, 1, 0], [1, 0, 1]],
    }


def test_per_class(summary):
    def figures(accuracy, fixation, per_sample):
        return {
            "n": 2,
            "accuracy": accuracy,
            "correct": prop(1, 2),
            "n_misclassified": 1,
            "background_fixation_rate": {m: f["mean"] for m, f in fixation.items()},
            "background_fixation": fixation,
            "background_fixation_per_sample": per_sample,
        }

    assert summary["per_class"] == {
        # s1 (correct) and s2 (fixated under Grad-CAM, not under Score-CAM).
        "cat": figures(0.5, {"gradcam": prop(1, 1), "scorecam": prop(0, 1)},
                       {"gradcam": prop(1, 2), "scorecam": prop(0, 2)}),
        # s3 (correct) and s4 (not fixated).
        "dog": figures(0.5, {"gradcam": prop(0, 1), "scorecam": prop(0, 1)},
                       {"gradcam": prop(0, 2), "scorecam": prop(0, 2)}),
        # fox's one misclassified sample (s6) has no box: no defined fixation score; s5's
        # Grad-CAM map is degenerate.
        "fox": figures(0.5, {"gradcam": prop(0, 0, 1), "scorecam": prop(0, 0, 1)},
                       {"gradcam": prop(0, 0, 2), "scorecam": prop(0, 1, 1)}),
    }


def test_class_without_samples():
    frame = records_to_frame([rec("a", 0, 0, "gradcam"), rec("b", 0, 1, "gradcam")])
    summary = aggregate(frame, class_names=CLASSES, seed=0, n_resamples=50)
    empty = prop(0, 0)
    assert summary["per_class"]["fox"] == {
        "n": 0,
        "accuracy": None,
        "correct": empty,
        "n_misclassified": 0,
        "background_fixation_rate": {"gradcam": None},
        "background_fixation": {"gradcam": empty},
        "background_fixation_per_sample": {"gradcam": empty},
    }
    assert summary["confusion_matrix"]["matrix"] == [[1, 1, 0], [0, 0, 0], [0, 0, 0]]


def test_centre_baseline(summary):
    # One value per sample: 1, 0, 1, 0, 1 and NaN for s6 (no box).
    assert summary["centre_baseline"] == prop(3, 5, 1)


# ---------------------------------------------------------------------------- per method


def test_method_headline_figures(summary):
    gradcam = summary["methods"]["gradcam"]
    assert gradcam["n_maps"] == 6
    assert gradcam["n_degenerate"] == 1
    # Misclassified samples with a defined score: s2 (fixed) and s4 (not); s6 has no box.
    assert gradcam["background_fixation_rate"] == 0.5
    assert gradcam["background_fixation"] == prop(1, 2, 1)
    # The unconditional companion: s2 fixated, of the four maps with a defined enrichment
    # (s5's map is degenerate, s6 has no box).
    assert gradcam["background_fixation_per_sample"] == prop(1, 4, 2)
    assert gradcam["pointing_accuracy"] == 0.75  # 1, 0, 1, 1
    assert gradcam["localization_accuracy"] == 0.5  # 0.6, 0.2, 0.4, 0.7 against 0.5

    scorecam = summary["methods"]["scorecam"]
    assert scorecam["n_maps"] == 6 and scorecam["n_degenerate"] == 0
    assert scorecam["background_fixation_rate"] == 0.0
    assert scorecam["background_fixation"] == prop(0, 2, 1)
    assert scorecam["background_fixation_per_sample"] == prop(0, 5, 1)
    assert scorecam["pointing_accuracy"] == pytest.approx(3 / 5)
    assert scorecam["localization_accuracy"] == pytest.approx(3 / 5)


def test_score_stats_split_by_correctness(summary):
    gradcam = summary["methods"]["gradcam"]
    energy = gradcam["energy_in_box"]
    assert without_ci(energy["all"]) == approx_stat(4, (0.8 + 0.1 + 0.6 + 0.5) / 4, 2)
    assert without_ci(energy["correct"]) == approx_stat(2, 0.7, 1)  # s1, s3; s5 degenerate
    assert without_ci(energy["misclassified"]) == approx_stat(2, 0.3, 1)  # s2, s4; s6 no box
    enrichment = gradcam["enrichment"]
    assert without_ci(enrichment["correct"]) == approx_stat(2, 1.75, 1)
    assert without_ci(enrichment["misclassified"]) == approx_stat(2, 0.875, 1)
    assert gradcam["pointing_hit"]["all"] == prop(3, 4, 2)
    assert without_ci(gradcam["loc_iou"]["all"]) == approx_stat(4, 0.475, 2)
    assert gradcam["loc_correct"]["misclassified"] == prop(1, 2, 1)
    for score in SCORES:
        for stat in gradcam[score].values():
            assert stat["ci"][0] <= stat["mean"] <= stat["ci"][1]


def test_true_class_maps(summary):
    true_class = summary["methods"]["gradcam"]["true_class"]
    assert without_ci(true_class["energy_in_box"]) == approx_stat(2, 0.5, 1)
    assert without_ci(true_class["enrichment"]) == approx_stat(2, 2.125, 1)
    # Score-CAM has no maps of the true class.
    assert summary["methods"]["scorecam"]["true_class"]["enrichment"] == {
        "n": 0,
        "mean": None,
        "ci": None,
        "n_nan": 0,
        "method": "bootstrap",
        "too_few": True,  # n = 0 < min_n
    }


def test_stray_rows_of_correct_samples_are_ignored(frame):
    stray = records_to_frame(
        [
            rec("s1", 0, 0, "gradcam", "true", energy_in_box=0.0, enrichment=0.0),
        ]
    )
    summary = aggregate(pd.concat([frame, stray], ignore_index=True), **OPTIONS)
    reference = aggregate(frame, **OPTIONS)
    assert (
        summary["methods"]["gradcam"]["true_class"] == reference["methods"]["gradcam"]["true_class"]
    )


def test_stat_matches_describe_with_its_sub_seed(frame, summary):
    predicted = frame[(frame["method"] == "gradcam") & (frame["target"] == "predicted")]
    expected = describe(
        predicted.sort_values("sample_id")["enrichment"].to_numpy(),
        seed=sub_seed(11, "methods.gradcam.enrichment.all"),
        n_resamples=300,
        min_n=1,
    )
    assert summary["methods"]["gradcam"]["enrichment"]["all"] == expected


# ------------------------------------------------------------------ small samples (min_n)


def good_model_records(n_samples=120, n_wrong=1, *, fixated=True, method="gradcam"):
    """``n_samples`` samples of class cat, the first ``n_wrong`` predicted dog; every map has
    a box. The errors' maps sit on the background (``fixated``) or on the object."""
    records = []
    for i in range(n_samples):
        wrong = i < n_wrong
        enrichment = 0.5 if wrong and fixated else 2.0
        records.append(rec(f"s{i:03d}", 0, 1 if wrong else 0, method,
                           **scores(0.3, enrichment, 1.0, 0.6, background_fixation=(
                               float(enrichment < 1.0) if wrong else NAN))))
    return records


def test_proportions_get_wilson_intervals_and_few_samples_none():
    summary = aggregate(records_to_frame(good_model_records()), class_names=CLASSES, seed=0)
    assert summary["min_n"] == 10
    # 119 of 120 correct: Wilson [0.9543, 0.9985], not the bootstrap's [0.975, 1.0].
    assert summary["correct"] == prop(119, 120)
    assert summary["accuracy_ci"] == pytest.approx([0.9543037, 0.9985274])
    gradcam = summary["methods"]["gradcam"]
    # The one error is fixated: 1 of 1, shown with its n and no interval.
    assert gradcam["background_fixation"] == prop(1, 1, min_n=10)
    assert gradcam["background_fixation"]["too_few"] is True
    assert gradcam["background_fixation"]["ci"] is None
    assert gradcam["background_fixation_rate"] == 1.0
    # Its companion: 1 fixated error per 120 samples, with an interval.
    assert gradcam["background_fixation_per_sample"] == prop(1, 120)
    # Means below min_n: no bootstrap interval either.
    assert gradcam["energy_in_box"]["misclassified"]["too_few"] is True
    assert gradcam["energy_in_box"]["misclassified"]["ci"] is None
    assert gradcam["energy_in_box"]["all"]["too_few"] is False
    assert gradcam["pointing_hit"]["all"] == prop(120, 120)
    assert summary["per_class"]["cat"]["correct"] == prop(119, 120)
    assert summary["per_class"]["dog"]["correct"] == prop(0, 0, min_n=10)


def test_background_model_companion():
    # Every sample wrong, 66 of 120 errors on the background.
    records = good_model_records(n_wrong=120, fixated=False)
    records = [r if i >= 66 else dataclasses.replace(r, enrichment=0.5, background_fixation=1.0)
               for i, r in enumerate(records)]
    gradcam = aggregate(records_to_frame(records), class_names=CLASSES, seed=0)["methods"][
        "gradcam"]
    assert gradcam["background_fixation"] == prop(66, 120)
    assert gradcam["background_fixation_per_sample"] == prop(66, 120)
    assert gradcam["energy_in_box"]["correct"]["n"] == 0


def test_counter_evidence_has_no_per_sample_fixation():
    # The negative-evidence map's errors carry no flag: its companion is undefined, not 0.
    records = [dataclasses.replace(r, background_fixation=NAN)
               for r in good_model_records(20, 5, method="negative")]
    negative = aggregate(records_to_frame(records), class_names=CLASSES, seed=0)["methods"][
        "negative"]
    assert negative["background_fixation"]["n"] == 0
    assert negative["background_fixation_per_sample"] == prop(0, 0, 20, min_n=10)


def test_fixation_outcomes():
    frame = records_to_frame([
        rec("a", 0, 1, "gradcam", **scores(0.1, 0.5, 0.0, 0.1, background_fixation=1.0)),
        rec("b", 0, 1, "gradcam", **scores(0.6, 1.5, 1.0, 0.7, background_fixation=0.0)),
        rec("c", 0, 0, "gradcam", **scores(0.6, 1.5, 1.0, 0.7)),
        rec("d", 0, 0, "gradcam", degenerate=True, **UNDEFINED),
    ])
    np.testing.assert_array_equal(fixation_outcomes(frame), [1.0, 0.0, 0.0, NAN])


@pytest.mark.parametrize("min_n", [0, -1, 2.5, True])
def test_rejects_bad_min_n(frame, min_n):
    with pytest.raises(ValueError, match="min_n must be an integer >= 1"):
        aggregate(frame, class_names=CLASSES, seed=0, min_n=min_n)


# ------------------------------------------------------------------- JSON and determinism


def walk(value, path="summary"):
    if isinstance(value, dict):
        for key, item in value.items():
            assert type(key) is str, path
            walk(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            walk(item, f"{path}[{index}]")
    else:
        assert value is None or type(value) in (str, int, float, bool), (path, type(value))
        if type(value) is float:
            assert math.isfinite(value), path


def test_json_ready(summary):
    walk(summary)
    text = json.dumps(summary, allow_nan=False)
    assert json.loads(text) == summary


def test_deterministic_and_independent_of_row_order(frame, summary):
    again = aggregate(frame, **OPTIONS)
    assert again == summary
    for state in (0, 1, 2):
        shuffled = frame.sample(frac=1.0, random_state=state).reset_index(drop=True)
        assert aggregate(shuffled, **OPTIONS) == summary


def test_round_trip_through_records_csv(frame, summary, tmp_path):
    path = tmp_path / "records.csv"
    frame.to_csv(path, index=False)
    assert aggregate(read_records(path), **OPTIONS) == summary


def test_seed_moves_intervals_not_means(frame, summary):
    other = aggregate(frame, **{**OPTIONS, "seed": 12})
    assert other["accuracy"] == summary["accuracy"]
    assert other["correct"] == summary["correct"]  # a Wilson interval draws nothing
    assert other["methods"]["gradcam"]["energy_in_box"]["all"]["mean"] == pytest.approx(
        summary["methods"]["gradcam"]["energy_in_box"]["all"]["mean"]
    )
    assert other != summary


def test_figures_do_not_depend_on_other_methods(frame, summary):
    only_gradcam = frame[frame["method"] == "gradcam"].reset_index(drop=True)
    alone = aggregate(only_gradcam, **OPTIONS)
    assert alone["methods"]["gradcam"] == summary["methods"]["gradcam"]
    assert alone["accuracy_ci"] == summary["accuracy_ci"]
    assert alone["centre_baseline"] == summary["centre_baseline"]


def test_sub_seed_is_stable_and_distinct():
    # Pinned: a change here changes every published interval.
    assert sub_seed(0, "accuracy") == 12835848483295023025
    assert sub_seed(12345, "methods.gradcam.enrichment.all") == 5702821635360757762
    names = [f"methods.gradcam.{s}.{split}" for s in SCORES for split in ("all", "correct")]
    assert len({sub_seed(0, n) for n in names}) == len(names)
    assert sub_seed(0, "accuracy") != sub_seed(1, "accuracy")


def test_empty_records():
    summary = aggregate(records_to_frame([]), class_names=CLASSES, seed=0)
    assert summary["n_samples"] == 0
    assert summary["accuracy"] is None and summary["accuracy_ci"] is None
    assert summary["methods"] == {}
    assert summary["confusion_matrix"]["matrix"] == [[0, 0, 0]] * 3
    assert summary["centre_baseline"] == prop(0, 0)
    assert summary["per_class"]["cat"]["accuracy"] is None
    json.dumps(summary, allow_nan=False)


def test_larger_random_run_is_fast_and_consistent():
    rng = np.random.default_rng(0)
    records = []
    for i in range(400):
        label = int(rng.integers(3))
        predicted = label if rng.random() < 0.7 else int((label + 1) % 3)
        centre = float(rng.random() < 0.3)
        for method in ("gradcam", "gradcam++", "scorecam", "negative"):
            enrichment = float(rng.gamma(2.0, 0.6))
            fixation = NAN if label == predicted else float(enrichment < 1.0)
            records.append(
                rec(
                    f"img{i:04d}",
                    label,
                    predicted,
                    method,
                    centre=centre,
                    **scores(
                        enrichment * 0.3,
                        enrichment,
                        float(rng.random() < 0.6),
                        float(rng.random()),
                        background_fixation=fixation,
                    ),
                )
            )
            if label != predicted:
                records.append(
                    rec(f"img{i:04d}", label, predicted, method, "true", centre, enrichment=1.5)
                )
    frame = records_to_frame(records)
    summary = aggregate(frame, class_names=CLASSES, seed=3, n_resamples=1000)
    json.dumps(summary, allow_nan=False)
    assert summary["n_samples"] == 400
    assert sum(map(sum, summary["confusion_matrix"]["matrix"])) == 400
    for method in summary["methods"].values():
        assert method["n_maps"] == 400
        assert method["pointing_accuracy"] == method["pointing_hit"]["all"]["mean"]
        assert method["localization_accuracy"] == method["loc_correct"]["all"]["mean"]
        assert method["background_fixation"]["n"] == 400 - sum(
            summary["per_class"][c]["n"] - summary["per_class"][c]["n_misclassified"]
            for c in CLASSES
        )


# --------------------------------------------------------------------------------- errors


def test_rejects_missing_columns(frame):
    with pytest.raises(ValueError, match=r"lack the column\(s\) \['enrichment'\]"):
        aggregate(frame.drop(columns=["enrichment"]), class_names=CLASSES, seed=0)


def test_rejects_non_frames():
    with pytest.raises(ValueError, match="pandas DataFrame"):
        aggregate(build_records(), class_names=CLASSES, seed=0)


@pytest.mark.parametrize(
    "class_names, match",
    [
        (["cat", "dog", "cat"], "unique"),
        ([], "at least one class"),
        ("cat", "list of str"),
        ([0, 1, 2], "list of str"),
    ],
)
def test_rejects_bad_class_names(frame, class_names, match):
    with pytest.raises(ValueError, match=match):
        aggregate(frame, class_names=class_names, seed=0)


def test_rejects_class_index_outside_class_names(frame):
    with pytest.raises(ValueError, match=r"label_index 2 \(sample .s5.\).* must be in 0\.\.1"):
        aggregate(frame, class_names=["cat", "dog"], seed=0)


@pytest.mark.parametrize("kwargs", [{"seed": -1}, {"seed": 1.0}, {"seed": 0, "n_resamples": 0}])
def test_rejects_bad_options(frame, kwargs):
    with pytest.raises(ValueError, match="seed|n_resamples"):
        aggregate(frame, class_names=CLASSES, **kwargs)


def test_rejects_duplicate_maps(frame):
    doubled = pd.concat([frame, frame.iloc[[0]]], ignore_index=True)
    with pytest.raises(ValueError, match=r"duplicate .*\('s1', 'gradcam', 'predicted'\)"):
        aggregate(doubled, class_names=CLASSES, seed=0)


def test_rejects_inconsistent_correct_flag(frame):
    broken = frame.copy()
    broken.loc[0, "correct"] = False
    with pytest.raises(ValueError, match="'s1' say correct=False"):
        aggregate(broken, class_names=CLASSES, seed=0)


def test_rejects_rows_of_a_sample_that_disagree(frame):
    broken = frame.copy()
    row = broken.index[(broken["sample_id"] == "s3") & (broken["method"] == "scorecam")][0]
    broken.loc[row, "centre_hit"] = 0.0
    with pytest.raises(ValueError, match=r"'s3' disagree on \['centre_hit'\]"):
        aggregate(broken, class_names=CLASSES, seed=0)


def test_rejects_unknown_target(frame):
    broken = frame.copy()
    broken.loc[0, "target"] = "other"
    with pytest.raises(ValueError, match=r"target\(s\) \['other'\]"):
        aggregate(broken, class_names=CLASSES, seed=0)


def test_rejects_predicted_index_outside_class_names(frame):
    broken = frame.copy()
    broken.loc[broken["sample_id"] == "s2", "predicted_index"] = 5
    with pytest.raises(ValueError, match=r"predicted_index 5 \(sample 's2'\).* 0\.\.2"):
        aggregate(broken, class_names=CLASSES, seed=0)
