"""The audit report: one self-contained HTML file a reviewer signs and an archive keeps.

:func:`write_report` turns the run's typed summary, records, skipped samples, gallery and
configuration into a view of plain, already formatted values, one section at a time
(:mod:`audit.report.sections`), and renders ``templates/report.html.j2`` with autoescaping on.
Styles are inline, images are ``data:`` URIs built from PNG bytes, and a
Content-Security-Policy forbids every fetch, so the file reads the same offline, years later.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from audit.cams.methods import ordered_methods
from audit.comparison.drift import Drift
from audit.config import AuditConfig
from audit.io import atomic_write_text
from audit.redact import redact
from audit.report.config_yaml import config_yaml
from audit.report.format import fmt_text, fmt_time
from audit.report.gallery import BehaviourItem, GalleryItem
from audit.report.methods import method_title
from audit.report.sections.accuracy import accuracy_view
from audit.report.sections.agreement import agreement_view
from audit.report.sections.baseline import baseline_view
from audit.report.sections.data import data_view
from audit.report.sections.fixation import fixation_view
from audit.report.sections.gallery import behaviour_gallery_view, gallery_view
from audit.report.sections.glance import glance_view
from audit.report.sections.guide import guide_view
from audit.report.sections.labels import labels_view
from audit.report.sections.localisation import localisation_view
from audit.report.sections.provenance import provenance_rows
from audit.report.sections.slices import slices_view
from audit.report.sections.strategies import regions_sentence, strategies_view
from audit.report.sections.trust import trust_view
from audit.report.sections.verdict import verdict_view
from audit.report.sections.warnings import warnings_view
from audit.report.strategy_cards import StrategyClass
from audit.report.templating import render
from audit.summary import RunSummary
from audit.version import __version__

__all__ = ["build_context", "write_report"]


def build_context(*, summary: RunSummary, records: pd.DataFrame, skipped: pd.DataFrame,
                  gallery: list[GalleryItem], config: AuditConfig,
                  behaviour_gallery: list[BehaviourItem] = (), drift: Drift | None = None,
                  strategy_cards: list[StrategyClass] = (),
                  warnings: Sequence[str] = ()
                  ) -> dict:
    """Everything the report template shows, formatted (see :func:`write_report`)."""

    provenance = summary.provenance
    methods = ordered_methods(summary.methods)
    run_id = summary.run_id or provenance.run_id
    return {
        "run_id": run_id or "unnamed run",
        "run_name": summary.run_name or config.run_name,
        "finished_at": fmt_time(provenance.finished_at) if provenance.finished_at else "",
        "generated": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "version": __version__,
        "model_name": fmt_text(provenance.model_path or str(config.model.path)),
        "verdict": verdict_view(summary),
        "warnings": warnings_view(summary) + list(warnings),
        "glance": glance_view(summary, methods,
                              fixation_limit=config.gates.max_background_fixation_rate),
        "baseline": baseline_view(summary, drift),
        "data": data_view(summary, skipped, config, methods),
        "accuracy": accuracy_view(summary, methods),
        "labels": labels_view(summary, methods),
        "methods": [{"name": m, "title": method_title(m)} for m in methods],
        "localisation": localisation_view(summary, records, methods),
        "fixation": fixation_view(summary, methods,
                                  threshold=config.metrics.fixation_enrichment_below),
        "gallery": gallery_view(gallery),
        "slices": slices_view(summary, methods),
        "trust": trust_view(summary, methods,
                            max_similarity=config.sanity.max_similarity,
                            substrate=config.faithfulness.substrate),
        "behaviour_gallery": behaviour_gallery_view(behaviour_gallery),
        "agreement": agreement_view(records),
        "regions": regions_sentence(summary),
        "strategies": strategies_view(summary, list(strategy_cards)),
        "guide": guide_view(summary, config),
        "provenance": provenance_rows(summary),
        "config_yaml": config_yaml(redact(config.resolved_dump())),  # no secret in the report
    }


def write_report(run_dir, *, summary: RunSummary, records: pd.DataFrame, skipped: pd.DataFrame,
                 gallery: list[GalleryItem], config: AuditConfig,
                 behaviour_gallery: list[BehaviourItem] = (), drift: Drift | None = None,
                 strategy_cards: list[StrategyClass] = (),
                 warnings: Sequence[str] = ()
                 ) -> Path:
    """Render the audit report of a run to ``run_dir/report.html`` (atomically).

    Parameters
    ----------
    run_dir : path
        The run folder; created if missing.
    summary : RunSummary
        The run's summary with its gates, verdict and provenance (what ``summary.json``
        holds). Undefined figures (None) show as "n/a".
    records : pandas.DataFrame
        The score records (``records.csv``), for the distributions and method agreement.
    skipped : pandas.DataFrame
        ``sample_id, image, reason`` of every sample that could not be audited.
    gallery : list of GalleryItem
        Misclassified samples with their maps, for the background-fixation gallery.
    behaviour_gallery : list of BehaviourItem
        Misclassified samples beside their edited copies, for the behavioural test.
    config : AuditConfig
        The configuration as run (every default filled in by its models): the report reads
        ``metrics``, ``gates``, ``sanity``, ``faithfulness``, ``model``, ``dataset`` and
        ``run_name`` from it, and shows all of it as YAML.
    drift : Drift or None
        The run against its baseline as the ``drift`` stage measured it: the key figures
        compared, each change tested and assessed (:func:`audit.comparison.compare_summaries`;
        pair by pair on the same samples), and the changes flagged. None (or a drift without
        a baseline) shows no comparison.
    strategy_cards : list of StrategyClass
        The flagged classes' cluster cards (stage ``strategies``), for the Strategies section.
    warnings : sequence of str
        Sentences shown with the report's own warnings (an export that failed).

    Returns
    -------
    pathlib.Path
        The path of ``report.html``.
    """
    context = build_context(summary=summary, records=records, skipped=skipped, gallery=gallery,
                            config=config, behaviour_gallery=behaviour_gallery, drift=drift,
                            strategy_cards=strategy_cards, warnings=warnings)
    return atomic_write_text(Path(run_dir) / "report.html", render("report.html.j2", **context))
