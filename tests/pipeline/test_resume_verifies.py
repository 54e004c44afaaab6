"""A resume that verifies (audit.pipeline.run_folder): a run folder modified after its
checkpoint is refused, never repaired; a finished folder's SHA256SUMS finds any change."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest

from audit.pipeline import (
    Counts,
    RunFolder,
    Stage,
    StageError,
    Stream,
    build_pipeline,
    run_pipeline,
)
from audit.pipeline.errors import RunFolderError


@dataclass(frozen=True)
class Row:
    item: int
    name: str


def _numbers(params):
    return Stream(specs=list(range(params["n"])), load=lambda i: i)


def _rows(value, fail_at):
    if value == fail_at[0]:
        raise RuntimeError("killed")
    return [Row(value, f"v{value}")], Counts(seen=1)


def _pipeline(fail_at):
    table = {s.name: s for s in (
        Stage("numbers", _numbers, inputs=("params:toy",), outputs=("value",), stream="value"),
        Stage("rows", lambda value: _rows(value, fail_at), inputs=("value",),
              outputs=("table", "counts"), per_batch=True,
              collect={"table": Row, "counts": Counts}),
    )}
    return build_pipeline({"name": "toy", "stages": ["numbers", "rows"]}, table=table,
                          provided=("params:toy",), where="toy.yaml")


def _killed_run(path):
    fail_at = [3]
    folder = RunFolder(path)
    path.mkdir()
    with pytest.raises(StageError):
        run_pipeline(_pipeline(fail_at), {"params:toy": {"n": 6}}, folder=folder)
    fail_at[0] = -1
    return fail_at


def _resume(path, fail_at):
    return run_pipeline(_pipeline(fail_at), {"params:toy": {"n": 6}}, folder=RunFolder(path))


def _edit_status(path, **changes):
    status = json.loads((path / "status.json").read_text())
    for key, value in changes.items():
        if value is None:
            status.pop(key)
        else:
            status[key] = value(status[key]) if callable(value) else value
    (path / "status.json").write_text(json.dumps(status))


MODIFIED = "was modified after its checkpoint: "


def test_an_untouched_folder_resumes(tmp_path):
    fail_at = _killed_run(tmp_path / "r")
    out = _resume(tmp_path / "r", fail_at)
    assert list(out["table"]["item"]) == [0, 1, 2, 3, 4, 5]


def test_a_shortened_table_is_refused(tmp_path):
    fail_at = _killed_run(tmp_path / "r")
    partial = tmp_path / "r" / "table.partial.csv"
    partial.write_bytes(partial.read_bytes()[:-4])
    with pytest.raises(RunFolderError, match=MODIFIED + r"table.partial.csv is \d+ bytes, shorter"):
        _resume(tmp_path / "r", fail_at)


def test_an_edited_row_is_refused(tmp_path):
    fail_at = _killed_run(tmp_path / "r")
    partial = tmp_path / "r" / "table.partial.csv"
    partial.write_text(partial.read_text().replace("v1", "v9"))
    with pytest.raises(RunFolderError, match=MODIFIED + "table.partial.csv: its first .* SHA-256"):
        _resume(tmp_path / "r", fail_at)


def test_a_raised_length_in_the_status_is_refused(tmp_path):
    fail_at = _killed_run(tmp_path / "r")
    _edit_status(tmp_path / "r", tables=lambda t: {k: v + 50_000_000 for k, v in t.items()})
    with pytest.raises(RunFolderError, match=MODIFIED + "status.json's checkpoint does not match"):
        _resume(tmp_path / "r", fail_at)
    assert (tmp_path / "r" / "table.partial.csv").stat().st_size < 1000  # nothing written


@pytest.mark.parametrize("change,message", [
    ({"table_sha256": None}, MODIFIED + "status.json lacks"),
    ({"checkpoint_version": None}, "was written by another version"),
])
def test_a_missing_key_or_another_version_is_refused(tmp_path, change, message):
    fail_at = _killed_run(tmp_path / "r")
    _edit_status(tmp_path / "r", **change)
    with pytest.raises(RunFolderError, match=message):
        _resume(tmp_path / "r", fail_at)


def test_a_complete_streams_tables_are_checked_whole(tmp_path):
    fail_at = _killed_run(tmp_path / "r")
    _resume(tmp_path / "r", fail_at)
    final = tmp_path / "r" / "table.csv"
    final.write_text(final.read_text().replace("v4", "v8"))
    with pytest.raises(RunFolderError, match=MODIFIED + "table.csv: its first"):
        _resume(tmp_path / "r", fail_at)


def test_the_manifest_names_what_changed(tmp_path):
    fail_at = _killed_run(tmp_path / "r")
    _resume(tmp_path / "r", fail_at)
    folder = RunFolder(tmp_path / "r")
    (tmp_path / "r" / "sub").mkdir()
    (tmp_path / "r" / "sub" / "x.txt").write_text("x")
    folder.write_manifest()
    assert folder.verify() == []
    (tmp_path / "r" / "table.csv").write_text("item,name\n")
    (tmp_path / "r" / "sub" / "x.txt").unlink()
    (tmp_path / "r" / "new.txt").write_text("y")
    assert folder.verify() == ["sub/x.txt: missing", "table.csv: modified (its SHA-256 differs)",
                               "new.txt: added after the run"]
    with pytest.raises(RunFolderError, match="not a finished run folder"):
        RunFolder(tmp_path).verify()


def test_cam_audit_verify_exit_codes(tmp_path, capsys):
    from audit.app.cli import main

    (tmp_path / "r").mkdir()
    (tmp_path / "r" / "a.txt").write_text("a")
    RunFolder(tmp_path / "r").write_manifest()
    assert main(["verify", str(tmp_path / "r")]) == 0
    (tmp_path / "r" / "a.txt").write_text("b")
    assert main(["verify", str(tmp_path / "r")]) == 1
    assert "a.txt: modified" in capsys.readouterr().out
    assert main(["verify", str(tmp_path)]) == 2
    assert main(["verify", str(tmp_path / "r" / "a.txt")]) == 2
