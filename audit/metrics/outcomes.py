"""Per-map outcomes read from the score records: what the aggregate, the slices and the
comparison of two runs count."""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["fixation_outcomes"]


def _floats(column: pd.Series) -> np.ndarray:
    return column.to_numpy(dtype=np.float64, na_value=np.nan)


def _flags_fixation(predicted: pd.DataFrame) -> bool:
    """Whether a method's maps get a fixation flag, as its records say: False when it has
    misclassified samples with a defined enrichment and none has a flag (counter-evidence,
    whose maps are not an explanation of the decision; see the ``score`` stage). Read from
    the records, so that combining them needs no knowledge of the CAM methods."""
    wrong = predicted[~predicted["correct"].to_numpy(dtype=bool)]
    eligible = ~np.isnan(_floats(wrong["enrichment"]))
    flagged = ~np.isnan(_floats(wrong["background_fixation"]))
    return bool(flagged.any() or not eligible.any())


def fixation_outcomes(predicted: pd.DataFrame) -> np.ndarray:
    """Per map of the predicted class of one method: 1.0 for a background-fixated error, 0.0
    for any other map with a defined enrichment (a box and a non-degenerate map), NaN
    otherwise, and NaN throughout for a method whose errors carry no fixation flag
    (counter-evidence).

    The per-sample outcome behind ``background_fixation_per_sample``: its mean is fixated
    errors per sample whose flag would be defined were it misclassified. The comparison of
    two runs pairs these outcomes sample by sample. Pass every predicted-class row of the
    method (whether the method flags fixation is read from its errors), and subset after.

    >>> frame = pd.DataFrame({"correct": [False, True, False],
    ...                       "background_fixation": [1.0, np.nan, 0.0],
    ...                       "enrichment": [0.5, 2.0, np.nan]})
    >>> fixation_outcomes(frame).tolist()
    [1.0, 0.0, nan]
    """
    fixated = _floats(predicted["background_fixation"]) == 1.0
    if not _flags_fixation(predicted):
        return np.full(len(predicted), np.nan)
    eligible = ~np.isnan(_floats(predicted["enrichment"])) | fixated
    return np.where(fixated, 1.0, np.where(eligible, 0.0, np.nan))
