"""The run as a notebook shows it inline (``AuditResult._repr_html_``): the verdict, the gates
and the at-a-glance table.

The same section views as the HTML report (:mod:`audit.report.sections`), rendered with the
report's Jinja2 environment (autoescaping on, nothing marked safe) from
``templates/notebook.html.j2``: no script, no external resource, styles inline so nothing leaks
into the notebook's own page.
"""

from __future__ import annotations

from pathlib import Path

from audit.cams.methods import ordered_methods
from audit.report.sections.glance import glance_view
from audit.report.sections.verdict import verdict_view
from audit.report.sections.warnings import warnings_view
from audit.report.templating import render
from audit.summary import RunSummary

__all__ = ["notebook_html"]


def notebook_html(summary: RunSummary, *, run_dir: Path | None = None,
                  fixation_limit: float | None = None) -> str:
    """An HTML fragment: the verdict, the gates, the headline figures and the at-a-glance
    table of ``summary``; ``run_dir`` is named under it with the report's path."""
    report = None
    if run_dir is not None and (Path(run_dir) / "report.html").exists():
        report = str(Path(run_dir) / "report.html")
    return render("notebook.html.j2",
                  run_id=summary.run_id or summary.provenance.run_id or "unnamed run",
                  verdict=verdict_view(summary), warnings=warnings_view(summary),
                  glance=glance_view(summary, ordered_methods(summary.methods),
                                     fixation_limit=fixation_limit),
                  run_dir=str(run_dir) if run_dir is not None else None, report=report)
