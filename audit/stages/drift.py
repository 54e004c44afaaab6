"""Stage ``drift``: this run against its baseline run, every key figure's change tested, the
changes that matter flagged (:mod:`audit.analysis.drift`).

It runs after ``aggregate`` and before ``gate``, so the ``max_regression`` gate can judge the
flagged regressions, and the report and ``summary.json`` show the same changes.
"""

from __future__ import annotations

import pandas as pd

from audit.analysis.drift import Drift, baseline_of, explicit_baseline, measure_drift
from audit.config import ReportSection
from audit.history.run_info import RunInfo
from audit.summary import Summary


def drift(report: ReportSection, run: RunInfo, summary: Summary, records: pd.DataFrame) -> Drift:
    """Compare the run's summary (and records, for paired tests) with its baseline run's:
    ``--baseline``, else ``report.baseline``, else the previous completed run on the same
    dataset in ``report.out_dir``; flag the significant changes larger than
    ``report.min_change``. A named baseline that cannot be read is bad input (exit 2)."""
    return measure_drift(summary, records, baseline_dir=baseline_of(run, report),
                         min_change=report.min_change, fdr=report.fdr,
                         explicit=explicit_baseline(run, report) is not None)
