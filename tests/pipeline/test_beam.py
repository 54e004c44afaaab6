"""The Beam engine: the same results as the local engine, on toy stages and on the demo audit.

The audit runs on Beam's DirectRunner in this process, and once with two worker processes
(``--direct_running_mode=multi_processing``), which is slow to start (each worker imports
TensorFlow and loads the model): one such test only.
"""

from __future__ import annotations

import importlib
import json
import pickle
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

pytest.importorskip("apache_beam")

from apache_beam.internal import pickler  # noqa: E402
from apache_beam.io.localfilesystem import LocalFileSystem  # noqa: E402

from audit.app.cli import main  # noqa: E402
from audit.app.engines import make_engine  # noqa: E402
from audit.app.provenance import sha256_of  # noqa: E402
from audit.app.run import run_audit  # noqa: E402
from audit.config import parse_config  # noqa: E402
from audit.datasets.manifest import resolve_image_path  # noqa: E402
from audit.errors import ConfigError, ModelError  # noqa: E402
from audit.files import is_url  # noqa: E402
from audit.pipeline import (  # noqa: E402
    Counts,
    PipelineError,
    RunFolder,
    Stage,
    StageError,
    Stream,
    build_pipeline,
)
from audit.pipeline import run_pipeline as run_core  # noqa: E402
from audit.pipeline.beam import DEAD_LETTER, BeamEngine  # noqa: E402
from audit.pipeline.beam.staging import _Staging  # noqa: E402
from audit.pipeline.beam.worker import _work  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
CLASSES = ["circle", "square", "triangle"]
MULTI_PROCESS = ["--direct_num_workers=2", "--direct_running_mode=multi_processing"]


# ------------------------------------------------------------------------ toy pipelines


@dataclass(frozen=True)
class Row:
    item: int
    square: int


def tenfold(i):
    return i * 10


def numbers(params):
    return Stream(specs=list(range(params["n"])), load=tenfold)


def square(value):
    return value * value


def rows(value, squared):
    return [Row(value, squared)], Counts(seen=1, tens=value // 10)


def total(table, counts):
    return int(table["square"].sum()), dict(counts)


TABLE = {s.name: s for s in (
    Stage("numbers", numbers, inputs=("params:toy",), outputs=("value",), stream="value"),
    Stage("square", square, inputs=("value",), outputs=("squared",), per_batch=True),
    Stage("rows", rows, inputs=("value", "squared"), outputs=("table", "counts"),
          per_batch=True, collect={"table": Row, "counts": Counts}),
    Stage("total", total, inputs=("table", "counts"), outputs=("sum", "tally")),
)}
ALL = ["numbers", "square", "rows", "total"]


def build(table=TABLE, stages=ALL):
    return build_pipeline({"name": "toy", "stages": stages}, table=table,
                          provided=("params:toy",), where="toy.yaml")


def run(pipeline, path: Path, n=5, **kwargs):
    path.mkdir(parents=True, exist_ok=True)
    return run_core(pipeline, {"params:toy": {"n": n}}, folder=RunFolder(path), **kwargs)


def with_square(func):
    return {**TABLE, "square": Stage("square", func, inputs=("value",), outputs=("squared",),
                                     per_batch=True)}


def test_beam_engine_gives_the_local_engine_tables_counts_and_checkpoint(tmp_path):
    local = run(build(), tmp_path / "local")
    beam = run(build(), tmp_path / "beam", engine=BeamEngine())
    assert (tmp_path / "beam" / "table.csv").read_text() == (
        tmp_path / "local" / "table.csv").read_text()
    assert beam["sum"] == local["sum"] and beam["tally"] == local["tally"]
    status = json.loads((tmp_path / "beam" / "status.json").read_text())
    assert status["completed_batches"] == 5 and status["stream_complete"] is True
    assert status["counts"] == {"counts": {"seen": 5, "tens": 10}}
    assert status["beam"]["runner"] == "DirectRunner"
    assert status["beam"]["counters"] == {"counts.seen": 5, "counts.tens": 10, "items_done": 5,
                                          "table.rows": 5}
    assert not (tmp_path / "beam" / "beam-staging").exists()


class Heavy:
    """Stands for a loaded model: not picklable, so it must be rebuilt, never shipped."""

    built = 0

    def __init__(self, offset):
        Heavy.built += 1
        self.offset = offset

    def __reduce__(self):
        raise pickle.PicklingError("a loaded model is not shipped")


def make_heavy(params):
    return Heavy(params["offset"])


def shifted(heavy, value):
    return value + heavy.offset


def test_per_worker_outputs_are_rebuilt_in_each_worker_and_the_rest_is_shipped():
    table = {**TABLE,
             "heavy": Stage("heavy", make_heavy, inputs=("params:toy",), outputs=("heavy",),
                            per_worker=True),
             "square": Stage("square", shifted, inputs=("heavy", "value"),
                             outputs=("squared",), per_batch=True)}
    pipeline = build(table, ["heavy"] + ALL)
    catalog = {"params:toy": {"n": 3, "offset": 7}, "heavy": Heavy(7)}
    work = _work(pipeline, catalog, "numbers", numbers(catalog["params:toy"]).load)
    assert [s.name for s in work.rebuild] == ["heavy"]
    assert set(work.shipped) == {"params:toy"}  # the heavy object stays on the driver
    shipped = pickler.loads(pickler.dumps(work))  # what a worker process receives
    before = Heavy.built
    worker_catalog = shipped.catalog()  # no driver values in a worker's process: rebuilt
    assert Heavy.built == before + 1
    assert shipped.run(worker_catalog, 2, 2)["table"] == [Row(20, 27)]


def test_an_item_that_fails_on_a_worker_goes_to_the_dead_letter(tmp_path):
    def flaky(value):
        if value == 20:
            raise ValueError("bad item")
        return value * value

    def stand_in(spec, failure):
        assert failure.index == spec == 2 and failure.error.endswith("ValueError: bad item")
        return {"table": [Row(-1, -1)], "counts": Counts(failed=1)}

    catalog = run(build(with_square(flaky)), tmp_path / "a",
                  engine=BeamEngine(on_failure=stand_in))
    assert catalog["table"]["square"].tolist() == [0, 100, -1, 900, 1600]
    assert catalog["tally"] == {"seen": 4, "tens": 8, "failed": 1}
    letters = [json.loads(line) for line in (tmp_path / "a" / DEAD_LETTER).read_text()
               .splitlines()]
    assert [d["item"] for d in letters] == [2] and "ValueError: bad item" in letters[0][
        "traceback"]
    assert json.loads((tmp_path / "a" / "status.json").read_text())["beam"]["counters"][
        "items_failed"] == 1


def test_without_a_stand_in_a_failed_item_stops_the_run_and_a_resume_finishes_it(tmp_path):
    complete = run(build(), tmp_path / "complete")
    marker, calls = tmp_path / "failed-once", tmp_path / "calls"  # the stage travels pickled

    def fails_once(value):
        with open(calls, "a") as handle:
            handle.write(f"{value}\n")
        if value == 20 and not marker.exists():
            marker.touch()
            raise ValueError("bad item")
        return value * value

    folder = tmp_path / "resumed"
    with pytest.raises(StageError) as error:
        run(build(with_square(fails_once)), folder, engine=BeamEngine())
    assert str(error.value) == ("stage 'item 2 on a Beam worker' failed: RuntimeError: "
                                "StageError: stage 'square' failed: ValueError: bad item")
    assert RunFolder(folder).checkpoint().completed == 2  # items 0 and 1 were merged
    # Item 4 staged by the failed job (whether or not it got that far): merged, not run again.
    staging = _Staging(str(folder / "beam-staging"))
    staging.write(staging.item(4), {"table": [Row(40, 1600)], "counts": Counts(seen=1, tens=4)})
    calls.write_text("")
    resumed = run(build(with_square(fails_once)), folder, engine=BeamEngine())
    assert (folder / "table.csv").read_text() == (tmp_path / "complete" / "table.csv").read_text()
    assert resumed["tally"] == complete["tally"]
    rerun = calls.read_text().split()
    assert "20" in rerun and "40" not in rerun  # the failed item again; the staged one not
    assert not (folder / "beam-staging").exists()


def test_a_failed_job_raises_the_runners_message(tmp_path):
    def broken_metrics(outputs):
        raise OSError("staging disk full")

    with pytest.raises(StageError) as error:
        run(build(), tmp_path, engine=BeamEngine(item_metrics=broken_metrics))
    assert error.value.stage == "Beam job on DirectRunner"
    assert "staging disk full" in str(error.value)


@pytest.mark.parametrize("flags,message", [
    (["--direct_num_worker=2"],
     "beam.options: Beam has no option --direct_num_worker. Did you mean '--direct_num_workers'?"),
    (["--direct_running_mode=sideways"], "beam.options: Beam refused the flags: "),
    (["--runner=NoSuchRunner"], "beam.options: --runner=NoSuchRunner: "),
    (["runner=DirectRunner"], "beam.options: 'runner=DirectRunner' is not a flag"),
    (["--runner=DataflowRunner", "--project=p", "--region=r"], None),
])
def test_beam_options_are_checked_by_beams_parser(flags, message, tmp_path):
    if message is None:  # accepted; but Dataflow's workers cannot reach the local run folder
        engine = BeamEngine(flags)
        assert engine.runner == "DataflowRunner"
        with pytest.raises(PipelineError, match="add --temp_location=gs://"):
            engine._staging(RunFolder(tmp_path))
        staging = BeamEngine(flags + ["--temp_location=camtest:///b/tmp"])._staging(
            RunFolder(tmp_path))  # a scheme with a file system here (gs:// needs Beam's [gcp])
        assert staging.root == f"camtest:///b/tmp/beam-staging/{tmp_path.name}"
        with pytest.raises(PipelineError, match="no file system for nosuch:// is installed here"):
            BeamEngine(flags + ["--temp_location=nosuch://b/tmp"])
        return
    with pytest.raises(PipelineError) as error:
        BeamEngine(flags)
    assert str(error.value).startswith(message)


def test_workers_on_other_machines_need_a_model_they_can_read(tmp_path):
    dataflow = ["--runner=DataflowRunner", "--project=p", "--region=r",
                "--temp_location=camtest:///b/t"]
    data = {"model": {"path": "model.keras"}, "dataset": {"path": "m.csv"}, "engine": "beam",
            "beam": {"options": dataflow}}
    with pytest.raises(ConfigError, match="^model.path: the DataflowRunner's workers load the "
                                          "model themselves and cannot read '"):
        make_engine(parse_config(data, base_dir=tmp_path))
    data["model"]["path"] = "gs://b/model.keras"
    assert make_engine(parse_config(data, base_dir=tmp_path)).runner == "DataflowRunner"


# ---------------------------------------------------------------------------- the audit


def demo_config(demo, tmp_path, **overrides) -> dict:
    data = {
        "run_name": "beam",
        "seed": 0,
        "pipeline": str(ROOT / "pipelines" / "audit.yaml"),
        "model": {"path": str(demo.model_path), "class_names": CLASSES},
        "dataset": {"path": str(demo.audit_manifest), "limit": 40},
        "cams": {"batch_size": 16, "scorecam_max_channels": 8},
        "metrics": {"pointing_tolerance_px": 4, "bootstrap_resamples": 200},
        "report": {"out_dir": str(tmp_path / "reports"), "gallery_size": 2},
    }
    for key, value in overrides.items():
        data[key] = {**data.get(key, {}), **value} if isinstance(value, dict) else value
    return data


def audit(data, tmp_path, name, **kwargs):
    config = parse_config(data, base_dir=tmp_path)
    return run_audit(config, out_dir=tmp_path / name, quiet=True, **kwargs)


def figures(run_dir: Path) -> dict:
    summary = json.loads((run_dir / "summary.json").read_text())
    provenance = summary.pop("provenance")
    summary.pop("run_id")
    return summary, provenance


@pytest.fixture(scope="module")
def local_run(demo_small_biased, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("local")
    return audit(demo_config(demo_small_biased, tmp), tmp, "run")


def test_the_demo_audit_on_beam_equals_the_local_engine(demo_small_biased, local_run, tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text(json.dumps(demo_config(demo_small_biased, tmp_path)))
    assert main(["run", str(path), "--engine", "beam", "--out", str(tmp_path / "beam"),
                 "--quiet"]) == local_run.exit_code
    run_dir = tmp_path / "beam"
    assert (run_dir / "records.csv").read_bytes() == (
        local_run.run_dir / "records.csv").read_bytes()
    assert (run_dir / "skipped.csv").read_bytes() == (
        local_run.run_dir / "skipped.csv").read_bytes()
    (beam, beam_provenance), (local, local_provenance) = figures(run_dir), figures(
        local_run.run_dir)
    assert beam == local
    assert (beam_provenance["engine"], beam_provenance["runner"]) == ("beam", "DirectRunner")
    assert (local_provenance["engine"], local_provenance["runner"]) == ("local", None)
    assert beam_provenance["model_sha256"] == local_provenance["model_sha256"]
    status = json.loads((run_dir / "status.json").read_text())
    assert status["status"] == "complete" and status["completed_batches"] == 3
    assert status["beam"]["counters"]["images_done"] == 40
    for name in ("report.html", "junit.xml"):
        assert (run_dir / name).is_file()


def test_two_worker_processes_give_the_same_records(demo_small_biased, local_run, tmp_path):
    data = demo_config(demo_small_biased, tmp_path, engine="beam",
                       beam={"options": MULTI_PROCESS})
    result = audit(data, tmp_path, "beam2")
    assert (result.run_dir / "records.csv").read_bytes() == (
        local_run.run_dir / "records.csv").read_bytes()
    assert figures(result.run_dir)[0] == figures(local_run.run_dir)[0]


@pytest.fixture()
def damaged_demo(demo_small_biased, tmp_path):
    """A copy of the first 20 samples of the demo's audit set with one image truncated."""
    source = demo_small_biased.audit_manifest.parent
    target = tmp_path / "damaged"
    shutil.copytree(source / "images", target / "images")
    manifest = pd.read_csv(source / "manifest.csv").head(20)
    manifest.to_csv(target / "manifest.csv", index=False)
    image = target / manifest["image"].iloc[5]
    image.write_bytes(image.read_bytes()[:60])
    return target / "manifest.csv"


def test_a_corrupt_image_is_skipped_on_a_worker_as_locally(demo_small_biased, damaged_demo,
                                                           tmp_path):
    data = demo_config(demo_small_biased, tmp_path, cams={"methods": ["gradcam"], "batch_size": 8},
                       dataset={"path": str(damaged_demo), "max_skipped_fraction": 0.2})
    local = audit(data, tmp_path, "local")
    beam = audit({**data, "engine": "beam"}, tmp_path, "beam")
    skipped = pd.read_csv(beam.run_dir / "skipped.csv")
    assert len(skipped) == 1 and "truncated or corrupt" in skipped["reason"].iloc[0]
    for name in ("skipped.csv", "records.csv"):
        assert (beam.run_dir / name).read_bytes() == (local.run_dir / name).read_bytes()
    assert beam.summary.n_skipped == local.summary.n_skipped == 1


def test_a_batch_that_raises_on_a_worker_becomes_skipped_samples(demo_small_biased, tmp_path,
                                                                 monkeypatch):
    score_module = importlib.import_module("audit.stages.score")  # the package has a `score`
    real = score_module.score_batch

    def fails_on_batch_1(batch, *args):
        if batch.index == 1:
            raise RuntimeError("the decoder crashed")
        return real(batch, *args)

    monkeypatch.setattr(score_module, "score_batch", fails_on_batch_1)  # in-process workers
    data = demo_config(demo_small_biased, tmp_path, engine="beam",
                       dataset={"max_skipped_fraction": 0.5}, cams={"methods": ["gradcam"]})
    result = audit(data, tmp_path, "run")
    skipped = pd.read_csv(result.run_dir / "skipped.csv")
    assert len(skipped) == 16  # batch 1's samples
    assert set(skipped["reason"]) == {
        "failed on a Beam worker: StageError: stage 'score' failed: RuntimeError: the decoder "
        "crashed"}
    assert result.summary.n_samples == 24 and result.summary.n_skipped == 16
    letters = (result.run_dir / DEAD_LETTER).read_text().splitlines()
    assert len(letters) == 1 and "fails_on_batch_1" in json.loads(letters[0])["traceback"]


def test_a_failed_beam_job_leaves_the_run_failed_with_the_runners_message(
        demo_small_biased, tmp_path, monkeypatch, capsys):
    import audit.app.engines

    def broken(outputs):
        raise OSError("no space left on the staging disk")

    monkeypatch.setattr(audit.app.engines, "count_images", broken)
    path = tmp_path / "config.yaml"
    path.write_text(json.dumps(demo_config(demo_small_biased, tmp_path, engine="beam")))
    assert main(["run", str(path), "--out", str(tmp_path / "run"), "--quiet"]) == 3
    assert "no space left on the staging disk" in capsys.readouterr().err
    status = json.loads((tmp_path / "run" / "status.json").read_text())
    assert status["status"] == "failed" and "Beam job on DirectRunner" in status["error"]
    assert "no space left on the staging disk" in status["error"]


def test_bad_beam_options_and_a_missing_beam_exit_2(demo_small_biased, tmp_path, capsys,
                                                     monkeypatch):
    path = tmp_path / "config.yaml"
    path.write_text(json.dumps(demo_config(demo_small_biased, tmp_path, engine="beam",
                                           beam={"options": ["--direct_num_workrs=2"]})))
    assert main(["run", str(path), "--out", str(tmp_path / "run"), "--quiet"]) == 2
    assert "beam.options: Beam has no option --direct_num_workrs" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()  # refused before a run folder was made
    monkeypatch.setitem(sys.modules, "apache_beam", None)  # as if it were not installed
    for name in [m for m in sys.modules if m.startswith("audit.pipeline.beam")]:
        monkeypatch.delitem(sys.modules, name)
    assert main(["validate", str(path)]) == 2
    assert 'pip install "cam-audit[beam]"' in capsys.readouterr().err


# ------------------------------------------------------------------------- remote files


class _ObjectStore(LocalFileSystem):
    """``camtest://<local absolute path>``: a file system of another scheme, read the way
    ``gs://`` is (through Beam's FileSystems), backed by local files."""

    @classmethod
    def scheme(cls):
        return "camtest"

    @staticmethod
    def _local(path):
        return path[len("camtest://"):]

    def open(self, path, *args, **kwargs):
        return super().open(self._local(path), *args, **kwargs)

    def exists(self, path):
        return super().exists(self._local(path))


def test_images_and_model_at_urls_are_read_through_beams_file_systems(
        demo_small_biased, local_run, tmp_path):
    store = "camtest://" + str(demo_small_biased.audit_manifest.parent)
    model = "camtest://" + str(demo_small_biased.model_path)
    shutil.copy(demo_small_biased.audit_manifest, tmp_path / "manifest.csv")  # read locally
    data = demo_config(demo_small_biased, tmp_path, model={"path": model}, engine="beam",
                       dataset={"path": str(tmp_path / "manifest.csv"), "images_root": store})
    result = audit(data, tmp_path, "remote")
    assert (result.run_dir / "records.csv").read_bytes() == (
        local_run.run_dir / "records.csv").read_bytes()
    provenance = figures(result.run_dir)[1]
    assert provenance["model_path"] == model
    assert provenance["model_sha256"] == sha256_of(demo_small_biased.model_path)
    missing = demo_config(demo_small_biased, tmp_path, model={"path": model + ".missing.keras"})
    with pytest.raises(ModelError) as error:
        audit(missing, tmp_path, "missing")
    assert str(error.value).startswith(f"Model file '{model}.missing.keras' does not exist.")


def test_urls_in_manifests_and_configuration():
    assert is_url("gs://b/x.png") and not is_url("/data/x.png") and not is_url("x.png")
    assert resolve_image_path("a/../b.png", "gs://bucket/images/") == "gs://bucket/images/b.png"
    assert resolve_image_path("s3://other/c.png", "/data") == "s3://other/c.png"
    assert resolve_image_path("c.png", "/data/x/..") == "/data/c.png"
    config = parse_config({"model": {"path": "gs://b/m.keras"}, "dataset": {"path": "m.csv"}})
    assert config.model.path == "gs://b/m.keras" and config.engine == "local"
    with pytest.raises(ConfigError, match="the manifest is read on this machine"):
        parse_config({"model": {"path": "m.keras"}, "dataset": {"path": "gs://b/m.csv"}})
