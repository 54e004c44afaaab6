"""Stage ``report``: ``summary.json``, ``junit.xml``, ``summary.md``, ``model_card.json``,
``report.html``, the run history and its retention."""

from __future__ import annotations

import logging
from datetime import datetime

import pandas as pd

from audit.cams.methods import METHODS
from audit.comparison.drift import Drift
from audit.config import CamsSection, ReportSection
from audit.errors import ExitCode
from audit.history.run_info import RunInfo
from audit.pipeline.run_folder import now_iso
from audit.redact import redact
from audit.report import update_history, write_junit, write_report
from audit.report.exports.mlflow import log_run
from audit.report.exports.model_card import write_model_card
from audit.report.gallery import BehaviourItem, GalleryItem
from audit.report.markdown import write_markdown
from audit.report.strategy_cards import StrategyClass
from audit.stages.load_model import ModelInfo
from audit.summary import (
    Provenance,
    RunSummary,
    StrategiesFigures,
    Summary,
    Verdict,
    write_summary,
)

_LOG = logging.getLogger(__name__)


def run_provenance(run: RunInfo, cams: CamsSection, model_info: ModelInfo,
                   records: pd.DataFrame, finished_at: str) -> Provenance:
    """The run's provenance: what was recorded at its start, the model facts the audit used,
    and its times."""
    perturbation = any(METHODS[m].kind == "perturbation" for m in cams.methods)
    channels = model_info.layer_channels
    started = datetime.fromisoformat(run.started_at)
    finished = datetime.fromisoformat(finished_at)
    return Provenance(**{
        **run.provenance,
        "layer": model_info.layer,
        "n_images": int(records["sample_id"].nunique()),
        "scorecam_channels": min(channels, cams.scorecam_channels or channels)
        if perturbation else None,
        "scorecam_max_channels": cams.scorecam_max_channels if perturbation else None,
        "layer_channels": channels,
        "input_size": list(model_info.input_size),
        "head": model_info.head,
        "task": model_info.task,
        "safe_mode": model_info.safe_mode,
        "started_at": run.started_at,
        "finished_at": finished_at,
        "duration_s": round((finished - started).total_seconds(), 1),
    })


def report(report: ReportSection, cams: CamsSection, run: RunInfo, summary: Summary,
           verdict: Verdict, records: pd.DataFrame, skipped: pd.DataFrame,
           gallery: list[GalleryItem], behaviour_gallery: list[BehaviourItem],
           model_info: ModelInfo, changes: Drift,
           strategies: StrategiesFigures | None = None,
           strategy_cards: list[StrategyClass] | None = None) -> RunSummary:
    """Write the run's results into its folder, join the output folder's history, and keep
    only the newest ``report.keep_runs`` run folders there.

    ``summary.json`` is written first, so a failure in rendering never loses the figures. It
    holds the flagged changes against the baseline run: the ``drift`` stage's (``changes``;
    the pipeline adds that stage when its file does not name it).

    Retention (:func:`audit.report.history.update_history` with ``keep_runs``) happens here,
    as the last step of the last stage, rather than after the runner marks the run complete:
    it is then one step with the history update (every pruned run keeps its line in
    ``index.json``, written before any folder is deleted), it runs under any engine, and
    everything of this run that a reader needs is already on disk. A run that ends in bad
    input (more samples skipped than allowed, exit code 2) prunes nothing; a run whose gates
    fail (exit code 1) is a successful audit and does.

    Returns
    -------
    RunSummary
        What ``summary.json`` holds.
    """
    drift = changes
    provenance = run_provenance(run, cams, model_info, records, now_iso())
    final = RunSummary.assemble(summary, verdict, provenance,
                                baseline_run_id=drift.baseline_run_id, changes=drift.changes,
                                strategies=strategies)
    write_summary(run.run_dir / "summary.json", final)
    write_junit(run.run_dir, final)
    write_markdown(run.run_dir, final,
                   fixation_limit=run.config.gates.max_background_fixation_rate)
    write_model_card(run.run_dir, final)
    view = dict(summary=final, records=records, skipped=skipped, gallery=gallery,
                behaviour_gallery=behaviour_gallery, config=run.config, drift=drift,
                strategy_cards=strategy_cards or [])
    write_report(run.run_dir, **view)
    if report.mlflow is not None:
        # After the files it logs are written; a failure is a warning in the report.
        _, warning = log_run(report.mlflow, summary=final,
                             config=redact(run.config.resolved_dump()), run_dir=run.run_dir)
        if warning:
            _LOG.warning("%s", warning)
            write_report(run.run_dir, **view, warnings=[warning])
    if run.history_dir is not None:
        succeeded = verdict.exit_code != ExitCode.BAD_INPUT
        update_history(run.history_dir, summary=final, run_dir=run.run_dir,
                       keep_runs=report.keep_runs if succeeded else None)
    return final
