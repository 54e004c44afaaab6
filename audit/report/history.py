"""The run history of an output folder: ``index.json`` and ``index.html``, and baseline lookup.

Every run folder under ``out_dir`` holds a ``summary.json``. The history keeps one row per
run in ``out_dir/index.json`` (newest first) and renders ``out_dir/index.html``, a
self-contained table with a link to each run's report. A missing or corrupt ``index.json``
is rebuilt from the run folders' ``summary.json`` files, so the history can never be lost
for good while the runs are kept.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
from pathlib import Path
from urllib.parse import quote

from audit.io import atomic_write_json, atomic_write_text
from audit.report.figures import ordered_methods
from audit.report.templating import fmt_pct, fmt_time, is_number, render

__all__ = ["INDEX_HTML", "INDEX_JSON", "find_baseline", "history_row", "update_history"]

INDEX_JSON = "index.json"
INDEX_HTML = "index.html"


def _parse_time(value) -> _dt.datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = _dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=_dt.UTC)
    return moment


def _sort_key(row: dict):
    moment = _parse_time(row.get("finished_at"))
    return (moment is not None, moment.timestamp() if moment else 0.0, str(row.get("run_id")))


def _read_json(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, UnicodeDecodeError):
        return None


def _number(value) -> float | None:
    return float(value) if is_number(value) else None


def _provenance(summary: dict) -> dict:
    provenance = summary.get("provenance")
    return provenance if isinstance(provenance, dict) else {}


def history_row(summary: dict, run_dir, out_dir) -> dict:
    """The history row of one run (see :func:`update_history`)."""
    provenance = _provenance(summary)
    run_dir, out_dir = Path(run_dir), Path(out_dir)
    methods = summary.get("methods") if isinstance(summary.get("methods"), dict) else {}
    report = os.path.relpath(run_dir.resolve() / "report.html", out_dir.resolve())
    passed = summary.get("passed")
    return {
        "run_id": str(summary.get("run_id") or provenance.get("run_id") or run_dir.name),
        "run_name": summary.get("run_name"),
        "finished_at": provenance.get("finished_at"),
        "model_sha256": provenance.get("model_sha256"),
        "manifest_sha256": provenance.get("manifest_sha256"),
        "passed": passed if isinstance(passed, bool) else None,
        "accuracy": _number(summary.get("accuracy")),
        "background_fixation_rate": {
            str(m): _number(d.get("background_fixation_rate")) if isinstance(d, dict) else None
            for m, d in methods.items()
        },
        "energy_in_box_misclassified": {
            str(m): _number(((d.get("energy_in_box") or {}).get("misclassified") or {})
                            .get("mean")) if isinstance(d, dict) else None
            for m, d in methods.items()
        },
        "report": Path(report).as_posix(),
    }


def _run_summaries(out_dir: Path):
    """(run folder, summary dict) of every child folder of ``out_dir`` with a summary.json."""
    if not out_dir.is_dir():
        return
    for child in sorted(out_dir.iterdir()):
        if not child.is_dir():
            continue
        summary = _read_json(child / "summary.json")
        if isinstance(summary, dict):
            yield child, summary


def _rebuild(out_dir: Path) -> list[dict]:
    return [history_row(summary, child, out_dir) for child, summary in _run_summaries(out_dir)]


def _load(out_dir: Path) -> list[dict]:
    rows = _read_json(out_dir / INDEX_JSON)
    if not isinstance(rows, list) or not all(
        isinstance(r, dict) and isinstance(r.get("run_id"), str) for r in rows
    ):
        return _rebuild(out_dir)  # missing or corrupt: the run folders are the truth
    return rows


def _short(value, n: int = 10) -> str:
    return str(value)[:n] if value else "—"


def _html(rows: list[dict], out_dir: Path) -> str:
    import audit

    methods: list[str] = []
    for row in rows:
        for key in ("background_fixation_rate", "energy_in_box_misclassified"):
            for m in (row.get(key) or {}) if isinstance(row.get(key), dict) else ():
                if m not in methods:
                    methods.append(m)
    methods = ordered_methods(methods)
    views = []
    for row in rows:
        report = str(row.get("report") or "")
        exists = bool(report) and (out_dir / report).is_file()
        fixation = row.get("background_fixation_rate")
        energy = row.get("energy_in_box_misclassified")
        fixation = fixation if isinstance(fixation, dict) else {}
        energy = energy if isinstance(energy, dict) else {}
        views.append({
            "run_id": str(row.get("run_id")),
            "run_name": str(row.get("run_name") or ""),
            "finished_at": fmt_time(row.get("finished_at")) if row.get("finished_at") else "—",
            "passed": row.get("passed"),
            "accuracy": fmt_pct(row.get("accuracy")),
            "fixation": [fmt_pct(fixation.get(m)) for m in methods],
            "energy": [fmt_pct(energy.get(m)) for m in methods],
            "model": _short(row.get("model_sha256")),
            "manifest": _short(row.get("manifest_sha256")),
            # A relative link, percent-encoded: never a scheme, never a network fetch.
            "href": quote(report, safe="/") if exists and not report.startswith("/") else None,
        })
    latest = views[0] if views else None
    from audit.report.html import method_title

    return render(
        "history.html.j2",
        rows=views,
        methods=[{"name": m, "title": method_title(m)} for m in methods],
        latest=latest,
        n_passed=sum(v["passed"] is True for v in views),
        n_failed=sum(v["passed"] is False for v in views),
        generated=_dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        version=getattr(audit, "__version__", ""),
        title=out_dir.resolve().name,
    )


def update_history(out_dir, *, summary: dict, run_dir) -> tuple[Path, Path]:
    """Add (or replace) this run's row in ``out_dir/index.json`` and re-render ``index.html``.

    Rows (newest first by ``finished_at``): ``run_id``, ``run_name``, ``finished_at``,
    ``model_sha256``, ``manifest_sha256``, ``passed``, ``accuracy``,
    ``background_fixation_rate`` and ``energy_in_box_misclassified`` (method -> value or
    None), and ``report``, the run's ``report.html`` relative to ``out_dir``. A missing or
    corrupt ``index.json`` is rebuilt from the ``summary.json`` of every run folder in
    ``out_dir``. Both files are written atomically.

    Returns
    -------
    (index.json path, index.html path)
    """
    out_dir = Path(out_dir)
    summary = summary if isinstance(summary, dict) else {}
    row = history_row(summary, run_dir, out_dir)
    rows = [r for r in _load(out_dir) if r.get("run_id") != row["run_id"]]
    rows.append(row)
    rows.sort(key=_sort_key, reverse=True)
    index_json = atomic_write_json(out_dir / INDEX_JSON, rows)
    index_html = atomic_write_text(out_dir / INDEX_HTML, _html(rows, out_dir))
    return index_json, index_html


def _completed(run_dir: Path) -> bool:
    status_path = run_dir / "status.json"
    if not status_path.exists():
        return True  # a summary.json without status.json: written by a finished run
    status = _read_json(status_path)
    return isinstance(status, dict) and status.get("status") == "complete"


def _same_dir(a: Path, b) -> bool:
    if b is None:
        return False
    try:
        return a.resolve() == Path(b).resolve()
    except OSError:
        return False


def find_baseline(out_dir, *, summary: dict, exclude_run_dir) -> Path | None:
    """The most recent earlier completed run in ``out_dir`` on the same dataset, or None.

    A candidate is a child folder of ``out_dir`` (not ``exclude_run_dir``, not the same run
    id) whose ``summary.json`` has the same ``provenance.manifest_sha256`` as ``summary``,
    whose ``status.json`` (when present) says ``complete`` and whose
    ``provenance.finished_at`` is a timestamp no later than this run's finish (or start,
    when it has not finished yet). The latest by ``finished_at`` wins.
    """
    summary = summary if isinstance(summary, dict) else {}
    provenance = _provenance(summary)
    manifest = provenance.get("manifest_sha256")
    if not manifest:
        return None
    run_id = summary.get("run_id") or provenance.get("run_id")
    limit = _parse_time(provenance.get("finished_at")) or _parse_time(provenance.get("started_at"))
    best: tuple[_dt.datetime, str] | None = None
    best_dir = None
    for child, other in _run_summaries(Path(out_dir)):
        if _same_dir(child, exclude_run_dir):
            continue
        other_provenance = _provenance(other)
        if other_provenance.get("manifest_sha256") != manifest:
            continue
        if run_id and (other.get("run_id") or other_provenance.get("run_id")) == run_id:
            continue
        finished = _parse_time(other_provenance.get("finished_at"))
        if finished is None or (limit is not None and finished > limit):
            continue
        if not _completed(child):
            continue
        key = (finished, child.name)
        if best is None or key > best:
            best, best_dir = key, child
    return best_dir
