"""The background swap on the demo: the background-cued model is caught by the default
behavioural settings (BG-Gap and background reliance), the shape model is not.

BG-Gap asks how much accuracy the *class of the background* is worth, so it needs a set whose
backgrounds go with their classes, as a deployment's do (snow behind huskies): a held-out
set drawn like the training data (background correlation 0.95, a new seed). On the demo's
decorrelated audit set the background says nothing about the class and BG-Gap is near 0 for
any model; there the background-follow rate (the class the model reads into the donor's
background) and the fill test's reliance still separate the two models.
"""

from __future__ import annotations

import json

import pytest
import yaml
from conftest import demo_config

from audit.app.run import run_audit
from audit.config import parse_config
from audit.demo.shapes import generate_dataset
from audit.errors import ExitCode

pytestmark = pytest.mark.slow

GATES = {"max_bg_gap": 0.2, "max_background_reliance": 0.2}


@pytest.fixture(scope="module")
def deployment_like(tmp_path_factory):
    """60 held-out images of 40 px whose backgrounds go with their class (0.95)."""
    folder = tmp_path_factory.mktemp("deployment_like")
    return generate_dataset(folder / "set", n_images=60, image_size=40,
                            background_correlation=0.95, seed=11)


def _run(demo, manifest, tmp_path):
    tmp_path.mkdir(parents=True, exist_ok=True)
    pipeline = tmp_path / "swap.yaml"
    pipeline.write_text(yaml.safe_dump({"name": "swap", "stages": [
        "load_model", "load_dataset",
        {"explain": {"methods": ["gradcam"], "targets": ["predicted"]}}, "score",
        "background_swap", "behaviour", "aggregate", "gate", "gallery", "report"]}))
    config = demo_config(demo, tmp_path, pipeline=str(pipeline), gates=GATES,
                         dataset={"path": str(manifest)}, report={"gallery_size": 0})
    del config["behaviour"]  # the defaults are what is tested
    result = run_audit(parse_config(config, base_dir=tmp_path), out_dir=tmp_path / "run",
                       quiet=True)
    summary = json.loads((tmp_path / "run" / "summary.json").read_text(encoding="utf-8"))
    return result, summary


def test_swap_catches_the_background_model_not_the_shape_model(
        demo_small_biased, demo_small_unbiased, deployment_like, tmp_path):
    biased, b = _run(demo_small_biased, deployment_like, tmp_path / "biased")
    shape, s = _run(demo_small_unbiased, deployment_like, tmp_path / "shape")
    assert b["behaviour"]["fill"] == "gray"  # the default
    gap_b, gap_s = (x["behaviour"]["swap"]["bg_gap"] for x in (b, s))
    follow_b = b["behaviour"]["swap"]["background_follow_rate"]
    follow_s = s["behaviour"]["swap"]["background_follow_rate"]
    reliance_b, reliance_s = (x["behaviour"]["background_reliance"] for x in (b, s))
    print(f"BG-Gap {gap_b['value']:.2f} / {gap_s['value']:.2f}, follow "
          f"{follow_b['value']:.2f} / {follow_s['value']:.2f}, reliance "
          f"{reliance_b['value']:.2f} / {reliance_s['value']:.2f}")
    assert gap_b["value"] > 0.3 and gap_b["ci_low"] > 0.2
    assert reliance_b["value"] > 0.3
    assert follow_b["value"] > 0.7
    assert abs(gap_s["value"]) < 0.2 and reliance_s["value"] < 0.2
    assert follow_s["value"] < 0.5
    assert biased.exit_code == ExitCode.GATE_FAILED
    assert not b["gates"]["max_bg_gap"]["passed"]
    assert not b["gates"]["max_background_reliance"]["passed"]
    assert shape.exit_code == ExitCode.PASSED and s["verdict"] == "passed"
