"""Drift between scheduled runs: this run's key figures against its baseline run's, tested, and
the changes worth a person's attention flagged.

A run's baseline is, in order: the run folder given with ``cam-audit run --baseline``, the
configuration's ``report.baseline``, or the most recent earlier completed run in the output
folder's history on the same dataset (:func:`audit.history.baseline.find_baseline`). Every key
figure is compared by :func:`audit.comparison.compare_summaries`, the one comparison of two
runs (McNemar's exact test or a paired bootstrap when both runs audited the same samples,
Newcombe's interval or combined intervals otherwise), and a change is **flagged** when

1. its test is significant (p < 0.05, or the 95% interval of the difference excludes 0) and
   stays so after the false-discovery rate across all compared figures is controlled at
   ``report.fdr`` (default 0.05, Benjamini-Hochberg; an interval test's p-value is recovered
   from its interval),
2. its size ``|difference|`` exceeds ``report.min_change`` (default 0.02), and
3. the figure has a better direction, so the change is a regression or an improvement (the
   counter-evidence map's figures have none: a change of them is shown, never flagged).

``min_change`` is in the figure's own units. Every key figure compared today is a share of
samples (accuracy, fixation, pointing and localisation), a mean of a share (energy in box, the
share of a map's energy inside the boxes) or a difference of two shares (background reliance,
from -1 to 1), so one threshold means the same everywhere: 0.02 is two percentage points, or
0.02 of reliance. A figure added later on another scale (a count, a score in other units) must
state its own threshold instead of borrowing this one.

The same data and the same model give the same records (results are bit-identical), so every
difference is 0 and nothing is flagged; the threshold keeps a significant but negligible
change of a large run (1 point of 10,000 samples) from waking anyone up.

The ``drift`` stage runs before the ``gate`` stage, so ``gates.max_regression`` can fail a run
on its largest flagged regression; the report shows the changes and ``summary.json`` lists
them (``changes``).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from audit.comparison import compare_summaries
from audit.comparison.drift import DEFAULT_MIN_CHANGE, Drift, flagged_changes, is_flagged
from audit.config import ReportSection
from audit.errors import AuditError, ConfigError
from audit.history.baseline import baseline_of
from audit.history.run_info import RunInfo
from audit.history.runs import load_records
from audit.summary import Summary, read_summary

# Drift, the flagging rule and baseline_of live in audit.comparison.drift and
# audit.history.baseline (the report reads them without the analysis); importable from here too.
__all__ = ["DEFAULT_MIN_CHANGE", "Drift", "baseline_of", "explicit_baseline", "flagged_changes",
           "is_flagged", "measure_drift"]

def measure_drift(summary: Summary, records: pd.DataFrame | None, *,
                  baseline_dir: str | Path | None,
                  min_change: float = DEFAULT_MIN_CHANGE, fdr: float | None = None,
                  explicit: bool = False) -> Drift:
    """Compare this run (``summary`` and its ``records``) with the run in ``baseline_dir``.

    The baseline's ``records.csv``, when readable, pairs the tests sample by sample. An
    unreadable baseline ``summary.json`` found in the history leaves the run without a
    comparison, and ``note`` says why: a scheduled run must not be lost because an old run
    folder was damaged. A baseline named ``explicit`` ly (``--baseline``, ``report.baseline``)
    that cannot be read is bad input: a mistyped path must not pass ``max_regression``.
    ``fdr`` (``report.fdr``) controls the false-discovery rate across the compared figures
    (Benjamini-Hochberg) before anything is flagged.

    Raises
    ------
    ConfigError
        ``explicit`` and the baseline's summary cannot be read.
    """
    if baseline_dir is None:
        return Drift(min_change=min_change)
    baseline_dir = Path(baseline_dir)
    try:
        baseline = read_summary(baseline_dir / "summary.json")
    except AuditError as error:
        if explicit:
            raise ConfigError(
                f"the baseline run folder named by --baseline or report.baseline must be a "
                f"finished run; got '{baseline_dir}': {error}") from None
        return Drift(baseline_dir=baseline_dir, min_change=min_change,
                     note=f"The baseline run could not be read, so nothing was compared: "
                          f"{error}")
    comparison = compare_summaries(baseline, summary, records_a=load_records(baseline_dir),
                                   records_b=records, fdr=fdr)
    return Drift(baseline_dir=baseline_dir, baseline=baseline, comparison=comparison,
                 changes=tuple(flagged_changes(comparison, min_change=min_change)),
                 min_change=min_change)


def explicit_baseline(run: RunInfo, report: ReportSection) -> Path | None:
    """The baseline a person named (``--baseline``, then ``report.baseline``), or None."""
    for explicit in (run.baseline, report.baseline):
        if explicit is not None:
            return Path(explicit)
    return None
