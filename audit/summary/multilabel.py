"""The figures of a multi-label model (``summary.multilabel``): per label and macro-averaged.

Definitions in :mod:`audit.metrics.multilabel` (decisions, precision, recall, F1, average
precision) and :mod:`audit.analysis.multilabel` (fixation per label). A single-label run has no
``multilabel`` block (``None``, left out of ``summary.json``).
"""

from __future__ import annotations

from audit.summary.schema import Interval, _Model
from audit.summary.stats import Proportion


class LabelFixation(_Model):
    """One method's background-fixation figures for one label.

    ``false_positive``: maps of the label on images that do not have it (it was predicted),
    flagged when they put less than chance weight on the image's objects: the model saw the
    absent label in the background. ``false_negative``: maps of the label on images that have
    it but where it was missed, flagged when they put less than chance weight on the label's own
    objects. ``errors``: both together, what ``gates.per_label.<label>.max_background_fixation
    _rate`` judges.
    """

    false_positive: Proportion = Proportion()
    false_negative: Proportion = Proportion()
    errors: Proportion = Proportion()


class LabelBehaviour(_Model):
    """A label's behavioural test over its true positives with a region (the
    ``label_behaviour`` stage): kept (still at or above the threshold) with the label's objects
    removed, and with its objects alone; ``background_reliance`` = the first minus the second,
    in [-1, 1] (near 1: the label is read off the background; near -1: off its objects)."""

    n: int = 0
    keeps_without_object: Proportion = Proportion()
    keeps_without_background: Proportion = Proportion()
    background_reliance: float | None = None


class LabelFigures(_Model):
    """The figures of one label over every audited image.

    ``n_positive`` images have the label, ``n_predicted`` were predicted to have it;
    ``tp``, ``fp``, ``fn`` count true positives, false positives and false negatives.
    ``precision`` and ``recall`` are proportions with Wilson intervals; ``f1`` has a seeded
    bootstrap interval over images (``f1_ci``); ``average_precision`` is None for a label no
    image has. ``fixation`` is per method (see :class:`LabelFixation`), ``energy_in_box`` the
    mean energy of each method's maps of the label on images that have it and were right
    about it (true positives); ``behaviour`` its behavioural test (None when the pipeline has
    no ``label_behaviour`` stage).
    """

    threshold: float = 0.5
    n_positive: int = 0
    n_predicted: int = 0
    tp: int = 0
    fp: int = 0
    fn: int = 0
    precision: Proportion = Proportion()
    recall: Proportion = Proportion()
    f1: float | None = None
    f1_ci: Interval | None = None
    average_precision: float | None = None
    fixation: dict[str, LabelFixation] = {}
    energy_in_box: dict[str, float | None] = {}
    behaviour: LabelBehaviour | None = None


class MacroFigures(_Model):
    """Unweighted means over the labels where each figure is defined; ``mean_average_precision``
    is mAP. ``n_labels`` counts the labels some image has."""

    n_labels: int = 0
    precision: float | None = None
    recall: float | None = None
    f1: float | None = None
    mean_average_precision: float | None = None


class MultilabelFigures(_Model):
    """``summary.multilabel``: the label figures of a multi-label model.

    ``exact_match`` is the share of images whose predicted label set is exactly their label set
    (``summary.accuracy`` repeats it); ``n_label_positive`` the (image, label) pairs present.
    """

    labels: dict[str, LabelFigures] = {}
    macro: MacroFigures = MacroFigures()
    exact_match: Proportion = Proportion()
    n_label_positive: int = 0
