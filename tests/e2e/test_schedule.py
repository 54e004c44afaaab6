"""Scheduled audits end to end: runs on the small demo build the history, drift is tested and
flagged against the previous run (nothing between two runs of the same model, the better model's
improvements), the trends are images, the gate on regressions fails a worse run, retention keeps
the baselines, the pages fit a 1,280 px window and A4, and the cron line of the README works as
written."""

from __future__ import annotations

import base64
import fcntl
import io
import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import assert_fits, demo_config
from PIL import Image

from audit.app.cli import main

ROOT = Path(__file__).resolve().parents[2]
LIMIT = "40"


def _images(page: str) -> list[Image.Image]:
    images = []
    for uri in re.findall(r'src="data:image/png;base64,([^"]+)"', page):
        image = Image.open(io.BytesIO(base64.b64decode(uri)))
        image.load()
        images.append(image)
    return images


def _audit(demo, tmp_path: Path, name: str, **overrides) -> int:
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(demo_config(demo, tmp_path, **overrides)))
    return main(["run", str(path), "--pipeline", "quick.yaml", "--limit", LIMIT, "--quiet"])


def _runs(reports: Path) -> list[tuple[Path, dict]]:
    """(folder, summary.json) of every run in the history, oldest first."""
    rows = json.loads((reports / "index.json").read_text())[::-1]
    return [(reports / r["run_id"], r) for r in rows]


def _summary(folder: Path) -> dict:
    return json.loads((folder / "summary.json").read_text())


@pytest.mark.slow
@pytest.mark.browser
def test_three_scheduled_audits(demo_small_biased, demo_small_unbiased, browser, tmp_path):
    assert demo_small_biased.audit_manifest == demo_small_unbiased.audit_manifest
    # The same model twice, then another model, on the same dataset.
    for demo in (demo_small_biased, demo_small_biased, demo_small_unbiased):
        assert _audit(demo, tmp_path, "nightly") == 0
    reports = tmp_path / "reports"
    (first, _), (second, _), (third, _) = _runs(reports)
    one, two, three = _summary(first), _summary(second), _summary(third)
    assert (one["baseline_run_id"], one["changes"]) == (None, [])
    # Same data, same model: every difference is 0, nothing is flagged.
    assert two["baseline_run_id"] == first.name and two["changes"] == []
    # The model that never saw the background cue: better, and said so with its tests.
    assert three["baseline_run_id"] == second.name
    flagged = {c["figure"]: c for c in three["changes"]}
    assert {"accuracy", "gradcam.background_fixation_per_sample"} <= set(flagged)
    accuracy = flagged["accuracy"]
    assert accuracy["assessment"] == "improvement" and accuracy["significant"]
    assert accuracy["before"] == pytest.approx(two["accuracy"])
    assert accuracy["after"] == pytest.approx(three["accuracy"])
    assert accuracy["test"] == "mcnemar-exact" and accuracy["p_value"] < 0.05
    fixation = flagged["gradcam.background_fixation_per_sample"]
    assert fixation["assessment"] == "improvement" and fixation["difference"] < -0.02
    assert all(c["assessment"] == "improvement" and abs(c["difference"]) > 0.02
               for c in three["changes"])
    # The report and the history page say so.
    report = (third / "report.html").read_text()
    assert "B is better than A" in report
    assert "Flagged: a change whose test is significant" in report
    page = (reports / "index.html").read_text()
    assert f"against the baseline run {second.name}." in page
    assert f"no flagged change against <span class=\"mono\">{first.name}</span>" in page
    # Trends: the whole history, and each model on the dataset, as real pictures.
    images = _images(page)
    assert len(images) == 3 and all(i.format == "PNG" and i.width > 800 for i in images)
    assert page.count("<h3>Model <span") == 2

    # A fourth night: the first model is back. Its regressions against the third run fail
    # the max_regression gate; keep_runs 2 keeps run 4, run 3 and run 3's baseline (run 2),
    # and deletes run 1, whose line stays in the history.
    assert _audit(demo_small_biased, tmp_path, "strict", gates={"max_regression": 0.05},
                  report={"keep_runs": 2}) == 1
    rows = json.loads((reports / "index.json").read_text())
    assert len(rows) == 4 and [r.get("pruned", False) for r in rows] == [False] * 3 + [True]
    assert not first.exists() and second.is_dir() and third.is_dir()
    fourth = reports / rows[0]["run_id"]
    four = _summary(fourth)
    gate = four["gates"]["max_regression"]
    assert not gate["passed"] and gate["reason"].startswith(
        f"largest flagged regression against the baseline run {third.name}: ")
    assert {c["assessment"] for c in four["changes"]} == {"regression"}
    junit = (fourth / "junit.xml").read_text()
    assert "max_regression" in junit and "failure" in junit
    page = (reports / "index.html").read_text()
    assert "1 pruned" in page and len(_images(page)) == 3
    assert main(["compare", str(second), str(third), "--out", str(tmp_path / "c.html")]) == 0

    # Every page fits a 1,280 px window and A4.
    for path in (reports / "index.html", third / "report.html", fourth / "report.html",
                 tmp_path / "c.html"):
        assert_fits(browser, path)


def _cron_line() -> str:
    """The README's nightly cron line: the one example every schedule in docs/scheduling.md
    runs."""
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```cron\n(.*?)```", readme, re.S)
    assert len(blocks) == 1, "the README shows one cron example"
    lines = [line for line in blocks[0].splitlines() if line and not line.startswith("#")]
    assert len(lines) == 1
    return lines[0]


#: What every schedule runs: the audit, with a failed gate (exit 1) taken as a verdict, not as
#: a failure of the schedule; bad input (2) and internal errors (3) fail it.
AUDIT = "cam-audit run nightly.yaml --quiet || test $? -eq 1"


def test_schedules_in_the_docs_run_the_readme_command():
    line = _cron_line()
    docs = (ROOT / "docs" / "scheduling.md").read_text()
    assert line in docs  # the cron example is the README's, character for character
    # cron: cd to the folder, flock so that runs never overlap, then the audit.
    words = shlex.split(line.split(None, 5)[5])
    assert words[:2] == ["cd", "/srv/audits"] and words[2] == "&&"
    assert words[3:6] == ["flock", "-n", "-E"] and words[-3:-1] == ["sh", "-c"]
    assert words[-1] == AUDIT
    # The systemd service, GitHub Actions and GitLab CI run the same command line.
    examples = re.findall(r"```(ini|yaml)\n(.*?)```", docs, re.S)
    for fence, block in examples:
        if fence == "yaml":
            yaml.safe_load(block)
    runs = [block for _, block in examples if "cam-audit run" in block]
    assert len(runs) == 3, runs
    for block in runs:
        assert AUDIT in block, block


@pytest.mark.slow
def test_the_cron_line_works_as_written(demo_small_biased, tmp_path):
    line = _cron_line()
    command = line.split(None, 5)[5]
    folder = tmp_path / "audits"
    folder.mkdir()
    config = demo_config(demo_small_biased, folder, pipeline="quick.yaml",  # a shipped one
                         dataset={"limit": 16}, gates={"min_accuracy": 0.99},
                         report={"out_dir": "reports"})
    (folder / "nightly.yaml").write_text(yaml.safe_dump(config))
    cd = re.match(r"cd (\S+) && ", command)
    assert cd, command
    command = command.replace(cd.group(0), f"cd {shlex.quote(str(folder))} && ", 1)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    shim = bin_dir / "cam-audit"  # the console script: python -m audit
    shim.write_text(f"#!/bin/sh\nexec {shlex.quote(sys.executable)} -m audit \"$@\"\n")
    shim.chmod(0o755)
    env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "PYTHONPATH": str(ROOT), "HOME": str(tmp_path),
           "CAM_AUDIT_TF_LOGS": "0"}

    def cron():
        return subprocess.run(["/bin/sh", "-c", command], env=env, capture_output=True,
                              text=True, timeout=600)

    # A gate fails (accuracy is below 0.99): that is the audit's verdict, not a cron failure.
    done = cron()
    assert done.returncode == 0, done.stderr[-2000:]
    runs = [p for p in (folder / "reports").iterdir() if p.is_dir()]
    assert len(runs) == 1 and json.loads((runs[0] / "summary.json").read_text())["passed"] is False
    assert (folder / "reports" / "index.html").is_file()
    # While another audit holds the lock, the line does not start a second one, and fails.
    with open(folder / ".cam-audit.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        blocked = cron()
    assert blocked.returncode != 0
    assert len([p for p in (folder / "reports").iterdir() if p.is_dir()]) == 1
    # An audit that cannot run (bad configuration, exit 2) fails the line too.
    (folder / "nightly.yaml").write_text("model: {}\n")
    broken = cron()
    assert broken.returncode != 0 and "model.path" in broken.stderr
