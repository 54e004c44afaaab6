"""The run history of an output folder: ``index.json`` and ``index.html``, and baseline lookup.

Every run folder under ``out_dir`` holds a ``summary.json`` (any schema version
:func:`audit.summary.read_summary` reads). The history keeps one row per run in
``out_dir/index.json`` (newest first) and renders ``out_dir/index.html``, a self-contained
table with a link to each run's report. A missing or corrupt ``index.json`` is rebuilt from the
run folders' summaries, so the history can never be lost for good while the runs are kept.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError

from audit.cams.methods import ordered_methods
from audit.errors import AuditError
from audit.io import atomic_write_json, atomic_write_text
from audit.report.format import fmt_pct, fmt_time
from audit.report.methods import method_title
from audit.report.templating import render
from audit.summary import RunSummary, read_summary

__all__ = ["INDEX_HTML", "INDEX_JSON", "HistoryRow", "find_baseline", "history_row",
           "update_history"]

INDEX_JSON = "index.json"
INDEX_HTML = "index.html"


class HistoryRow(BaseModel):
    """One run in ``index.json``. Keys a later cam-audit adds are kept as they are."""

    model_config = ConfigDict(extra="allow", frozen=True)

    run_id: str
    run_name: str | None = None
    finished_at: str | None = None
    model_sha256: str | None = None
    manifest_sha256: str | None = None
    passed: bool | None = None
    accuracy: float | None = None
    background_fixation_rate: dict[str, float | None] = {}  # method -> rate among errors
    # method -> fixated errors per sample: unlike the rate among errors, comparable run to run
    background_fixation_per_sample: dict[str, float | None] = {}
    energy_in_box_misclassified: dict[str, float | None] = {}  # method -> mean
    report: str = ""  # the run's report.html, relative to the output folder


_ROWS = TypeAdapter(list[HistoryRow])


def _parse_time(value: str | None) -> _dt.datetime | None:
    if not value:
        return None
    try:
        moment = _dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=_dt.UTC)
    return moment


def _sort_key(row: HistoryRow):
    moment = _parse_time(row.finished_at)
    return (moment is not None, moment.timestamp() if moment else 0.0, row.run_id)


def history_row(summary: RunSummary, run_dir, out_dir) -> HistoryRow:
    """The history row of one run (see :func:`update_history`)."""
    provenance = summary.provenance
    run_dir, out_dir = Path(run_dir), Path(out_dir)
    report = os.path.relpath(run_dir.resolve() / "report.html", out_dir.resolve())
    return HistoryRow(
        run_id=summary.run_id or provenance.run_id or run_dir.name,
        run_name=summary.run_name,
        finished_at=provenance.finished_at,
        model_sha256=provenance.model_sha256,
        manifest_sha256=provenance.manifest_sha256,
        passed=summary.passed,
        accuracy=summary.accuracy,
        background_fixation_rate={m: f.background_fixation_rate
                                  for m, f in summary.methods.items()},
        background_fixation_per_sample={m: f.background_fixation_per_sample.mean
                                        for m, f in summary.methods.items()},
        energy_in_box_misclassified={m: f.energy_in_box.misclassified.mean
                                     for m, f in summary.methods.items()},
        report=Path(report).as_posix(),
    )


def _run_summaries(out_dir: Path) -> Iterator[tuple[Path, RunSummary]]:
    """(run folder, summary) of every child folder of ``out_dir`` with a readable
    ``summary.json``; unreadable ones are not runs of the history."""
    if not out_dir.is_dir():
        return
    for child in sorted(out_dir.iterdir()):
        if not (child / "summary.json").is_file():
            continue
        try:
            yield child, read_summary(child / "summary.json")
        except AuditError:
            continue


def _load(out_dir: Path) -> list[HistoryRow]:
    try:
        return _ROWS.validate_json((out_dir / INDEX_JSON).read_bytes())
    except (OSError, ValidationError):
        # Missing or corrupt: the run folders are the truth.
        return [history_row(summary, child, out_dir)
                for child, summary in _run_summaries(out_dir)]


def _short(value: str | None, n: int = 10) -> str:
    return value[:n] if value else "—"


def _view(row: HistoryRow, methods: list[str], out_dir: Path) -> dict:
    report = row.report
    exists = bool(report) and (out_dir / report).is_file()
    return {
        "run_id": row.run_id,
        "run_name": row.run_name or "",
        "finished_at": fmt_time(row.finished_at) if row.finished_at else "—",
        "passed": row.passed,
        "accuracy": fmt_pct(row.accuracy),
        "fixation": [fmt_pct(row.background_fixation_rate.get(m)) for m in methods],
        "per_sample": [fmt_pct(row.background_fixation_per_sample.get(m)) for m in methods],
        "energy": [fmt_pct(row.energy_in_box_misclassified.get(m)) for m in methods],
        "model": _short(row.model_sha256),
        "manifest": _short(row.manifest_sha256),
        # A relative link, percent-encoded: never a scheme, never a network fetch.
        "href": quote(report, safe="/") if exists and not report.startswith("/") else None,
    }


def _html(rows: list[HistoryRow], out_dir: Path) -> str:
    import audit

    methods = ordered_methods(
        m for row in rows
        for m in [*row.background_fixation_rate, *row.background_fixation_per_sample,
                  *row.energy_in_box_misclassified])
    views = [_view(row, methods, out_dir) for row in rows]
    return render(
        "history.html.j2",
        rows=views,
        methods=[{"name": m, "title": method_title(m)} for m in methods],
        latest=views[0] if views else None,
        n_passed=sum(v["passed"] is True for v in views),
        n_failed=sum(v["passed"] is False for v in views),
        generated=_dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        version=audit.__version__,
        title=out_dir.resolve().name,
    )


def update_history(out_dir, *, summary: RunSummary, run_dir) -> tuple[Path, Path]:
    """Add (or replace) this run's row in ``out_dir/index.json`` and re-render ``index.html``.

    Rows (newest first by ``finished_at``) are :class:`HistoryRow`: ``run_id``, ``run_name``,
    ``finished_at``, ``model_sha256``, ``manifest_sha256``, ``passed``, ``accuracy``,
    ``background_fixation_rate`` (among errors), ``background_fixation_per_sample`` (fixated
    errors per sample, the one to compare run to run) and ``energy_in_box_misclassified``
    (method -> value or None), and ``report``, the run's ``report.html`` relative to
    ``out_dir``. A missing or
    corrupt ``index.json`` is rebuilt from the ``summary.json`` of every run folder in
    ``out_dir`` (schema version 1 or 2). Both files are written atomically.

    Returns
    -------
    (index.json path, index.html path)
    """
    out_dir = Path(out_dir)
    row = history_row(summary, run_dir, out_dir)
    rows = [r for r in _load(out_dir) if r.run_id != row.run_id]
    rows.append(row)
    rows.sort(key=_sort_key, reverse=True)
    index_json = atomic_write_json(out_dir / INDEX_JSON, [r.model_dump(mode="json") for r in rows])
    index_html = atomic_write_text(out_dir / INDEX_HTML, _html(rows, out_dir))
    return index_json, index_html


def _completed(run_dir: Path) -> bool:
    status_path = run_dir / "status.json"
    if not status_path.exists():
        return True  # a summary.json without status.json: written by a finished run
    try:
        status = json.loads(status_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(status, dict) and status.get("status") == "complete"


def _same_dir(a: Path, b) -> bool:
    if b is None:
        return False
    try:
        return a.resolve() == Path(b).resolve()
    except OSError:
        return False


def find_baseline(out_dir, *, summary: RunSummary, exclude_run_dir=None) -> Path | None:
    """The most recent earlier completed run in ``out_dir`` on the same dataset, or None.

    A candidate is a child folder of ``out_dir`` (not ``exclude_run_dir``, not the same run
    id) whose ``summary.json`` (any readable schema version) has the same
    ``provenance.manifest_sha256`` as ``summary``, whose ``status.json`` (when present) says
    ``complete`` and whose ``provenance.finished_at`` is a timestamp no later than this run's
    finish (or start, when it has not finished yet). The latest by ``finished_at`` wins.
    """
    provenance = summary.provenance
    manifest = provenance.manifest_sha256
    if not manifest:
        return None
    run_id = summary.run_id or provenance.run_id
    limit = _parse_time(provenance.finished_at) or _parse_time(provenance.started_at)
    best: tuple[_dt.datetime, str] | None = None
    best_dir = None
    for child, other in _run_summaries(Path(out_dir)):
        if _same_dir(child, exclude_run_dir):
            continue
        if other.provenance.manifest_sha256 != manifest:
            continue
        if run_id and (other.run_id or other.provenance.run_id) == run_id:
            continue
        finished = _parse_time(other.provenance.finished_at)
        if finished is None or (limit is not None and finished > limit):
            continue
        if not _completed(child):
            continue
        key = (finished, child.name)
        if best is None or key > best:
            best, best_dir = key, child
    return best_dir
