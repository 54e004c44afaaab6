"""Stage ``aggregate``: combine all records into the summary figures."""

from __future__ import annotations

import pandas as pd

from audit.aggregate import aggregate
from audit.config import MetricsSection
from audit.datasets import DatasetManifest
from audit.errors import DatasetError
from audit.pipeline import Counts
from audit.summary import Summary


def aggregate_stage(metrics: MetricsSection, seed: int, records: pd.DataFrame,
                    skipped: pd.DataFrame, manifest: DatasetManifest, batch_counts: Counts,
                    class_names: list[str]) -> Summary:
    """Accuracy, per-method localisation and fixation figures with their intervals (none below
    ``metrics.min_n`` samples), and the counts of what could not be audited.

    Raises
    ------
    DatasetError
        When no sample could be audited.
    """
    n_samples = int(records["sample_id"].nunique())
    n_skipped = int(skipped["sample_id"].nunique())
    if n_samples == 0:
        raise DatasetError(f"No sample of '{manifest.path}' could be audited ({n_skipped} "
                           "skipped); the reasons are in the run folder's skipped.csv.")
    summary = aggregate(records, class_names=list(class_names), seed=seed,
                        n_resamples=metrics.bootstrap_resamples, min_n=metrics.min_n)
    return summary.model_copy(update={
        "n_skipped": n_skipped,
        "n_boxes_clipped": manifest.n_boxes_clipped + batch_counts.get("n_boxes_clipped", 0),
        "n_duplicates": manifest.n_duplicates,
        "skipped_fraction": n_skipped / (n_skipped + n_samples),
    })
