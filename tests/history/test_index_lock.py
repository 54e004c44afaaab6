"""index.json is updated under a file lock, and outputs honour the umask (audit.io)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

from audit.io import atomic_write_json, atomic_write_text, file_lock

ROOT = Path(__file__).resolve().parents[2]

# Read, change and write back a counter a hundred times, as update_history does with its rows.
_WRITER = """
import json, sys, time
from pathlib import Path
from audit.io import atomic_write_json, file_lock
path = Path(sys.argv[1])
for _ in range(100):
    with file_lock(path.parent / ".index.lock"):
        rows = json.loads(path.read_text())
        time.sleep(0.0005)
        atomic_write_json(path, rows + [sys.argv[2]])
"""


def test_two_writer_processes_lose_no_row(tmp_path):
    index = tmp_path / "index.json"
    atomic_write_json(index, [])
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    writers = [subprocess.Popen([sys.executable, "-c", _WRITER, str(index), name], env=env)
               for name in ("a", "b")]
    assert [w.wait(timeout=120) for w in writers] == [0, 0]
    import json

    rows = json.loads(index.read_text())
    assert sorted(rows) == ["a"] * 100 + ["b"] * 100


def test_update_history_waits_for_the_lock(tmp_path):
    from audit.report.history import INDEX_LOCK, update_history
    from audit.summary import RunSummary

    (tmp_path / "r1").mkdir()
    done = threading.Event()

    def update():
        update_history(tmp_path, summary=RunSummary(run_id="r1"), run_dir=tmp_path / "r1")
        done.set()

    with file_lock(tmp_path / INDEX_LOCK):
        worker = threading.Thread(target=update)
        worker.start()
        assert not done.wait(1.0)  # held here: the update waits
    worker.join(timeout=60)
    assert done.is_set() and (tmp_path / "index.json").exists()


def test_outputs_honour_the_umask(tmp_path):
    old = os.umask(0o077)
    try:
        private = atomic_write_text(tmp_path / "private.txt", "x")
    finally:
        os.umask(old)
    os.umask(0o022)
    try:
        shared = atomic_write_text(tmp_path / "shared.txt", "x")
    finally:
        os.umask(old)
    assert private.stat().st_mode & 0o777 == 0o600
    assert shared.stat().st_mode & 0o777 == 0o644
