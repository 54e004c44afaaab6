"""``model_card.json``: the audit as a section of a model card, in the shape of the Model Card
Toolkit's schema (``model_card_toolkit``, schema 0.0.2), so that a model-card pipeline can pick
it up.

The toolkit's types are followed where the audit has something to say: ``model_details``
(name, overview, version), ``model_parameters.data`` (the evaluation dataset),
``quantitative_analysis.performance_metrics`` (``type``, ``value``, ``slice``,
``confidence_interval`` with ``lower_bound`` and ``upper_bound``; values as strings, as in the
toolkit's proto) and ``considerations.limitations`` (the caveats the report shows: its warnings,
the methods' disagreement, skipped samples, figures with too few samples to judge, failed
gates).
"""

from __future__ import annotations

import json
from pathlib import Path

from audit.cams.methods import ordered_methods
from audit.io import atomic_write_text
from audit.report.exports.figures import headline_figures
from audit.report.sections.verdict import verdict_view
from audit.report.sections.warnings import warnings_view
from audit.summary import RunSummary

__all__ = ["MODEL_CARD", "SCHEMA_VERSION", "model_card", "write_model_card"]

#: The file name in the run folder.
MODEL_CARD = "model_card.json"
#: The Model Card Toolkit schema version whose shape the file follows.
SCHEMA_VERSION = "0.0.2"


def _number(value: float) -> str:
    return repr(float(value))


def limitations(summary: RunSummary) -> list[str]:
    """The caveats of the run, as sentences (most serious first)."""
    out = list(warnings_view(summary))
    verdict = verdict_view(summary)
    if verdict["disagreement"]:
        out.append(verdict["disagreement"])
    for gate in verdict["gates"]:
        if not gate["passed"]:
            out.append(f"Gate {gate['name']} failed: {gate['reason']}")
    if summary.n_skipped:
        out.append(f"{summary.n_skipped} samples could not be audited and are not in these "
                   f"figures ({summary.skipped_fraction:.1%}; reasons in skipped.csv).")
    few = [m for m in ordered_methods(summary.methods)
           if summary.methods[m].background_fixation.too_few
           and summary.methods[m].background_fixation_rate is not None]
    if few:
        out.append(f"Background fixation of {', '.join(few)} rests on too few misclassified "
                   f"samples to judge (n={summary.methods[few[0]].background_fixation.n}).")
    if summary.correct.too_few:
        out.append(f"Accuracy rests on too few samples to judge (n={summary.correct.n}).")
    return out


def model_card(summary: RunSummary) -> dict:
    """The model card section of ``summary`` (see the module's notes)."""
    provenance = summary.provenance
    metrics = []
    for figure in headline_figures(summary):
        metric = {"type": figure.key, "value": _number(figure.value), "slice": figure.slice}
        if figure.ci is not None:
            metric["confidence_interval"] = {"lower_bound": _number(figure.ci[0]),
                                             "upper_bound": _number(figure.ci[1])}
        metrics.append(metric)
    name = Path(provenance.model_path).name if provenance.model_path else summary.run_name
    verdict = "passed" if summary.passed else "failed" if summary.passed is False else "none"
    return {
        "schema_version": SCHEMA_VERSION,
        "model_details": {
            "name": name or "model",
            "overview": (f"cam-audit run {summary.run_id}: {summary.n_samples} samples, verdict "
                         f"{verdict}. Class activation maps audited for background fixation "
                         "(docs/results-schema.md defines each figure)."),
            "version": {"name": (provenance.model_sha256 or "")[:12] or None,
                        "date": provenance.finished_at},
            "references": [{"reference": "https://arxiv.org/abs/1610.02391"}],
        },
        "model_parameters": {"data": [{
            "name": provenance.manifest_path or "evaluation data",
            "sensitive": {"sensitive_data": []},
        }]},
        "quantitative_analysis": {"performance_metrics": metrics},
        "considerations": {"limitations": [{"description": text}
                                           for text in limitations(summary)]},
    }


def write_model_card(run_dir, summary: RunSummary) -> Path:
    """Write :func:`model_card` to ``run_dir/model_card.json`` (atomically)."""
    return atomic_write_text(Path(run_dir) / MODEL_CARD,
                             json.dumps(model_card(summary), indent=2, ensure_ascii=False) + "\n")
