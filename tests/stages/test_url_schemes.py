"""A manifest row at a URL whose scheme has no file system here is skipped, not the run."""

from __future__ import annotations

import pytest

from audit.datasets import Sample
from audit.errors import ConfigError
from audit.stages.load_dataset import _check_url_schemes


def test_an_unknown_scheme_skips_its_rows_only():
    samples = [Sample("a.png", "a.png", "/d/a.png", 0, "cat"),
               Sample("x", "nosuch://b/x.png", "nosuch://b/x.png", 0, "cat")]
    kept, skipped = _check_url_schemes(samples)
    assert kept == samples[:1]
    assert [s.sample_id for s in skipped] == ["x"]
    assert skipped[0].reason.startswith("image could not be read: ")
    assert "nosuch" in skipped[0].reason
    with pytest.raises(ConfigError):
        _check_url_schemes(samples[1:])
