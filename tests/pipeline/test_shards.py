"""Collected array outputs (Shard): one file per item, read back item by item, resumable."""

from __future__ import annotations

import numpy as np
import pytest

from audit.pipeline import (
    RunFolder,
    Shard,
    ShardSet,
    Stage,
    StageError,
    Stream,
    build_pipeline,
    run_pipeline,
)


def _table(fail_at=None):
    def arrays(value):
        if value == fail_at:
            raise RuntimeError("killed")
        if value == 20:  # an item with no rows writes no file
            return Shard()
        return Shard({"id": np.array([f"s{value}", f"t{value}"]),
                      "map": np.full((2, 3, 3), value, np.float16)})

    def total(shards):
        return [int(data["map"].sum()) for data in shards], list(shards.column("id"))

    return {s.name: s for s in (
        Stage("numbers", lambda p: Stream(list(range(p["n"])), lambda i: i * 10),
              inputs=("params:toy",), outputs=("value",), stream="value"),
        Stage("arrays", arrays, inputs=("value",), outputs=("maps",), per_batch=True,
              collect={"maps": Shard}),
        Stage("total", total, inputs=("maps",), outputs=("sums", "ids")),
    )}


def _run(folder, table, n=4):
    pipeline = build_pipeline({"name": "toy", "stages": ["numbers", "arrays", "total"]},
                              table=table, provided=("params:toy",), where="toy.yaml")
    folder.path.mkdir(parents=True, exist_ok=True)
    return run_pipeline(pipeline, {"params:toy": {"n": n}}, folder=folder)


def test_shards_are_written_per_item_and_read_back_in_order(tmp_path):
    catalog = _run(RunFolder(tmp_path), _table())
    assert isinstance(catalog["maps"], ShardSet)
    assert [p.name for p in catalog["maps"].paths()] == ["0000000.npz", "0000001.npz",
                                                         "0000003.npz"]
    assert catalog["sums"] == [0, 18 * 10, 18 * 30]
    assert [ids.tolist() for ids in catalog["ids"]] == [["s0", "t0"], ["s10", "t10"],
                                                        ["s30", "t30"]]


def test_a_resumed_run_rewrites_the_shards_after_the_checkpoint(tmp_path):
    complete = _run(RunFolder(tmp_path / "complete"), _table(), n=5)
    folder = RunFolder(tmp_path / "resumed")
    with pytest.raises(StageError):
        _run(folder, _table(fail_at=30), n=5)
    assert folder.checkpoint().completed == 3
    resumed = _run(RunFolder(tmp_path / "resumed"), _table(), n=5)
    assert resumed["sums"] == complete["sums"]


def test_a_shard_refuses_ragged_or_object_arrays():
    with pytest.raises(ValueError, match="same number of rows"):
        Shard({"a": np.zeros(2), "b": np.zeros(3)})
    with pytest.raises(ValueError, match="Python objects"):
        Shard({"a": np.array([{}, {}], dtype=object)})


def test_the_beam_engine_writes_the_same_shards(tmp_path):
    pytest.importorskip("apache_beam")
    from audit.pipeline.beam import BeamEngine

    local = _run(RunFolder(tmp_path / "local"), _table())
    pipeline = build_pipeline({"name": "toy", "stages": ["numbers", "arrays", "total"]},
                              table=_table(), provided=("params:toy",), where="toy.yaml")
    (tmp_path / "beam").mkdir()
    beam = run_pipeline(pipeline, {"params:toy": {"n": 4}}, folder=RunFolder(tmp_path / "beam"),
                        engine=BeamEngine())
    assert beam["sums"] == local["sums"]
    assert [p.name for p in beam["maps"].paths()] == [p.name for p in local["maps"].paths()]
