"""Stage ``aggregate``: combine all records into the summary figures."""

from __future__ import annotations

from audit.aggregate import aggregate
from audit.pipeline.stage import stage


@stage("aggregate", inputs=("config", "records", "class_names"), outputs=("summary",),
       config_section="metrics")
def aggregate_stage(config, records, class_names):
    """Accuracy, per-method localisation and fixation figures with bootstrap intervals."""
    return aggregate(records, class_names=list(class_names), seed=config.seed,
                     n_resamples=config.metrics.bootstrap_resamples)
