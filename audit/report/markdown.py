"""``summary.md``: the run in GitHub-flavoured Markdown, short enough for a pull-request comment
or a CI job summary (``$GITHUB_STEP_SUMMARY``).

A view, like the HTML report's sections: it reads the same section views (the verdict, the
at-a-glance table, the flagged changes), so the two never disagree. It holds the verdict, the
faithfulness outcomes in one sentence, the failed gates, the at-a-glance table (with each
method's checks, faithful / not faithful / undecided and sane, when the evidence stages ran)
and the flagged changes; the figures behind them are in ``report.html`` beside it.

User text (class names, gate reasons, file names) is escaped so it stays text: the punctuation
that makes emphasis, code, links or a table cell's end is backslash-escaped, ``<`` and ``>``
become entities (GitHub renders some HTML in Markdown), and a line break becomes a space.
"""

from __future__ import annotations

import re
from pathlib import Path

from audit.cams.methods import ordered_methods
from audit.io import atomic_write_text
from audit.report.changes import change_view, changes_sentence
from audit.report.sections.glance import glance_view
from audit.report.sections.verdict import verdict_view
from audit.report.sections.warnings import warnings_view
from audit.summary import RunSummary

__all__ = ["SUMMARY_MD", "markdown_summary", "md_text", "write_markdown"]

#: The file name in the run folder.
SUMMARY_MD = "summary.md"

_SPECIAL = re.compile(r"([\\`*_{}\[\]|~])")
_CENTRE = {"above": " (above centre)", "below": " (below centre)",
           "level": " (not clearly above centre)"}
_MARK = {"passed": "✅", "failed": "❌", "none": "❔"}


def md_text(value) -> str:
    """``value`` as literal Markdown text, safe inside a table cell.

    >>> md_text("a|b <script>")
    'a\\\\|b &lt;script&gt;'
    >>> md_text("two\\nlines")
    'two lines'
    """
    text = str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = " ".join(text.split())
    return _SPECIAL.sub(r"\\\1", text)


def _table(header: list[str], rows: list[list[str]], *, text_columns=(0,)) -> list[str]:
    lines = ["| " + " | ".join(header) + " |",
             "|" + "|".join(":---" if i in text_columns else "---:"
                            for i in range(len(header))) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return lines


def markdown_summary(summary: RunSummary, *, fixation_limit: float | None = None,
                     report_name: str = "report.html") -> str:
    """The run's verdict, failed gates, at-a-glance table and flagged changes as Markdown.

    Parameters
    ----------
    summary : RunSummary
        What ``summary.json`` holds.
    fixation_limit : float or None, keyword-only
        ``gates.max_background_fixation_rate`` (a rate above it is marked); None: no mark.
    report_name : str, keyword-only
        The report file the last line points to.

    Returns
    -------
    str
        A few dozen lines of GitHub-flavoured Markdown.
    """
    verdict = verdict_view(summary)
    glance = glance_view(summary, ordered_methods(summary.methods),
                         fixation_limit=fixation_limit)
    run_id = summary.run_id or summary.provenance.run_id or "unnamed run"
    lines = [f"## {_MARK[verdict['state']]} cam-audit: {verdict['label']} · {md_text(run_id)}",
             "", md_text(verdict["line"])]
    if verdict["disagreement"]:
        lines += ["", md_text(verdict["disagreement"])]
    if verdict["faithfulness"]:
        lines += ["", md_text(verdict["faithfulness"])]
    for warning in warnings_view(summary):
        lines += ["", f"> **Warning:** {md_text(warning)}"]
    failed = [g for g in verdict["gates"] if not g["passed"]]
    if failed:
        lines += ["", "### Failed gates", ""]
        lines += _table(["gate", "value", "threshold", "reason"],
                        [[f"`{g['name']}`", md_text(g["value"]), md_text(g["threshold"]),
                          md_text(g["reason"])] for g in failed], text_columns=(0, 3))
    lines += ["", f"**Accuracy** {md_text(glance['accuracy'])} "
                  f"({md_text(glance['accuracy_note'])}) · **samples** {glance['n_samples']} · "
                  f"**misclassified** {glance['n_misclassified']} · "
                  f"**skipped** {glance['n_skipped']}"]
    if glance["rows"]:
        lines += ["", "### At a glance", ""]
        rows = []
        for r in glance["rows"]:
            fixation = md_text(f"{r['fixation_rate']} ({r['fixation_count']})")
            if r["fixation_high"] and not r["counter_evidence"]:
                fixation = f"**{fixation}** ⚠️"
            if r["fixation_too_few"]:
                fixation += " too few to judge"
            row = [md_text(r["title"]), fixation,
                   r["energy_correct"], r["energy_misclassified"],
                   r["pointing"] + _CENTRE.get(r["beats_centre"], ""),
                   r["localization"], md_text(r["degenerate"])]
            if glance["checks"]:
                row.append(md_text(r["checks_text"]) if r["checks_text"] else "—")
            rows.append(row)
        header = ["method", "background fixation among errors", "energy in box: correct",
                  "energy in box: misclassified", f"pointing (centre {glance['centre']})",
                  "localisation", "degenerate maps"]
        if glance["checks"]:
            header.append("checks")
        lines += _table(header, rows, text_columns=(0, 7) if glance["checks"] else (0,))
    if summary.baseline_run_id is not None or summary.changes:
        lines += ["", "### Flagged changes", "",
                  md_text(changes_sentence(summary.changes, baseline=summary.baseline_run_id))]
        for change in summary.changes:
            view = change_view(change)
            mark = "🔻" if view["status"] == "regression" else "🔺"
            lines.append(f"- {mark} {view['status']}: {md_text(view['text'])}")
    lines += ["", f"Full report: `{report_name}` in the run folder."]
    return "\n".join(lines) + "\n"


def write_markdown(run_dir, summary: RunSummary, *, fixation_limit: float | None = None) -> Path:
    """Write :func:`markdown_summary` to ``run_dir/summary.md`` (atomically)."""
    return atomic_write_text(Path(run_dir) / SUMMARY_MD,
                             markdown_summary(summary, fixation_limit=fixation_limit))
