"""Configuration validation and pipeline building: errors name the key, the value and what is
allowed."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from audit.app.run import RUN_INPUTS, load_audit_pipeline
from audit.config import load_config, parse_config
from audit.errors import ConfigError
from audit.pipeline import PipelineError, build_pipeline
from audit.stages import STAGES

ROOT = Path(__file__).resolve().parents[2]
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
    ({"cams": {"batch_size": 0}}, r"cams\.batch_size must be greater than or equal to 1; got 0"),
    ({"cams": {"methodz": ["gradcam"]}},
     r"cams\.methodz: unknown key\. Did you mean 'methods'\?"),
    ({"cams": {"methods": ["gradcam", "lime"]}},
     r"cams\.methods\.1: unknown CAM method\..*; got 'lime'"),
    ({"cams": {"targets": ["true"]}}, r"cams\.targets must include 'predicted'"),
    ({"dataset": {"path": "d.csv", "format": "xml"}},
     r"dataset\.format must be 'csv', 'jsonl', 'coco', 'voc' or 'folder'; got 'xml'"),
    ({"gates": {"min_accuracy": 1.5}}, r"gates\.min_accuracy must be .*; got 1\.5"),
    ({"model": {"path": "m.keras", "class_names": ["a", "a"]}}, r"repeated: \['a'\]"),
    ({"model": {"layer": None}}, r"model\.path: required key is missing"),
    ({"model": {"path": "m.keras", "output": ""}},
     r"model\.output: output must name one of the model's outputs.*; got ''"),
    ({"model": {"path": "m.keras", "tokens": {"gird": [14, 14]}}},
     r"model\.tokens\.gird: unknown key\. Did you mean 'grid'\? Allowed here: grid, skip"),
    ({"model": {"path": "m.keras", "tokens": {"grid": [14]}}},
     r"model\.tokens\.grid must be two integers \[h, w\]; got \[14\]"),
    ({"model": {"path": "m.keras", "tokens": {"grid": [0, 14]}}},
     r"model\.tokens\.grid must be two positive integers .*; got \[0, 14\]"),
    ({"model": {"path": "m.keras", "tokens": {"skip": -1}}},
     r"model\.tokens\.skip must be greater than or equal to 0; got -1"),
])
def test_errors_name_key_value_and_allowed(patch, message, tmp_path):
    data = {**MINIMAL, **patch}
    with pytest.raises(ConfigError, match=message):
        parse_config(data, where="config.yaml", base_dir=tmp_path)


def test_model_output_and_tokens(tmp_path):
    """Both default to null (one output; token grids inferred); a partial tokens block keeps
    its other key null."""
    config = parse_config(MINIMAL, base_dir=tmp_path)
    assert config.model.output is None and config.model.tokens is None
    data = {**MINIMAL, "model": {"path": "m.keras", "output": "class_probs",
                                 "tokens": {"grid": [14, 14], "skip": 1}}}
    model = parse_config(data, base_dir=tmp_path).model
    assert model.output == "class_probs"
    assert model.tokens.model_dump() == {"grid": (14, 14), "skip": 1}
    partial = {**MINIMAL, "model": {"path": "m.keras", "tokens": {"skip": 2}}}
    assert parse_config(partial, base_dir=tmp_path).model.tokens.model_dump() == {
        "grid": None, "skip": 2}


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
        pipeline = load_audit_pipeline(ROOT / "pipelines" / f"{name}.yaml")
        assert pipeline.name == name
        assert [s.name for s in pipeline.before] == ["load_model", "load_dataset", "slices"]
        evidence = name != "quick"  # quick leaves the evidence stages out
        strategies = name == "audit"  # strategy discovery is in the full audit only
        assert [s.name for s in pipeline.per_batch] == ["explain", "score"] + (
            ["background_swap", "behaviour"] if evidence else []) + (
            ["strategy_maps"] if strategies else []) + (
            ["gallery_maps"] if evidence else [])  # the errors' maps, kept for the gallery
        assert [s.name for s in pipeline.after] == (["faithfulness", "sanity"] if evidence
                                                    else []) + [
            "aggregate"] + (["strategies"] if strategies else []) + [
            "drift", "gate", "gallery", "report"]
        assert pipeline.stream == "batch"
        assert set(pipeline.collected) == {"records", "skipped", "batch_counts"} | (
            {"samples"} if evidence else set()) | (
            {"strategy_maps"} if strategies else set()) | (
            {"gallery_maps"} if evidence else set())
    quick = load_audit_pipeline(ROOT / "pipelines" / "quick.yaml")
    assert quick.overrides() == {"cams": {"methods": ["gradcam"], "targets": ["predicted"]}}
    predeploy = load_audit_pipeline("predeploy.yaml")  # found among the shipped ones by name
    assert predeploy.overrides()["gates"] == {"min_accuracy": 0.8,
                                              "max_background_fixation_rate": 0.5,
                                              "max_degenerate_fraction": 0.05}


def test_stage_order_comes_from_the_data_not_the_file():
    shuffled = ["report", "gallery", "gate", "score", "aggregate", "explain",
                "load_dataset", "load_model"]
    pipeline = build_pipeline({"name": "p", "stages": shuffled}, table=STAGES,
                              provided=RUN_INPUTS, where="p.yaml")
    # Listed backwards, each stage still runs after the stages that make its inputs; among
    # stages that could run, the one listed first goes first (gallery before aggregate). The
    # producers the file leaves out (drift for gate and report, slices for aggregate) are
    # added, each just before its first consumer (slices reads only the manifest: it runs
    # before the stream).
    assert pipeline.added == ("drift", "slices")
    assert [s.name for s in pipeline.stages] == [
        "load_model", "load_dataset", "slices", "explain", "score", "gallery", "aggregate",
        "drift", "gate", "report"]


@pytest.mark.parametrize("stages,message", [
    (["load_model", "load_dataset", "predcit"],
     "p.yaml: stages[2]: unknown stage 'predcit'. Did you mean 'predict'? Stages: load_model, "
     "load_dataset, slices, predict, explain, score, label_scores, label_behaviour, "
     "background_swap, behaviour, strategy_maps, gallery_maps, faithfulness, sanity, aggregate, "
     "strategies, drift, gate, gallery, report."),
    (["predict"],
     "p.yaml: stage 'predict' needs ['explainer', 'batch', 'model_info'], which no stage of "
     "the pipeline makes ('explainer' is made by load_model; 'batch' is made by "
     "load_dataset; 'model_info' is made by load_model)."),
    (["load_model", "load_dataset", "explain", "score", "aggregate", "gate",
      "report"],
     "p.yaml: stage 'report' needs ['gallery', 'behaviour_gallery'], which no stage of the "
     "pipeline makes ('gallery' is made by gallery; 'behaviour_gallery' is made by gallery)."),
    (["load_model", "load_model"], "p.yaml: stages[1]: stage 'load_model' appears twice."),
    ([{"predict": {"x": 1}}], "p.yaml: stages[0]: stage 'predict' takes no parameters; "
                              "got ['x']."),
    ([], "p.yaml: the pipeline has no stages."),
    (["load_model", "load_dataset", "predict", "explain"],
     "p.yaml: 'predictions' is made by both 'predict' and 'explain'; keep one of them."),
])
def test_bad_pipelines(stages, message):
    with pytest.raises(PipelineError) as error:
        build_pipeline({"name": "p", "stages": stages}, table=STAGES, provided=RUN_INPUTS,
                       where="p.yaml")
    assert str(error.value) == message


def test_stage_parameters_are_validated_like_config(tmp_path):
    from audit.app.run import _apply_overrides

    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump({"stages": [
        "load_model", "load_dataset", {"explain": {"methods": ["nope"]}}, "score"]}))
    pipeline = load_audit_pipeline(path)
    with pytest.raises(ConfigError, match=r"stage parameters\): cams\.methods\.0: unknown CAM "
                                          r"method\..*; got 'nope'"):
        _apply_overrides(parse_config(MINIMAL, base_dir=tmp_path), pipeline)


def test_stage_parameters_need_a_mapping_section(tmp_path):
    from audit.app.run import _apply_overrides

    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump({"stages": [
        "load_model", {"slices": {"x": 1}}, "load_dataset"]}))
    pipeline = load_audit_pipeline(path)
    with pytest.raises(ConfigError) as error:
        _apply_overrides(parse_config(MINIMAL, base_dir=tmp_path), pipeline)
    assert str(error.value) == (
        f"{path}: stage 'slices' takes no parameters in a pipeline file: its section 'slices' "
        "is not a mapping; set it in the configuration; got ['x'].")


def test_the_strategies_method_must_be_one_the_run_explains():
    data = {**MINIMAL, "cams": {"methods": ["gradcam"]}, "strategies": {"method": "scorecam"}}
    with pytest.raises(ConfigError, match=r"strategies\.method must be one of cams\.methods "
                                          r"\(gradcam\); got 'scorecam'"):
        parse_config(data)
    assert parse_config({**MINIMAL, "strategies": {"method": "gradcam++"}}).strategies.method \
        == "gradcam++"
