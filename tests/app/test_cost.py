"""The cost estimate of ``cam-audit validate``, and the options that change the cost."""

from __future__ import annotations

import numpy as np
import pytest

from audit.app.cost import format_cost, stage_costs
from audit.config import CamsSection, ModelSection, parse_config

MINIMAL = {"model": {"path": "m.keras"}, "dataset": {"path": "d.csv"}}
AUDIT = ["load_model", "load_dataset", "explain", "score", "background_swap", "behaviour",
         "faithfulness", "sanity", "aggregate", "gate", "gallery", "report"]


def test_stage_costs_hand_worked(tmp_path):
    config = parse_config({**MINIMAL, "faithfulness": {"max_samples": 10, "steps": 4},
                           "sanity": {"samples": 5, "steps": 2},
                           "report": {"gallery_size": 3}}, base_dir=tmp_path)
    costs = {c.stage: c for c in stage_costs(config, AUDIT, n_samples=100,
                                             layer_channels=1280, error_rate=0.5)}
    # Default methods: one pass (the predictions and every target's gradients) + Score-CAM's
    # 32 (of 1,280) channels = 33 passes per image, whatever the number of maps (1.5 here).
    assert "predict" not in costs
    assert costs["explain"].passes == 100 * 33
    assert costs["explain"].how == ("one pass (predictions and every target) + Score-CAM 32 "
                                    "of 1280 channels, for 1.50 maps per image")
    assert costs["behaviour"].passes == 200
    assert costs["background_swap"].passes == 300  # Mixed-Same, Mixed-Rand, donor background
    # At most 10 samples x (8 maps (3 methods + the centre + 4 random maps) x (2 x 3 + 1) +
    # the input and substrate + the maps themselves).
    assert costs["faithfulness"].passes == 10 * (8 * 7 + 2 + 33)
    assert costs["sanity"].passes == 5 * (2 + 1) * 33  # the original maps, then each step
    assert costs["gallery"].passes == 3 * 33  # no gallery_maps stage: explained again
    kept = {c.stage: c for c in stage_costs(config, AUDIT + ["gallery_maps"], n_samples=100,
                                            layer_channels=1280, error_rate=0.5)}
    assert kept["gallery"].passes == 0  # the maps are read back from the shards
    every = parse_config({**MINIMAL, "cams": {"scorecam_max_channels": "all"}},
                         base_dir=tmp_path)
    assert stage_costs(every, ["explain"], n_samples=1, layer_channels=1280,
                       error_rate=0.0)[0].passes == 1281


def test_a_stage_declares_its_own_cost():
    from audit.pipeline import Stage

    custom = Stage("custom", print, cost=lambda shape: (3.0 * shape.n, "3 per image"))
    costs = stage_costs(parse_config(MINIMAL), [custom, "load_model", "report"], n_samples=10,
                        layer_channels=8, error_rate=0.0)
    assert [(c.stage, c.passes, c.how) for c in costs] == [("custom", 30.0, "3 per image")]


def test_format_cost_warns_when_long():
    costs = stage_costs(parse_config(MINIMAL), ["explain"], n_samples=10,
                        layer_channels=64, error_rate=0.0)
    lines, costly = format_cost(costs, n_samples=10, seconds_per_pass=0.01)
    assert lines[0] == "cost: about 33.0 forward passes per image (330 for 10 samples)"
    assert lines[-1] == ("one forward pass: 10.0 ms per image (timed on the first batch): "
                         "about 3 s in all")
    assert not costly
    assert format_cost(costs, n_samples=10, seconds_per_pass=20.0)[1]


def test_scorecam_budget_settings():
    assert CamsSection().scorecam_channels == 32
    assert CamsSection(scorecam_max_channels="all").scorecam_channels is None
    assert CamsSection(scorecam_max_channels=None).scorecam_channels is None
    assert CamsSection(scorecam_max_channels=8).scorecam_channels == 8
    with pytest.raises(ValueError):
        CamsSection(scorecam_max_channels=0)


def test_jit_compile_from_the_configuration_gives_the_same_maps(demo_small_biased):
    from audit.stages.load_model import load_model

    model = ModelSection(path=demo_small_biased.model_path,
                         class_names=["circle", "square", "triangle"])
    plain, _, _ = load_model(model, CamsSection(scorecam_max_channels=4))
    compiled, _, _ = load_model(model, CamsSection(scorecam_max_channels=4, jit_compile=True))
    assert compiled.jit_compile and not plain.jit_compile
    images = np.random.default_rng(0).random((5, *plain.input_shape), dtype=np.float32)
    classes = np.array([0, 1, 2, 0, 1])
    a = plain.explain(images, classes, ("gradcam", "scorecam"))
    b = compiled.explain(images, classes, ("gradcam", "scorecam"))
    for method in ("gradcam", "scorecam"):
        np.testing.assert_allclose(b[method], a[method], atol=1e-5)


def test_validate_prints_the_cost(demo_small_biased, tmp_path, capsys):
    import yaml
    from conftest import demo_config

    from audit.app.cli import main

    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(demo_config(demo_small_biased, tmp_path)))
    assert main(["validate", str(path)]) == 0
    out = capsys.readouterr().out.splitlines()
    cost = next(i for i, line in enumerate(out) if line.startswith("cost: about "))
    assert [line.split()[0] for line in out[cost + 1:cost + 7]] == [
        "explain", "background_swap", "behaviour", "faithfulness", "sanity", "gallery"]
    assert out[cost + 7].startswith("one forward pass: ")
