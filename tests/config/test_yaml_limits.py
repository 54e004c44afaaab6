"""The bounded YAML reader (audit.safe_yaml) behind configurations and pipeline files."""

from __future__ import annotations

import pytest

from audit.config import load_config
from audit.errors import ConfigError
from audit.safe_yaml import MAX_BYTES, MAX_DEPTH, dump_yaml, load_yaml_text, read_yaml

BOMB = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]\n"
    for i in range(8))


def test_an_alias_bomb_is_refused_at_its_first_anchor(tmp_path):
    (tmp_path / "c.yaml").write_text(BOMB)
    with pytest.raises(ConfigError) as error:
        load_config(tmp_path / "c.yaml")
    message = str(error.value)
    assert "line 1: anchors and aliases are not allowed (&a)" in message
    assert len(message) < 300


def test_a_key_given_twice_names_both_lines(tmp_path):
    (tmp_path / "c.yaml").write_text(
        "model: {path: m.keras}\ndataset: {path: d.csv}\ngates:\n  min_accuracy: 0.9\n"
        "report: {}\ngates:\n  max_skipped_fraction: 0.1\n")
    with pytest.raises(ConfigError, match="key 'gates' is given twice, at line 3 and line 6"):
        load_config(tmp_path / "c.yaml")
    with pytest.raises(ConfigError, match="key 'x' is given twice, at line 2 and line 3"):
        load_yaml_text("a:\n  x: 1\n  x: 2\n", where="p.yaml")


def test_size_and_depth_are_capped(tmp_path):
    (tmp_path / "big.yaml").write_text("a: " + "x" * (MAX_BYTES + 1))
    with pytest.raises(ConfigError, match="must be at most 1,048,576 bytes"):
        read_yaml(tmp_path / "big.yaml")
    with pytest.raises(ConfigError, match=f"nesting must be at most {MAX_DEPTH} levels"):
        load_yaml_text("a:\n" + "".join("  " * i + "- \n" for i in range(1, 80)),
                       where="deep.yaml")
    with pytest.raises(ConfigError, match="nesting"):  # libyaml's own limit may come first
        load_yaml_text("[" * 100_000, where="deep.yaml")


def test_echoed_values_are_capped(tmp_path):
    (tmp_path / "c.yaml").write_text(f"run_name: {'x' * 5000}\nmodel: {{path: m}}\n"
                                     "dataset: {path: d.csv}\n")
    with pytest.raises(ConfigError) as error:
        load_config(tmp_path / "c.yaml")
    assert "run_name" in str(error.value) and len(str(error.value)) < 700


def test_a_long_run_name_is_refused_in_the_config(tmp_path):
    (tmp_path / "c.yaml").write_text(f"run_name: {'x' * 300}\nmodel: {{path: m}}\n"
                                     "dataset: {path: d.csv}\n")
    with pytest.raises(ConfigError, match="run_name.*at most 100 characters"):
        load_config(tmp_path / "c.yaml")


def test_a_pipeline_file_with_a_key_twice_is_refused(tmp_path):
    from audit.app.run import load_audit_pipeline

    (tmp_path / "p.yaml").write_text("name: p\nstages: [load_model]\nname: q\n")
    with pytest.raises(ConfigError, match="key 'name' is given twice, at line 1 and line 3"):
        load_audit_pipeline(tmp_path / "p.yaml")


def test_what_is_written_reads_back():
    shared = {"k": [1, 2]}
    assert load_yaml_text(dump_yaml({"a": shared, "b": shared}), where="x") == {
        "a": shared, "b": shared}
