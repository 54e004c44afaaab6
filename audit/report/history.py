# One module past 400 lines: index.json, index.html and find_baseline read the same run folders.
"""The run history of an output folder: ``index.json`` and ``index.html``, trends, retention,
and baseline lookup.

Every run folder under ``out_dir`` holds a ``summary.json`` (any schema version
:func:`audit.summary.read_summary` reads). The history keeps one row per run in
``out_dir/index.json`` (newest first) and renders ``out_dir/index.html``: the latest verdict and
what changed against its baseline run, the trends of the key figures over the runs (for the
whole history and for each model on each dataset, :mod:`audit.report.trends`) and a table of
every run with a link to its report. A missing or corrupt ``index.json`` is rebuilt from the
run folders' summaries, so the history can never be lost for good while the runs are kept.

With ``report.keep_runs`` the oldest run folders beyond that many are deleted
(:mod:`audit.history.retention`); their rows stay in ``index.json``, marked ``pruned``, so the
trends go on showing them. ``index.json`` is then the only record of a pruned run: keep it
with the reports (a rebuild from the folders cannot bring pruned runs back).
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
from audit.history.retention import TRASH_PREFIX, delete_runs, plan_retention, run_folder
from audit.io import atomic_write_json, atomic_write_text, file_lock
from audit.report.changes import change_view, changes_sentence
from audit.report.format import fmt_ci, fmt_pct, fmt_time
from audit.report.images import data_uri
from audit.report.methods import method_title
from audit.report.templating import render
from audit.report.trends import TrendRun, trends_png
from audit.summary import Change, RunSummary, read_summary

__all__ = ["INDEX_HTML", "INDEX_JSON", "HistoryRow", "find_baseline", "history_row",
           "update_history"]

INDEX_JSON = "index.json"
#: The lock file taken while ``index.json`` is read, changed and written back.
INDEX_LOCK = ".index.lock"
INDEX_HTML = "index.html"

#: The most (model, dataset) groups the history page draws trends of, newest first.
MAX_GROUP_TRENDS = 8
#: The flagged changes a row of the runs table lists before "and N more".
MAX_ROW_CHANGES = 3

Interval = tuple[float, float]


class HistoryRow(BaseModel):
    """One run in ``index.json``. Keys a later cam-audit adds are kept as they are; a row
    written before a key existed reads with its default (and is written back without it)."""

    model_config = ConfigDict(extra="allow", frozen=True)

    run_id: str
    run_name: str | None = None
    finished_at: str | None = None
    model_sha256: str | None = None
    manifest_sha256: str | None = None
    passed: bool | None = None
    accuracy: float | None = None
    accuracy_ci: Interval | None = None
    background_fixation_rate: dict[str, float | None] = {}  # method -> rate among errors
    background_fixation_rate_ci: dict[str, Interval | None] = {}
    # method -> fixated errors per sample: unlike the rate among errors, comparable run to run
    background_fixation_per_sample: dict[str, float | None] = {}
    background_fixation_per_sample_ci: dict[str, Interval | None] = {}
    energy_in_box_misclassified: dict[str, float | None] = {}  # method -> mean
    background_reliance: float | None = None  # the behavioural test's, when the run had it
    background_reliance_ci: Interval | None = None
    thresholds: dict[str, float] = {}  # gate (without its method) -> threshold
    baseline_run_id: str | None = None  # the run the changes are against
    changes: list[Change] = []  # flagged changes against the baseline run
    report: str = ""  # the run's report.html, relative to the output folder
    pruned: bool = False  # its folder was deleted by report.keep_runs


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


def _gate_base(name: str) -> str:
    return name.split("[", 1)[0]


def history_row(summary: RunSummary, run_dir, out_dir) -> HistoryRow:
    """The history row of one run (see :func:`update_history`)."""
    provenance = summary.provenance
    run_dir, out_dir = Path(run_dir), Path(out_dir)
    report = os.path.relpath(run_dir.resolve() / "report.html", out_dir.resolve())
    methods = summary.methods
    reliance = summary.behaviour.background_reliance if summary.behaviour else None
    thresholds: dict[str, float] = {}
    for name, gate in summary.gates.items():
        if gate.threshold is not None:
            thresholds.setdefault(_gate_base(name), gate.threshold)
    recorded = {}
    if "baseline_run_id" in summary.model_fields_set:  # unknown for older summaries
        recorded["baseline_run_id"] = summary.baseline_run_id
    return HistoryRow(
        run_id=summary.run_id or provenance.run_id or run_dir.name,
        run_name=summary.run_name,
        finished_at=provenance.finished_at,
        model_sha256=provenance.model_sha256,
        manifest_sha256=provenance.manifest_sha256,
        passed=summary.passed,
        accuracy=summary.accuracy,
        accuracy_ci=summary.correct.ci or summary.accuracy_ci,
        background_fixation_rate={m: f.background_fixation_rate for m, f in methods.items()},
        background_fixation_rate_ci={m: f.background_fixation.ci for m, f in methods.items()},
        background_fixation_per_sample={m: f.background_fixation_per_sample.mean
                                        for m, f in methods.items()},
        background_fixation_per_sample_ci={m: f.background_fixation_per_sample.ci
                                           for m, f in methods.items()},
        energy_in_box_misclassified={m: f.energy_in_box.misclassified.mean
                                     for m, f in methods.items()},
        background_reliance=reliance.value if reliance else None,
        background_reliance_ci=(reliance.ci_low, reliance.ci_high)
        if reliance and reliance.ci_low is not None and reliance.ci_high is not None else None,
        thresholds=thresholds,
        changes=list(summary.changes),
        report=Path(report).as_posix(),
        **recorded,
    )


def _run_summaries(out_dir: Path) -> Iterator[tuple[Path, RunSummary]]:
    """(run folder, summary) of every child folder of ``out_dir`` with a readable
    ``summary.json``; unreadable ones are not runs of the history."""
    if not out_dir.is_dir():
        return
    for child in sorted(out_dir.iterdir()):
        if child.name.startswith(".") or not (child / "summary.json").is_file():
            continue  # hidden: a run folder being deleted (retention) is no run any more
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


def _moment(row: HistoryRow) -> str:
    return fmt_time(row.finished_at) if row.finished_at else "—"


def _compared(row: HistoryRow) -> bool | None:
    """Whether the run was compared with a baseline: None for a row of an earlier cam-audit,
    which did not record it."""
    if "baseline_run_id" not in row.model_fields_set:
        return None
    return row.baseline_run_id is not None


def _changes_view(row: HistoryRow, *, limit: int | None = None) -> dict:
    views = [change_view(c) for c in row.changes]
    compared = _compared(row)
    shown = views if limit is None else views[:limit]
    return {
        "compared": compared,
        "baseline": row.baseline_run_id,
        "n_regressions": sum(c.assessment == "regression" for c in row.changes),
        "n_improvements": sum(c.assessment == "improvement" for c in row.changes),
        "sentence": changes_sentence(row.changes, baseline=row.baseline_run_id,
                                     compared=bool(compared)) if compared is not None else "",
        "entries": shown,
        "more": len(views) - len(shown),
    }


def _view(row: HistoryRow, methods: list[str], out_dir: Path) -> dict:
    report = row.report
    exists = (not row.pruned and bool(report) and not report.startswith("/")
              and (out_dir / report).is_file())
    return {
        "run_id": row.run_id,
        "run_name": row.run_name or "",
        "finished_at": _moment(row),
        "passed": row.passed,
        "accuracy": fmt_pct(row.accuracy),
        "accuracy_ci": fmt_ci(row.accuracy_ci, "pct"),
        "methods": [{
            "title": method_title(m),
            "fixation": fmt_pct(row.background_fixation_rate.get(m)),
            "per_sample": fmt_pct(row.background_fixation_per_sample.get(m)),
            "energy": fmt_pct(row.energy_in_box_misclassified.get(m)),
        } for m in methods if m in row.background_fixation_rate
            or m in row.background_fixation_per_sample or m in row.energy_in_box_misclassified],
        "model": _short(row.model_sha256),
        "manifest": _short(row.manifest_sha256),
        "changes": _changes_view(row, limit=MAX_ROW_CHANGES),
        "pruned": row.pruned,
        # A relative link, percent-encoded: never a scheme, never a network fetch.
        "href": quote(report, safe="/") if exists else None,
    }


def _trend_run(row: HistoryRow) -> TrendRun:
    return TrendRun(
        run_id=row.run_id, finished_at=row.finished_at, model=row.model_sha256,
        dataset=row.manifest_sha256, passed=row.passed,
        accuracy=(row.accuracy, row.accuracy_ci),
        fixation={m: (v, row.background_fixation_rate_ci.get(m))
                  for m, v in row.background_fixation_rate.items()},
        per_sample={m: (v, row.background_fixation_per_sample_ci.get(m))
                    for m, v in row.background_fixation_per_sample.items()},
        reliance=(row.background_reliance, row.background_reliance_ci),
        thresholds=dict(row.thresholds),
    )


def _plural(n: int, word: str) -> str:
    """>>> _plural(1, "run"), _plural(3, "run")
    ('1 run', '3 runs')"""
    return f"{n} {word}{'' if n == 1 else 's'}"


def _trends(rows: list[HistoryRow], methods: list[str]) -> dict:
    """The trend plot of the whole history and of each (model, dataset) group, newest group
    first, as data URIs."""
    oldest_first = rows[::-1]
    runs = [_trend_run(r) for r in oldest_first]
    groups: dict[tuple, list[int]] = {}
    for index, row in enumerate(oldest_first):
        groups.setdefault((row.model_sha256, row.manifest_sha256), []).append(index)
    ordered = sorted(groups.items(), key=lambda item: item[1][-1], reverse=True)
    views = []
    if len(ordered) > 1:
        for (model, dataset), indices in ordered[:MAX_GROUP_TRENDS]:
            latest = oldest_first[indices[-1]]
            views.append({
                "model": _short(model), "manifest": _short(dataset),
                "runs": _plural(len(indices), "run"),
                "run_name": latest.run_name or "",
                "latest": _moment(latest), "passed": latest.passed,
                "uri": data_uri(trends_png([runs[i] for i in indices], methods=methods)),
            })
    return {"all": data_uri(trends_png(runs, methods=methods)), "groups": views,
            "n_groups": len(ordered), "more_groups": max(0, len(ordered) - MAX_GROUP_TRENDS)}


def _html(rows: list[HistoryRow], out_dir: Path) -> str:
    import audit

    methods = ordered_methods(
        m for row in rows
        for m in [*row.background_fixation_rate, *row.background_fixation_per_sample,
                  *row.energy_in_box_misclassified])
    views = [_view(row, methods, out_dir) for row in rows]
    latest = None
    if rows:
        latest = {**views[0], "changes": _changes_view(rows[0])}
    n_passed = sum(v["passed"] is True for v in views)
    n_failed = sum(v["passed"] is False for v in views)
    return render(
        "history.html.j2",
        rows=views,
        latest=latest,
        trends=_trends(rows, methods) if rows else None,
        n_runs=_plural(len(views), "run"),
        n_passed=n_passed,
        n_failed=n_failed,
        n_pruned=sum(r.pruned for r in rows),
        generated=_dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        version=audit.__version__,
        title=out_dir.resolve().name,
    )


def _unprune(rows: list[HistoryRow], out_dir: Path) -> list[HistoryRow]:
    """Rows marked pruned whose folder is still there (a deletion that did not finish) are
    runs again; retention decides anew."""
    return [r.model_copy(update={"pruned": False})
            if r.pruned and (folder := run_folder(out_dir, r)) is not None and folder.is_dir()
            else r for r in rows]


def update_history(out_dir, *, summary: RunSummary, run_dir, keep_runs: int | None = None
                   ) -> tuple[Path, Path]:
    """Add (or replace) this run's row in ``out_dir/index.json``, re-render ``index.html`` and,
    with ``keep_runs``, delete the oldest run folders beyond it.

    Rows (newest first by ``finished_at``) are :class:`HistoryRow`: ``run_id``, ``run_name``,
    ``finished_at``, ``model_sha256``, ``manifest_sha256``, ``passed``, ``accuracy`` and
    ``accuracy_ci``, per method ``background_fixation_rate`` (among errors) and
    ``background_fixation_per_sample`` (fixated errors per sample, the one to compare run to
    run) with their intervals (``*_ci``) and ``energy_in_box_misclassified``;
    ``background_reliance`` and its interval (the behavioural test), ``thresholds`` (each
    gate's, without its method), ``baseline_run_id`` and the flagged ``changes`` against it,
    ``report`` (the run's ``report.html`` relative to ``out_dir``) and ``pruned``. A missing or
    corrupt ``index.json`` is rebuilt from the ``summary.json`` of every run folder in
    ``out_dir`` (schema version 1 or 2). Both files are written atomically.

    Parameters
    ----------
    out_dir : path
        The output folder (``report.out_dir``).
    summary : RunSummary
        This run's summary.
    run_dir : path
        This run's folder.
    keep_runs : int, optional
        Keep the newest ``keep_runs`` run folders and the baseline of each
        (:func:`audit.history.retention.plan_retention`); the others are deleted *after* the
        history, which keeps their rows marked ``pruned``, is written. None keeps every run.

    Returns
    -------
    (index.json path, index.html path)
    """
    out_dir = Path(out_dir)
    # Two runs finishing together must not lose a row: read-change-write under a lock.
    with file_lock(out_dir / INDEX_LOCK):
        return _update_history(out_dir, summary=summary, run_dir=run_dir, keep_runs=keep_runs)


def _update_history(out_dir: Path, *, summary: RunSummary, run_dir, keep_runs: int | None
                    ) -> tuple[Path, Path]:
    row = history_row(summary, run_dir, out_dir)
    rows = [r for r in _load(out_dir) if r.run_id != row.run_id]
    rows.append(row)
    rows.sort(key=_sort_key, reverse=True)
    rows = _unprune(rows, out_dir)
    doomed: list[Path] = []
    if keep_runs is not None:
        rows, doomed = plan_retention(rows, out_dir, keep_runs=keep_runs, current=row.run_id)
    index_json = atomic_write_json(out_dir / INDEX_JSON,
                                   [r.model_dump(mode="json", exclude_unset=True)
                                    for r in rows])
    index_html = atomic_write_text(out_dir / INDEX_HTML, _html(rows, out_dir))
    if doomed or any(out_dir.glob(f"{TRASH_PREFIX}*")):
        delete_runs(out_dir, doomed)
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
