"""User errors that once ended in exit 3 are exit 2 with one line (issue 22, point 8)."""

from __future__ import annotations

import pytest

from audit.config import parse_config
from audit.errors import ConfigError


def test_out_naming_an_existing_file_is_bad_input(tmp_path):
    from audit.app.run import run_audit

    (tmp_path / "taken").write_text("x")
    config = parse_config({"model": {"path": "m.keras"}, "dataset": {"path": "d.csv"}},
                          base_dir=tmp_path)
    with pytest.raises(ConfigError, match="--out must name a folder .* which is a file"):
        run_audit(config, out_dir=tmp_path / "taken", quiet=True)


def test_a_300_character_run_name_is_refused_by_the_config(tmp_path):
    with pytest.raises(ConfigError,
                       match="run_name: String should have at most 100 characters; got 'xxx"):
        parse_config({"run_name": "x" * 300, "model": {"path": "m.keras"},
                      "dataset": {"path": "d.csv"}})
