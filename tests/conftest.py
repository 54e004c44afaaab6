"""Shared pytest fixtures.

The demo models are expensive (a few seconds of training each), so they are generated and
trained once per session, under one session folder.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from audit.demo import DemoPaths, ensure_demo


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
