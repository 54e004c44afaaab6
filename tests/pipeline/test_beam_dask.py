"""The Beam engine on Beam's Dask runner, with a real dask.distributed scheduler and two worker
processes (LocalCluster): the records are those of the local engine. One such test only: each
worker imports TensorFlow and loads the model."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("apache_beam")
distributed = pytest.importorskip("dask.distributed")

from conftest import demo_config  # noqa: E402

from audit.app.run import run_audit  # noqa: E402
from audit.config import parse_config  # noqa: E402
from audit.pipeline.beam import BeamEngine  # noqa: E402


@pytest.mark.slow
def test_dask_runner_on_two_workers_gives_the_local_records(demo_small_biased, tmp_path):
    data = demo_config(demo_small_biased, tmp_path, cams={"methods": ["gradcam"],
                                                           "batch_size": 8},
                       dataset={"limit": 24}, pipeline="quick.yaml")
    local = run_audit(parse_config(data, base_dir=tmp_path), out_dir=tmp_path / "local",
                      quiet=True)
    with distributed.LocalCluster(n_workers=2, processes=True, threads_per_worker=1,
                                  dashboard_address=None) as cluster:
        options = ["--runner=DaskRunner", f"--dask_client_address={cluster.scheduler_address}"]
        assert BeamEngine(options=options).local_workers  # a scheduler on this machine
        config = parse_config({**data, "engine": "beam", "beam": {"options": options}},
                              base_dir=tmp_path)
        dask = run_audit(config, out_dir=tmp_path / "dask", quiet=True)
    for name in ("records.csv", "skipped.csv"):
        assert (dask.run_dir / name).read_bytes() == (local.run_dir / name).read_bytes()
    status = json.loads((dask.run_dir / "status.json").read_text())
    assert status["beam"]["runner"] == "DaskRunner" and status["beam"]["items_submitted"] == 3
    assert dask.summary.provenance.runner == "DaskRunner"
    assert dask.summary.model_dump(exclude={"provenance", "run_id"}) == local.summary.model_dump(
        exclude={"provenance", "run_id"})


def test_a_remote_dask_scheduler_needs_a_shared_staging_location(tmp_path):
    from audit.pipeline import PipelineError, RunFolder

    remote = BeamEngine(options=["--runner=DaskRunner",
                                 "--dask_client_address=tcp://10.1.2.3:8786"])
    assert remote.runner == "DaskRunner" and not remote.local_workers
    with pytest.raises(PipelineError, match="--temp_location"):
        remote._staging(RunFolder(tmp_path))
    assert BeamEngine(options=["--runner=DaskRunner"]).local_workers  # its own LocalCluster
