"""The summary's faithfulness figures from the stage's result, worked by hand."""

from __future__ import annotations

import pandas as pd
import pytest

from audit.analysis.evidence import faithfulness_figures, method_differences
from audit.evidence.outcomes import CurveTest, MethodDecision
from audit.stages.faithfulness import BASELINES, FaithfulnessResult


def _rows() -> pd.DataFrame:
    rows = []
    for sid in ("a", "b", "c", "d"):
        # The method: deletion 0.2, insertion 0.8, masked score 0.6 of 0.8 (drop 0.25).
        rows.append((sid, True, "cam", 0, 0.8, 0.2, 0.8, 0.6))
        # Two random maps: deletion 0.5 and 0.7 (mean 0.6), insertion 0.4 and 0.2 (0.3),
        # masked 0.4 and 0.9 of 0.8: drops 0.5 and 0 (mean 0.25), increases 0 and 1.
        rows.append((sid, True, "random", 0, 0.8, 0.5, 0.4, 0.4))
        rows.append((sid, True, "random", 1, 0.8, 0.7, 0.2, 0.9))
        rows.append((sid, True, "centre", 0, 0.8, 0.4, 0.5, 0.8))
    columns = ["sample_id", "correct", "map", "replicate", "score", "deletion_auc",
               "insertion_auc", "masked_score"]
    return pd.DataFrame(rows, columns=columns)


def test_figures_pair_the_method_with_the_mean_of_the_random_maps():
    rows = _rows()
    assert method_differences(rows, "cam", "deletion") == pytest.approx([0.4] * 4)
    assert method_differences(rows, "cam", "insertion") == pytest.approx([0.5] * 4)
    assert method_differences(rows, "cam", "average_drop") == pytest.approx([0.0] * 4)
    assert method_differences(rows, "cam", "increase_in_confidence") == pytest.approx([-0.5] * 4)
    test = CurveTest(4, 0.4, 0.4, 0.4, 1 / 16)
    result = FaithfulnessResult(
        rows=rows, decisions={"cam": MethodDecision("faithful", test, test, 1 / 16, 1 / 16,
                                                    0.05, decided_at=4)},
        looks=(4,), levels=(0.05,), n_used=4, n_available=4, random_maps=2)
    methods, baselines, run = faithfulness_figures(result, baselines=BASELINES, seed=0,
                                                   n_resamples=200)
    cam = methods["cam"]
    assert (cam.outcome, cam.decided_at, cam.p_adjusted) == ("faithful", 4, 1 / 16)
    assert cam.average_drop.mean == pytest.approx(0.25) and cam.average_drop.n == 4
    assert cam.paired.deletion_auc.mean == pytest.approx(0.4)
    # Four tied, positive differences: of the 2**4 sign patterns only all-positive is as
    # extreme, p = 1 / 16 (SciPy's exact enumeration with ties at n <= 13).
    assert cam.paired.deletion_auc.p_value == pytest.approx(1 / 16)
    assert cam.paired.increase_in_confidence.mean == pytest.approx(-0.5)
    # The random baseline's figures: per-sample means over its two maps.
    random = baselines["random"]
    assert random.n == 4 and random.deletion_auc.mean == pytest.approx(0.6)
    assert random.average_drop.mean == pytest.approx(0.25)
    assert random.increase_in_confidence.mean == pytest.approx(0.5)
    assert baselines["centre"].average_drop.mean == pytest.approx(0.0)
    assert (run.n_faithful, run.n_undecided, run.n_used, run.random_maps) == (1, 0, 4, 2)
    assert run.looks == [4] and not run.stopped_early
