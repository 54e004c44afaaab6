"""Strategy discovery without boxes: a class where a fixed share of the training images carry a
small tag in a corner (the horse class's copyright tag of Lapuschkin et al. 2019, planted), a
tiny CNN that learns it, and an audit of an image folder (no box anywhere) that must find the
tagged images as one cluster looking at the corner, flag it and fail the gate; a model trained
without the tag, audited on the same kind of images without it, is not flagged."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import strategy_builders as sb

from audit.app.run import run_audit
from audit.config import parse_config

PIPELINE = {"name": "strategies-test", "stages": [
    "load_model", "load_dataset", "explain", "score", "strategy_maps", "aggregate",
    "strategies", "gate", "gallery", "report"]}


@pytest.fixture(scope="module")
def tag_runs(tmp_path_factory):
    import yaml

    tmp = tmp_path_factory.mktemp("strategies")
    (tmp / "pipeline.yaml").write_text(yaml.safe_dump(PIPELINE))
    runs = {}
    for name, tag_fraction in (("tagged", 0.3), ("clean", 0.0)):
        images, labels, _ = sb.make_set(150, tag_fraction=tag_fraction, faint_fraction=0.3,
                                        seed=1)
        model = sb.train(images, labels, tmp / f"{name}.keras", seed=0)
        audit_images, audit_labels, tagged = sb.make_set(
            60, tag_fraction=tag_fraction, faint_fraction=0.3, seed=2)
        flags = sb.write_folder(tmp / f"audit_{name}", audit_images, audit_labels, tagged)
        config = parse_config({
            "run_name": name, "pipeline": str(tmp / "pipeline.yaml"),
            "model": {"path": str(model), "class_names": sb.CLASSES},
            "dataset": {"path": str(tmp / f"audit_{name}"), "format": "folder"},
            "cams": {"batch_size": 32, "methods": ["gradcam"]},
            "metrics": {"bootstrap_resamples": 100},
            "gates": {"max_offobject_strategy_share": 0.1},
            "report": {"out_dir": str(tmp / "reports"), "gallery_size": 0},
        }, base_dir=tmp)
        outcome = run_audit(config, out_dir=tmp / f"run_{name}", quiet=True)
        runs[name] = (outcome, tmp / f"run_{name}", flags)
    return runs


def _summary(run_dir):
    return json.loads((run_dir / "summary.json").read_text())


def test_the_tag_cluster_is_found_without_boxes_and_flagged(tag_runs):
    outcome, run_dir, flags = tag_runs["tagged"]
    summary = _summary(run_dir)
    assert summary["centre_baseline"]["n"] == 0  # not one box or mask in the folder
    figures = summary["strategies"]
    disk = next(c for c in figures["classes"]
                if c["view"] == "predicted" and c["class_name"] == "disk")
    flagged = [c for c in disk["clusters"] if c["offobject"]]
    assert len(flagged) == 1
    rows = pd.read_csv(run_dir / "strategies.csv")
    members = rows[(rows["view"] == "predicted") & (rows["class"] == "disk")
                   & (rows["strategy"] == flagged[0]["cluster"])]["sample_id"]
    assert np.mean([flags[m] for m in members]) >= 0.8  # mostly the tagged images
    assert sum(flags[m] for m in members) >= 0.8 * sum(flags.values())
    # Its mean map sits on the corner: averaged over its members' small maps on disk.
    shards = sorted((run_dir / "strategy_maps").glob("*.npz"))
    corner, total = 0.0, 0.0
    for path in shards:
        with np.load(path) as data:
            keep = np.isin(data["sample_id"], members.to_numpy()) & (
                data["target"] == "predicted")
            maps = data["map"][keep].astype(np.float64)
            corner += maps[:, :8, :8].sum()  # the tag's quarter-side corner at 32 x 32
            total += maps.sum()
    assert corner / total > 0.2  # 6% of the image holds over a fifth of the mass
    assert figures["max_offobject_share"] == pytest.approx(flagged[0]["share"])
    gate = summary["gates"]["max_offobject_strategy_share"]
    assert gate["outcome"] == "fail" and not summary["passed"] and int(outcome.exit_code) == 1
    junit = (run_dir / "junit.xml").read_text()
    assert 'name="max_offobject_strategy_share"' in junit
    html = (run_dir / "report.html").read_text()
    assert 'id="strategies"' in html and "off-object" in html
    assert "0 of 120 audited samples had a box or mask" in html
    skipped = pd.read_csv(run_dir / "skipped.csv")
    assert skipped["sample_id"].tolist() == ["disk/notes.txt"]


def test_a_model_trained_without_the_tag_is_not_flagged(tag_runs):
    outcome, run_dir, _ = tag_runs["clean"]
    summary = _summary(run_dir)
    figures = summary["strategies"]
    assert figures["n_offobject"] == 0 and figures["max_offobject_share"] is None
    assert summary["gates"]["max_offobject_strategy_share"]["outcome"] == "pass"
    assert int(outcome.exit_code) == 0
