"""The typed record the per-batch work produces: one per sample x method x target.

Records are the only thing that crosses from the streaming part of a run (predict, explain,
score) to the combining part (aggregate, gate, report). They are appended to
``records.csv`` batch by batch, so a run can resume, and read back as a pandas DataFrame.

Scores that can be undefined (no box, a degenerate map, a correct sample for the fixation
flag) are floats: ``1.0`` / ``0.0`` for yes / no and ``NaN`` for "not defined". The mean of
such a column over the defined rows is then the rate.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import pandas as pd

from audit.pipeline import tables

NAN = math.nan


@dataclass(frozen=True)
class ScoreRecord:
    """Scores of one CAM (one method, one target class) of one sample."""

    sample_id: str
    image: str
    label: str
    label_index: int
    predicted: str
    predicted_index: int
    correct: bool
    confidence: float
    method: str
    target: str  # "predicted" or "true"
    target_class: str
    target_index: int
    n_boxes: int
    energy_in_box: float = NAN
    box_area_fraction: float = NAN
    enrichment: float = NAN
    pointing_hit: float = NAN
    loc_iou: float = NAN
    loc_correct: float = NAN
    background_fixation: float = NAN
    degenerate: bool = False
    centre_hit: float = NAN
    region: str = ""  # "mask", "box", or "" (no annotation to score against)


RECORD_COLUMNS: tuple[str, ...] = tuple(f.name for f in dataclasses.fields(ScoreRecord))

RECORD_DTYPES: dict[str, str] = tables.dtypes(ScoreRecord)


def records_to_frame(records: list[ScoreRecord]) -> pd.DataFrame:
    """A DataFrame with one row per record, in :data:`RECORD_COLUMNS` order and dtypes."""
    frame = pd.DataFrame([dataclasses.astuple(r) for r in records], columns=list(RECORD_COLUMNS))
    return frame.astype(RECORD_DTYPES)


def read_records(path) -> pd.DataFrame:
    """Read a ``records.csv`` written by a run back with the right dtypes."""
    return tables.read_table(path, ScoreRecord)
