"""The run history page: trends per (model, dataset) and for the whole history, the flagged
changes, and retention (report.keep_runs) that never deletes a kept run's baseline, a running
run or anything that is not a finished run folder of the history, and keeps every pruned run's
row."""

from __future__ import annotations

import base64
import io
import json
import os
import re
from pathlib import Path

import pytest
from PIL import Image
from run_builders import write_run

from audit.history.baseline import find_baseline
from audit.history.index import HistoryRow
from audit.history.retention import TRASH_PREFIX, plan_retention
from audit.report import update_history
from audit.report.trends import TrendRun, trends_png
from audit.summary import Change, read_summary, write_summary


def decode(png: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(png))
    image.load()
    return image


def page_images(html: str) -> list[Image.Image]:
    uris = re.findall(r'src="data:image/png;base64,([^"]+)"', html)
    return [decode(base64.b64decode(uri)) for uri in uris]


def trend_run(i: int, *, model="a", dataset="d", passed=True, reliance=None) -> TrendRun:
    return TrendRun(
        run_id=f"run-{i}", finished_at=f"2026-11-{i + 1:02d}T02:00:00+00:00", model=model,
        dataset=dataset, passed=passed, accuracy=(0.8 + 0.01 * i, (0.7, 0.9)),
        fixation={"gradcam": (0.4, (0.3, 0.5)), "negative": (None, None)},
        per_sample={"gradcam": (0.05, None)}, reliance=(reliance, None),
        thresholds={"min_accuracy": 0.75, "max_background_fixation_rate": 0.5})


def test_trends_png():
    assert trends_png([]) is None
    assert trends_png([TrendRun(run_id="empty")]) is None  # nothing to draw
    runs = [trend_run(i, passed=i != 2) for i in range(4)]
    runs += [trend_run(i, model="b", reliance=0.1) for i in range(4, 7)]
    png = trends_png(runs)
    image = decode(png)
    assert image.format == "PNG" and image.width > 800
    # A fourth panel once a run has the behavioural test: a taller figure.
    assert image.height > decode(trends_png(runs[:4])).height
    assert trends_png(runs) == png  # the same history, the same picture
    # Runs on two datasets, and hundreds of runs, draw too.
    assert decode(trends_png([trend_run(i % 28, dataset="de"[i % 2]) for i in range(300)]))


def summary_with(run_dir: Path, *, baseline: str | None, changes=(), model=None,
                 passed=None):
    summary = read_summary(run_dir / "summary.json")
    update = {"baseline_run_id": baseline, "changes": list(changes)}
    if model:
        update["provenance"] = summary.provenance.model_copy(update={"model_sha256": model})
    if passed is not None:
        update["passed"] = passed
    summary = summary.model_copy(update=update)
    write_summary(run_dir / "summary.json", summary)
    return summary


REGRESSION = Change(figure="gradcam.background_fixation_per_sample", label="x",
                    method="gradcam", assessment="regression", before=0.05, after=0.2,
                    difference=0.15, ci=(0.08, 0.22), test="newcombe", n_before=60,
                    n_after=60)


def test_history_page_trends_and_changes(tmp_path):
    first, _ = write_run(tmp_path, "run-1", "2026-11-01T02:00:00+00:00")
    summary_with(first, baseline=None)
    second, _ = write_run(tmp_path, "run-2", "2026-11-02T02:00:00+00:00", seed=1)
    summary_with(second, baseline="run-1")
    third, _ = write_run(tmp_path, "run-3", "2026-11-03T02:00:00+00:00", seed=2)
    latest = summary_with(third, baseline="run-2", changes=[REGRESSION], model="f" * 64,
                          passed=False)
    (tmp_path / "index.json").unlink(missing_ok=True)
    index_json, index_html = update_history(tmp_path, summary=latest, run_dir=third)
    page = index_html.read_text()
    # Trends: the whole history, and each of the two (model, dataset) groups.
    images = page_images(page)
    assert len(images) == 3 and all(i.width > 800 for i in images)
    assert page.count("<h3>Model <span") == 2
    # The latest run's flagged change opens the page; each row says what changed.
    assert "1 regression against the baseline run run-2." in page
    assert ("Grad-CAM background-fixated errors per sample 5.0% → 20.0% (+15.0 pp; 95% CI "
            "+8.0 pp to +22.0 pp)") in page
    assert "no flagged change against <span class=\"mono\">run-1</span>" in page
    assert "no baseline" in page
    assert "3 runs: 0 passed, 3 failed" in page
    row = json.loads(index_json.read_text())[0]
    assert row["baseline_run_id"] == "run-2"
    assert row["changes"][0]["figure"] == "gradcam.background_fixation_per_sample"
    assert HistoryRow.model_validate(row).changes == [REGRESSION]
    # One run: one figure (the whole history is its only group), and English.
    alone = tmp_path / "alone"
    only, _ = write_run(alone, "run-1", "2026-11-01T02:00:00+00:00")
    _, html = update_history(alone, summary=summary_with(only, baseline=None), run_dir=only)
    text = html.read_text()
    assert len(page_images(text)) == 1
    assert "1 run:" in text and "1 runs" not in text


def history(tmp_path: Path, n: int, **options) -> list[Path]:
    """``n`` finished runs on one dataset, oldest first, each recording the previous one as
    its baseline (``options``: run id -> keyword arguments of write_run)."""
    folders = []
    for i in range(1, n + 1):
        run_id = f"run-{i:02d}"
        folder, _ = write_run(tmp_path, run_id, f"2026-11-{i:02d}T02:00:00+00:00",
                              **options.get(run_id, {}))
        summary_with(folder, baseline=f"run-{i - 1:02d}" if i > 1 else None)
        folders.append(folder)
    return folders


def test_retention_keeps_the_newest_and_their_baselines(tmp_path):
    folders = history(tmp_path, 6, **{"run-03": {"status": "running"}})
    # run-05 was compared with an explicit baseline, run-02.
    summary_with(folders[4], baseline="run-02")
    foreign = tmp_path / "notes"  # not a run of the history
    foreign.mkdir()
    (foreign / "todo.txt").write_text("keep me")
    (tmp_path / f"{TRASH_PREFIX}run-00").mkdir()  # left by an interrupted deletion
    (tmp_path / f"{TRASH_PREFIX}run-00" / "summary.json").write_text("{}")
    current = read_summary(folders[-1] / "summary.json")
    index_json, index_html = update_history(tmp_path, summary=current, run_dir=folders[-1],
                                            keep_runs=2)
    # Kept: run-06 and run-05 (the newest two), run-05 (run-06's baseline) and run-02
    # (run-05's). run-03 is still running: never touched. Deleted: run-01, run-04.
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_dir()) == [
        "notes", "run-02", "run-03", "run-05", "run-06"]
    assert (foreign / "todo.txt").read_text() == "keep me"
    rows = {r["run_id"]: r for r in json.loads(index_json.read_text())}
    assert len(rows) == 6  # every run keeps its line
    assert {k for k, r in rows.items() if r.get("pruned")} == {"run-01", "run-04"}
    assert rows["run-01"]["accuracy"] is not None  # its figures stay for the trends
    page = index_html.read_text()
    assert 'href="run-06/report.html"' in page and 'href="run-01/report.html"' not in page
    assert page.count('<span class="muted">pruned</span>') == 2
    assert "2 pruned" in page
    # Trends still draw every run.
    assert page_images(page)
    # Without keep_runs nothing more goes, and the pruned lines stay.
    again, _ = update_history(tmp_path, summary=current, run_dir=folders[-1])
    assert len(json.loads(again.read_text())) == 6
    assert (tmp_path / "run-02").is_dir()


def test_retention_touches_only_finished_run_folders_of_the_history(tmp_path):
    outside = tmp_path / "outside"
    out = tmp_path / "reports"
    folders = history(out, 4, **{"run-01": {"status": None}})  # an old run: no status.json
    # run-02's folder is a link to a run folder elsewhere; deleting must not follow it.
    elsewhere, _ = write_run(outside, "run-02", "2026-11-02T02:00:00+00:00")
    import shutil

    shutil.rmtree(folders[1])
    os.symlink(elsewhere, folders[1])
    current = read_summary(folders[-1] / "summary.json")
    update_history(out, summary=current, run_dir=folders[-1], keep_runs=1)
    # run-04 kept, run-03 its baseline; run-01 has no status.json, run-02 is a link.
    assert (out / "run-01").is_dir() and (out / "run-02").is_symlink()
    assert (elsewhere / "summary.json").is_file()
    assert (out / "run-03").is_dir() and (out / "run-04").is_dir()


def test_retention_of_rows_without_a_recorded_baseline(tmp_path):
    # Runs of an earlier cam-audit recorded no baseline: the next older run on the same
    # dataset is taken for it and kept.
    folders = []
    for i in range(1, 5):
        folder, _ = write_run(tmp_path, f"run-{i}", f"2026-11-0{i}T02:00:00+00:00",
                              schema_version=1)
        folders.append(folder)
    current = read_summary(folders[-1] / "summary.json")
    assert "baseline_run_id" not in current.model_fields_set
    update_history(tmp_path, summary=current, run_dir=folders[-1], keep_runs=1)
    assert sorted(p.name for p in tmp_path.iterdir() if p.is_dir()) == ["run-3", "run-4"]
    with pytest.raises(ValueError, match="keep_runs=0"):
        plan_retention([], tmp_path, keep_runs=0)


def test_an_interrupted_deletion_is_finished_by_the_next_run(tmp_path):
    folders = history(tmp_path, 4)
    current = read_summary(folders[-1] / "summary.json")
    index_json, _ = update_history(tmp_path, summary=current, run_dir=folders[-1])
    # The history said run-01 was pruned, but its folder is still there (the process died
    # between writing the history and deleting the folder).
    rows = json.loads(index_json.read_text())
    rows[-1]["pruned"] = True
    index_json.write_text(json.dumps(rows))
    update_history(tmp_path, summary=current, run_dir=folders[-1], keep_runs=2)
    assert not (tmp_path / "run-01").exists()
    assert (tmp_path / "run-02").is_dir()  # run-03's baseline
    assert not list(tmp_path.glob(f"{TRASH_PREFIX}*"))
    # A folder being deleted is never anyone's baseline.
    (tmp_path / f"{TRASH_PREFIX}run-09").mkdir()
    write_run(tmp_path / "x", "run-09", "2026-11-09T02:00:00+00:00")
    os.replace(tmp_path / "x" / "run-09" / "summary.json",
               tmp_path / f"{TRASH_PREFIX}run-09" / "summary.json")
    later = current.model_copy(update={"run_id": "run-10", "provenance": current.provenance
                                       .model_copy(update={"run_id": "run-10",
                                                           "finished_at": "2026-11-10"})})
    assert find_baseline(tmp_path, summary=later).name == "run-04"
