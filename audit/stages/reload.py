"""Reading chosen samples again after the stream, for the stages that look closer at a few
(the gallery, faithfulness, sanity): no image or map is kept during the run."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import pandas as pd

from audit.datasets import Batch, BatchLoader, BatchSpec, DatasetManifest
from audit.stages.load_model import ModelInfo

__all__ = ["classes_of", "decisions", "reload"]


def decisions(records: pd.DataFrame) -> pd.DataFrame:
    """One row per audited sample: ``sample_id``, ``correct``, ``predicted_index``, in record
    order."""
    first = records.drop_duplicates("sample_id")
    return first[["sample_id", "correct", "predicted_index"]].reset_index(drop=True)


def reload(sample_ids: Sequence[str], *, manifest: DatasetManifest, model_info: ModelInfo,
           batch_size: int) -> Iterator[Batch]:
    """The samples ``sample_ids`` (in that order), read and preprocessed as the stream read
    them, in batches of ``batch_size``."""
    by_id = {s.sample_id: s for s in manifest.samples}
    samples = [by_id[i] for i in sample_ids if i in by_id]
    load = BatchLoader(model_info.input_size, model_info.channels, model_info.preprocessor,
                       max_pixels=manifest.max_image_pixels, formats=manifest.image_formats)
    for start in range(0, len(samples), batch_size):
        yield load(BatchSpec(start // batch_size, tuple(samples[start:start + batch_size])))


def classes_of(batch: Batch, decided: pd.DataFrame) -> np.ndarray:
    """The predicted class index of every sample of ``batch``."""
    index = decided.set_index("sample_id")["predicted_index"]
    return np.array([int(index[s.sample_id]) for s in batch.samples], dtype=np.int64)
