"""Configuration validation and pipeline building: errors name the key, the value and what is
allowed."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from audit.config import load_config, parse_config
from audit.errors import ConfigError
from audit.pipeline.build import build_pipeline, load_pipeline

ROOT = Path(__file__).resolve().parents[1]
MINIMAL = {"model": {"path": "m.keras"}, "dataset": {"path": "d.csv"}}


def test_shipped_config_is_valid_and_complete():
    config = load_config(ROOT / "config.yaml")
    assert config.run_name == "demo" and config.demo is not None
    assert config.model.path == ROOT / "data/demo/model.keras"
    assert config.cams.methods == ["gradcam", "gradcam++", "scorecam", "negative"]
    dump = config.resolved_dump()
    for key in ("run_name", "seed", "pipeline", "model", "dataset", "cams", "metrics", "gates",
                "report"):
        assert key in dump


def test_defaults_fill_every_key_but_the_two_paths(tmp_path):
    config = parse_config(MINIMAL, base_dir=tmp_path)
    assert config.model.path == tmp_path / "m.keras"
    assert config.dataset.format == "csv" and config.cams.batch_size == 32
    assert config.metrics.pointing_tolerance_px == 15 and config.metrics.loc_threshold == 0.15
    assert config.gates.min_accuracy is None
    assert config.model.preprocessing.as_block() == {"rescale": 1 / 255, "offset": 0.0}


@pytest.mark.parametrize("patch,message", [
    ({"cams": {"batch_size": 0}}, r"cams\.batch_size: received 0; .*greater than or equal to 1"),
    ({"cams": {"methodz": ["gradcam"]}},
     r"cams\.methodz: unknown key\. Did you mean 'methods'\?"),
    ({"cams": {"methods": ["gradcam", "lime"]}}, r"cams\.methods\.1: received 'lime'"),
    ({"cams": {"targets": ["true"]}}, r"cams\.targets: .*must include 'predicted'"),
    ({"dataset": {"path": "d.csv", "format": "xml"}},
     r"dataset\.format: received 'xml'; .*'csv', 'jsonl', 'coco' or 'voc'"),
    ({"gates": {"min_accuracy": 1.5}}, r"gates\.min_accuracy: received 1\.5"),
    ({"model": {"path": "m.keras", "class_names": ["a", "a"]}}, r"repeated: \['a'\]"),
    ({"model": {"layer": None}}, r"model\.path: required key is missing"),
])
def test_errors_name_key_value_and_allowed(patch, message, tmp_path):
    data = {**MINIMAL, **patch}
    with pytest.raises(ConfigError, match=message):
        parse_config(data, where="config.yaml", base_dir=tmp_path)


def test_unreadable_and_missing_files(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("model: [unclosed\n")
    with pytest.raises(ConfigError, match="bad.yaml: not valid YAML"):
        load_config(bad)
    listy = tmp_path / "list.yaml"
    listy.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="expected a mapping"):
        load_config(listy)


def test_shipped_pipelines_build():
    for name in ("audit", "quick", "predeploy"):
        pipeline = load_pipeline(ROOT / "pipelines" / f"{name}.yaml")
        assert pipeline.name == name
        assert [s.name for s in pipeline.stages][:2] == ["load_model", "load_dataset"]
    quick = load_pipeline(ROOT / "pipelines" / "quick.yaml")
    assert quick.overrides() == {"cams": {"methods": ["gradcam"], "targets": ["predicted"]}}
    predeploy = load_pipeline("predeploy.yaml")  # found among the shipped ones by name
    assert predeploy.overrides()["gates"]["min_accuracy"] == 0.8


@pytest.mark.parametrize("stages,message", [
    (["load_model", "load_dataset", "predcit"], r"unknown stage 'predcit'\. Did you mean "
                                                r"'predict'\?"),
    (["load_model", "predict", "explain", "load_dataset", "score"],
     r"per-batch stages must follow each other"),
    (["predict"], r"stage 'predict' needs \['explainer'\].*made by load_model"),
    (["load_model", "load_model"], "appears twice"),
    ([{"predict": {"x": 1}}], "takes no parameters"),
    ([], "has no stages"),
])
def test_bad_pipelines(stages, message):
    with pytest.raises(ConfigError, match=message):
        build_pipeline({"name": "p", "stages": stages}, where="p.yaml")


def test_stage_parameters_are_validated_like_config(tmp_path):
    from audit.pipeline.runner import _apply_overrides

    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump({"stages": [
        "load_model", "load_dataset", "predict", {"explain": {"methods": ["nope"]}}, "score"]}))
    pipeline = load_pipeline(path)
    with pytest.raises(ConfigError, match=r"stage parameters\): cams\.methods\.0: received "
                                          r"'nope'"):
        _apply_overrides(parse_config(MINIMAL, base_dir=tmp_path), pipeline)
