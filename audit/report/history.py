"""The history page of an output folder: ``index.html``, drawn from the rows of ``index.json``.

Every run folder under ``out_dir`` holds a ``summary.json`` (any schema version
:func:`audit.summary.read_summary` reads). The history keeps one row per run in
``out_dir/index.json`` (newest first; :mod:`audit.history.index`) and this module renders
``out_dir/index.html`` from the rows alone: the latest verdict and what changed against its
baseline run, the trends of the key figures over the runs (for the whole history and for each
model on each dataset, :mod:`audit.report.trends`) and a table of every run with a link to its
report.

With ``report.keep_runs`` the oldest run folders beyond that many are deleted
(:mod:`audit.history.retention`); their rows stay in ``index.json``, marked ``pruned``, so the
trends go on showing them. ``index.json`` is then the only record of a pruned run: keep it
with the reports (a rebuild from the folders cannot bring pruned runs back).
"""

from __future__ import annotations

import datetime as _dt
from pathlib import Path
from urllib.parse import quote

from audit.cams.methods import ordered_methods
from audit.history.index import INDEX_JSON, HistoryRow
from audit.history.update import finish_retention, record_run
from audit.io import atomic_write_text, file_lock
from audit.report.changes import change_view, changes_sentence
from audit.report.format import fmt_ci, fmt_pct, fmt_time
from audit.report.images import data_uri
from audit.report.methods import method_title
from audit.report.templating import render
from audit.report.trends import TrendRun, trends_png
from audit.summary import RunSummary
from audit.version import __version__

__all__ = ["INDEX_HTML", "INDEX_JSON", "update_history"]

#: The lock file taken while ``index.json`` is read, changed and written back.
INDEX_LOCK = ".index.lock"
INDEX_HTML = "index.html"

#: The most (model, dataset) groups the history page draws trends of, newest first.
MAX_GROUP_TRENDS = 8
#: The flagged changes a row of the runs table lists before "and N more".
MAX_ROW_CHANGES = 3

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
        version=__version__,
        title=out_dir.resolve().name,
    )


def update_history(out_dir, *, summary: RunSummary, run_dir, keep_runs: int | None = None
                   ) -> tuple[Path, Path]:
    """Add (or replace) this run's row in ``out_dir/index.json``, re-render ``index.html`` and,
    with ``keep_runs``, delete the oldest run folders beyond it.

    Rows (newest first by ``finished_at``) are :class:`~audit.history.index.HistoryRow`:
    ``run_id``, ``run_name``,
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
        rows, index_json, doomed = record_run(out_dir, summary=summary, run_dir=run_dir,
                                              keep_runs=keep_runs)
        index_html = atomic_write_text(out_dir / INDEX_HTML, _html(rows, out_dir))
        finish_retention(out_dir, doomed)
    return index_json, index_html
