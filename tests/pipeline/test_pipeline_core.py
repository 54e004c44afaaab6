"""The pipeline core on toy stages: run order from the data, segments, checks, the runner's
tables, counts, checkpoints, resume, prefetching and errors. No model, no audit."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass

import pandas as pd
import pytest

from audit.errors import DatasetError
from audit.pipeline import (
    Counts,
    LocalEngine,
    PipelineError,
    RunFolder,
    Stage,
    StageError,
    Stream,
    build_pipeline,
    run_batch,
    run_pipeline,
)


@dataclass(frozen=True)
class Row:
    item: int
    square: int
    half: float
    name: str
    even: bool


def numbers(params):
    return Stream(specs=list(range(params["n"])), load=lambda i: i * 10)


def square(value):
    return value * value


def rows(value, squared):
    return ([Row(value, squared, value / 2 if value else float("nan"), f"v{value}",
                 value % 20 == 0)],
            Counts(seen=1, tens=value // 10))


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


def build(stages, table=TABLE):
    return build_pipeline({"name": "toy", "stages": stages}, table=table,
                          provided=("params:toy",), where="toy.yaml")


def run(pipeline, folder, n=4, **kwargs):
    folder.path.mkdir(parents=True, exist_ok=True)
    return run_pipeline(pipeline, {"params:toy": {"n": n}}, folder=folder, **kwargs)


# ------------------------------------------------------------------------------ building


def test_segments_and_order_come_from_the_data():
    pipeline = build(["total", "rows", "square", "numbers"])
    assert [s.name for s in pipeline.before] == ["numbers"]
    assert [s.name for s in pipeline.per_batch] == ["square", "rows"]
    assert [s.name for s in pipeline.after] == ["total"]
    assert pipeline.stream == "value"
    assert pipeline.collected == {"table": Row, "counts": Counts}


def test_a_cycle_is_named():
    table = {s.name: s for s in (
        Stage("a", lambda y: y, inputs=("y",), outputs=("x",)),
        Stage("b", lambda x: x, inputs=("x",), outputs=("y",)),
    )}
    with pytest.raises(PipelineError) as error:
        build(["a", "b"], table)
    assert str(error.value) == ("toy.yaml: the stages 'a' -> 'b' -> 'a' need each other's "
                                "outputs in a cycle; no order can run them.")


def test_two_makers_of_one_output():
    table = {**TABLE, "again": Stage("again", square, inputs=("value",), outputs=("squared",),
                                     per_batch=True)}
    with pytest.raises(PipelineError) as error:
        build(ALL + ["again"], table)
    assert str(error.value) == ("toy.yaml: 'squared' is made by both 'square' and 'again'; "
                                "keep one of them.")


def test_per_batch_outputs_that_are_not_collected_stay_in_the_stream():
    table = {**TABLE, "late": Stage("late", lambda s: s, inputs=("squared",), outputs=("z",))}
    with pytest.raises(PipelineError) as error:
        build(ALL + ["late"], table)
    assert str(error.value) == (
        "toy.yaml: stage 'late' needs ['squared'], which 'square' makes for one batch at a "
        "time; only the collected outputs (counts, table) are kept after the stream.")


def test_a_per_batch_stage_cannot_wait_for_the_end_of_the_stream():
    table = {**TABLE,
             "after_total": Stage("after_total", lambda s, v: s, inputs=("sum", "value"),
                                  outputs=("w",), per_batch=True)}
    with pytest.raises(PipelineError) as error:
        build(ALL + ["after_total"], table)
    assert str(error.value) == ("toy.yaml: per-batch stage 'after_total' needs ['sum'], "
                                "which 'total' makes only after the stream.")


def test_per_batch_stages_need_a_stream():
    table = {**TABLE, "plain": Stage("plain", lambda p: 3, inputs=("params:toy",),
                                     outputs=("value",))}
    with pytest.raises(PipelineError) as error:
        build(["plain", "square"], table)
    assert str(error.value) == ("toy.yaml: the per-batch stages ['square'] need exactly one "
                                "stream to go over; the pipeline has 0 (streams are made by "
                                "numbers).")


@pytest.mark.parametrize("kwargs,message", [
    ({"inputs": ("a", "a")}, "Stage 's': inputs repeat a name; got ('a', 'a')."),
    ({"outputs": ("x",), "collect": {"y": Row}, "per_batch": True},
     "Stage 's': collect names ['y'], which are not among its outputs ['x']."),
    ({"outputs": ("x",), "collect": {"x": Row}},
     "Stage 's': only per-batch stages collect outputs; got collect=['x']."),
    ({"outputs": ("x",), "collect": {"x": dict}, "per_batch": True},
     "Stage 's': collect['x'] must be a dataclass (table rows), Counts or Shard; got "
     "<class 'dict'>."),
    ({"outputs": ("x",), "stream": "y"},
     "Stage 's': stream must name an output of a stage that is not per-batch; got "
     "stream='y'."),
])
def test_bad_stage_definitions(kwargs, message):
    with pytest.raises(ValueError) as error:
        Stage("s", print, **kwargs)
    assert str(error.value) == message


def test_stage_sections_and_call():
    stage = Stage("s", lambda a, b: (a + 1, b), inputs=("params:x", "params:y"),
                  outputs=("one", "two"))
    assert stage.sections == ("x", "y") and stage.own_section == "x"
    assert stage({"params:x": 1, "params:y": "b"}) == {"one": 2, "two": "b"}
    wrong = Stage("w", lambda: 1, outputs=("one", "two"))
    with pytest.raises(TypeError) as error:
        wrong({})
    assert str(error.value) == "Stage 'w' must return 2 values ('one', 'two'); it returned int."


# ------------------------------------------------------------------------------- running


def test_runner_collects_tables_and_counts(tmp_path):
    folder = RunFolder(tmp_path)
    catalog = run(build(ALL), folder)
    assert catalog["sum"] == 0 + 100 + 400 + 900
    assert catalog["tally"] == {"seen": 4, "tens": 0 + 1 + 2 + 3}
    assert (tmp_path / "table.csv").read_text() == (
        "item,square,half,name,even\n"
        "0,0,,v0,True\n10,100,5,v10,False\n20,400,10,v20,True\n30,900,15,v30,False\n")
    frame = catalog["table"]
    assert list(frame.dtypes.astype(str)) == ["int64", "int64", "float64", "string", "bool"]
    assert pd.isna(frame["half"].iloc[0]) and frame["name"].tolist() == ["v0", "v10", "v20",
                                                                       "v30"]
    status = json.loads((tmp_path / "status.json").read_text())
    assert status["completed_batches"] == 4 and status["stream_complete"] is True
    assert status["counts"] == {"counts": {"seen": 4, "tens": 6}}
    assert not list(tmp_path.glob("*.partial.csv"))


def test_prefetch_loads_ahead_in_another_thread(tmp_path):
    threads = set()

    def load(i):
        threads.add(threading.current_thread().name)
        return i * 10

    table = {**TABLE, "numbers": Stage("numbers", lambda p: Stream(list(range(p["n"])), load),
                                       inputs=("params:toy",), outputs=("value",),
                                       stream="value")}
    ahead = run(build(ALL, table), RunFolder(tmp_path / "a"), engine=LocalEngine(prefetch=2))
    assert threads and all(t.startswith("pipeline-load") for t in threads)
    threads.clear()
    inline = run(build(ALL, table), RunFolder(tmp_path / "b"), engine=LocalEngine(prefetch=0))
    assert threads == {threading.current_thread().name}
    assert ahead["sum"] == inline["sum"] and ahead["tally"] == inline["tally"]


def test_overlapped_items_pass_the_stages_as_a_production_line(tmp_path):
    # Ordering and events, no clock: every start and end is logged in the order it happened,
    # and "rows" of an item waits for "square" of the next item to start, which it can only
    # do if two items are in flight at once.
    events, threads, lock = [], set(), threading.Lock()  # (stage, item, "start" | "end")
    square_started = {item: threading.Event() for item in range(8)}
    next_started = []

    def logged(name, function, wait=True):
        def run(*args):
            threads.add(threading.current_thread().name)
            item = args[0] // 10
            with lock:
                events.append((name, item, "start"))
            if name == "square":
                square_started[item].set()
            elif wait and 1 <= item < 7:  # item 0 runs alone; the last has no next
                next_started.append(square_started[item + 1].wait(timeout=60))
            out = function(*args)
            with lock:
                events.append((name, item, "end"))
            return out
        return run

    def logged_table(wait):
        return {**TABLE,
                "square": Stage("square", logged("square", square, wait), inputs=("value",),
                                outputs=("squared",), per_batch=True),
                "rows": Stage("rows", logged("rows", rows, wait), inputs=("value", "squared"),
                              outputs=("table", "counts"), per_batch=True,
                              collect={"table": Row, "counts": Counts})}

    overlapped = run(build(ALL, logged_table(True)), RunFolder(tmp_path / "a"), n=8,
                     engine=LocalEngine(overlap=2))
    assert any(t.startswith("pipeline-item") for t in threads)
    last_of_first = max(i for i, e in enumerate(events) if e[1] == 0)
    assert last_of_first < min(i for i, e in enumerate(events) if e[1] != 0)  # item 0 alone
    for stage in ("square", "rows"):  # one item per stage at a time: start, end, start, end
        own = [(item, kind) for name, item, kind in events if name == stage]
        assert own == [(item, kind) for item in range(8) for kind in ("start", "end")]
    # ... while two stages work on two items at once
    assert next_started == [True] * 6
    threads.clear()
    serial = run(build(ALL, logged_table(False)), RunFolder(tmp_path / "b"), n=8,
                 engine=LocalEngine(overlap=1))
    assert threads == {threading.current_thread().name}
    assert (tmp_path / "a" / "table.csv").read_bytes() == (tmp_path / "b" / "table.csv"
                                                            ).read_bytes()
    assert overlapped["sum"] == serial["sum"] and overlapped["tally"] == serial["tally"]
    status = json.loads((tmp_path / "a" / "status.json").read_text())
    assert status["completed_batches"] == 8 and status["stream_complete"] is True


def test_a_failing_item_among_overlapped_ones_checkpoints_those_before_it(tmp_path):
    def fails_at_50(value):
        if value == 50:
            raise RuntimeError("bad item")
        return value * value

    table = {**TABLE, "square": Stage("square", fails_at_50, inputs=("value",),
                                      outputs=("squared",), per_batch=True)}
    with pytest.raises(StageError, match="stage 'square' failed: RuntimeError: bad item"):
        run(build(ALL, table), RunFolder(tmp_path), n=8, engine=LocalEngine(overlap=2))
    status = json.loads((tmp_path / "status.json").read_text())
    assert status["completed_batches"] == 5 and status["stream_complete"] is False


def test_resume_truncates_to_the_checkpoint_and_goes_on(tmp_path):
    complete = run(build(ALL), RunFolder(tmp_path / "complete"), n=6)

    calls, killed = [], [True]

    def flaky(value):
        calls.append(value)
        if value == 30 and killed[0]:
            raise RuntimeError("killed")
        return value * value

    table = {**TABLE, "square": Stage("square", flaky, inputs=("value",),
                                      outputs=("squared",), per_batch=True)}
    folder = RunFolder(tmp_path / "resumed")
    with pytest.raises(StageError):
        run(build(ALL, table), folder, n=6)
    assert folder.checkpoint().completed == 3
    # Items 0-2 once; the one computed beside the failing item (overlapped) is thrown away.
    assert calls[:3] == [0, 10, 20] and sorted(calls[3:]) in ([30], [30, 40])
    # A half-written row after the checkpoint (a kill mid-append) is cut away on resume.
    with open(folder.partial("table"), "a") as handle:
        handle.write("30,900,15,v3")
    killed[0], before = False, len(calls)
    resumed = run(build(ALL, table), RunFolder(tmp_path / "resumed"), n=6)
    assert sorted(calls[before:]) == [30, 40, 50]  # resumed at the checkpoint
    assert (tmp_path / "resumed" / "table.csv").read_text() == (
        tmp_path / "complete" / "table.csv").read_text()
    assert resumed["tally"] == complete["tally"] and resumed["sum"] == complete["sum"]


def test_a_complete_stream_is_not_run_again(tmp_path):
    folder = RunFolder(tmp_path)
    first = run(build(ALL), folder)
    boom = {**TABLE, "square": Stage("square", lambda v: 1 / 0, inputs=("value",),
                                     outputs=("squared",), per_batch=True)}
    again = run(build(ALL, boom), RunFolder(tmp_path))
    assert again["sum"] == first["sum"]


def test_unexpected_errors_name_the_stage_and_bad_input_passes_through(tmp_path):
    def broken(value):
        raise KeyError("gone")

    table = {**TABLE, "square": Stage("square", broken, inputs=("value",),
                                      outputs=("squared",), per_batch=True)}
    with pytest.raises(StageError) as error:
        run(build(ALL, table), RunFolder(tmp_path / "a"))
    assert str(error.value) == "stage 'square' failed: KeyError: 'gone'"
    assert error.value.stage == "square" and isinstance(error.value.__cause__, KeyError)

    def refuses(value):
        raise DatasetError("sample 3 is bad")

    table = {**TABLE, "square": Stage("square", refuses, inputs=("value",),
                                      outputs=("squared",), per_batch=True)}
    with pytest.raises(DatasetError, match="^sample 3 is bad$"):
        run(build(ALL, table), RunFolder(tmp_path / "b"))


def test_a_failing_load_names_the_stream_maker(tmp_path):
    def load(i):
        raise OSError("disk gone")

    table = {**TABLE, "numbers": Stage("numbers", lambda p: Stream([0, 1], load),
                                       inputs=("params:toy",), outputs=("value",),
                                       stream="value")}
    with pytest.raises(StageError) as error:
        run(build(ALL, table), RunFolder(tmp_path))
    assert str(error.value) == "stage 'numbers (loading item 0)' failed: OSError: disk gone"


def test_run_batch_is_a_pure_function_of_the_scope():
    pipeline = build(ALL)
    scope = run_batch(pipeline.per_batch, {"value": 7})
    assert scope["squared"] == 49
    assert scope["table"] == [Row(7, 49, 3.5, "v7", False)]
    assert run_batch(pipeline.per_batch, {"value": 7}) == scope


def test_optional_inputs_are_none_when_no_stage_makes_them(tmp_path):
    def summarise(total, extra):
        return (total, extra)

    with_extra = {**TABLE,
                  "extra": Stage("extra", lambda t: "more", inputs=("table",),
                                 outputs=("extra",)),
                  "summarise": Stage("summarise", summarise, inputs=("sum", "extra"),
                                     outputs=("summary",), optional=("extra",))}
    alone = run(build(ALL + ["summarise"], with_extra), RunFolder(tmp_path / "a"))
    assert alone["summary"] == (1400, None)
    pipeline = build(["summarise", "extra"] + ALL, with_extra)
    assert [s.name for s in pipeline.after] == ["extra", "total", "summarise"]
    assert run(pipeline, RunFolder(tmp_path / "b"))["summary"] == (1400, "more")
    with pytest.raises(ValueError) as error:
        Stage("s", print, inputs=("a",), optional=("b",))
    assert str(error.value) == ("Stage 's': optional names ['b'], which are not among its "
                                "inputs ['a'].")


def test_a_needed_producer_is_added_and_any_other_missing_input_refused():
    def judge(total, extra):
        return (total, extra)

    producers = {**TABLE,
                 "extra": Stage("extra", lambda t: "more", inputs=("table",),
                                outputs=("extra",), auto_add=True),
                 "judge": Stage("judge", judge, inputs=("sum", "extra"), outputs=("verdict",))}
    pipeline = build(ALL + ["judge"], producers)
    # The file does not name "extra", but "judge" needs it: added before its first consumer.
    assert pipeline.added == ("extra",)
    assert [s.name for s in pipeline.after] == ["total", "extra", "judge"]
    assert build(ALL + ["extra", "judge"], producers).added == ()
    refusing = {**producers, "extra": Stage("extra", lambda t: "more", inputs=("table",),
                                            outputs=("extra",))}
    with pytest.raises(PipelineError, match=r"stage 'judge' needs \['extra'\], which no stage "
                                          r"of the pipeline makes \('extra' is made by extra\)"):
        build(ALL + ["judge"], refusing)
