"""Shared pytest fixtures.

The demo models are expensive (a few seconds of training each), so they are generated and
trained once per session, under one session folder.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from audit.config import parse_config
from audit.demo import DemoPaths, ensure_demo
from audit.run import run_audit

ROOT = Path(__file__).resolve().parents[1]
CLASSES = ["circle", "square", "triangle"]


def demo_config(demo, tmp_path, **overrides) -> dict:
    data = {
        "run_name": "test",
        "seed": 0,
        "pipeline": str(ROOT / "pipelines" / "audit.yaml"),
        "model": {"path": str(demo.model_path), "class_names": CLASSES},
        "dataset": {"path": str(demo.audit_manifest)},
        "cams": {"batch_size": 16, "scorecam_max_channels": 8},
        "metrics": {"pointing_tolerance_px": 4, "bootstrap_resamples": 200},
        "report": {"out_dir": str(tmp_path / "reports"), "gallery_size": 3},
        # The demo's backgrounds are plain colours: gray, not the image's mean colour, removes
        # them (see README, "Can these maps be trusted?"); small evidence subsets for speed.
        "behaviour": {"fill": "gray"},
        "faithfulness": {"max_samples": 24, "steps": 8, "substrate": "zero"},
        "sanity": {"samples": 8, "steps": 3},
    }
    for key, value in overrides.items():
        data[key] = {**data.get(key, {}), **value} if isinstance(value, dict) else value
    return data


@pytest.fixture(scope="session")
def demo_data_dir(tmp_path_factory) -> Path:
    """The session's folder for demo datasets and models."""
    return tmp_path_factory.mktemp("demo")


@pytest.fixture(scope="session")
def demo_small_biased(demo_data_dir) -> DemoPaths:
    """The small demo: a model trained with background correlation 0.95 (learns the background)."""
    return ensure_demo(demo_data_dir, size="small", seed=0, quiet=True)


@pytest.fixture(scope="session")
def demo_small_unbiased(demo_data_dir) -> DemoPaths:
    """The same shapes with background correlation 0.0: a model that must use the shape."""
    return ensure_demo(demo_data_dir, size="small", seed=0, quiet=True, background_correlation=0.0)


@pytest.fixture(scope="session")
def biased_run(demo_small_biased, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("biased_run")
    config = parse_config(demo_config(demo_small_biased, tmp), base_dir=tmp)
    return run_audit(config, out_dir=tmp / "run", quiet=True)


@pytest.fixture(scope="session")
def unbiased_run(demo_small_unbiased, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("unbiased_run")
    config = parse_config(demo_config(demo_small_unbiased, tmp), base_dir=tmp)
    return run_audit(config, out_dir=tmp / "run", quiet=True)
