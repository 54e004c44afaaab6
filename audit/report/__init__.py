"""The run's human- and machine-readable outputs: the HTML report, JUnit XML, the history.

- :func:`write_report`: ``report.html``, the self-contained audit report.
- :func:`write_junit`: ``junit.xml``, one test case per gate.
- :func:`update_history` / :func:`find_baseline`: the output folder's ``index.json`` and
  ``index.html`` (trends, flagged changes, retention), and the previous run to compare with.
- :func:`compare_runs`: ``cam-audit compare RUN_A RUN_B``.

Every function takes the typed summary (:class:`audit.summary.RunSummary`); runs on disk are
read with :func:`audit.summary.read_summary`, so summaries of every schema version compare and
join the history.
"""

from audit.history.baseline import find_baseline  # kept here for callers; see audit.history
from audit.report.compare import compare_runs
from audit.report.gallery import GalleryItem, Panel
from audit.report.history import update_history
from audit.report.html import write_report
from audit.report.junit import write_junit
from audit.report.templating import templates_dir

__all__ = [
    "GalleryItem",
    "Panel",
    "compare_runs",
    "find_baseline",
    "templates_dir",
    "update_history",
    "write_junit",
    "write_report",
]
