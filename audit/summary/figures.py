"""The figures of one CAM method and of one true class, and the confusion matrix."""

from __future__ import annotations

from audit.summary.evidence import AgreementFigures, FaithfulnessFigures, SanityFigures
from audit.summary.schema import _Model
from audit.summary.stats import Proportion, ProportionSplit, Split, Stat


class TrueClassFigures(_Model):
    """Scores of the maps of the *true* class of misclassified samples."""

    energy_in_box: Stat = Stat()
    enrichment: Stat = Stat()


class MethodFigures(_Model):
    """The figures of one CAM method, over the maps of the predicted class.

    ``background_fixation`` is conditional: its ``n`` is the misclassified samples with a
    defined flag, so it changes meaning when the number of errors changes.
    ``background_fixation_per_sample`` is its unconditional companion, the one to compare
    across runs: background-fixated errors over every sample with a box and a non-degenerate
    map (the samples whose flag would be defined were they misclassified).
    """

    n_maps: int = 0
    n_degenerate: int = 0
    background_fixation_rate: float | None = None
    background_fixation: Proportion = Proportion()
    background_fixation_per_sample: Proportion = Proportion()
    pointing_accuracy: float | None = None
    localization_accuracy: float | None = None
    energy_in_box: Split = Split()
    enrichment: Split = Split()
    pointing_hit: ProportionSplit = ProportionSplit()
    loc_iou: Split = Split()
    loc_correct: ProportionSplit = ProportionSplit()
    true_class: TrueClassFigures = TrueClassFigures()
    faithfulness: FaithfulnessFigures | None = None
    sanity: SanityFigures | None = None
    behaviour_agreement: AgreementFigures | None = None

    @property
    def trusted(self) -> bool:
        """Faithful and sane on this run: both checks ran, the faithfulness outcome is
        ``faithful`` (not ``undecided``, not ``not faithful``) and the sanity check passed."""
        return bool(self.faithfulness and self.faithfulness.outcome == "faithful"
                    and self.sanity and self.sanity.passed)

    def score(self, name: str) -> Split:
        """The :class:`Split` of the per-map score ``name`` (``"energy_in_box"``, ...)."""
        value = getattr(self, name, None)
        if not isinstance(value, Split):
            raise KeyError(f"No per-map score {name!r}; scores: energy_in_box, enrichment, "
                           "pointing_hit, loc_iou, loc_correct.")
        return value


class ClassFigures(_Model):
    """Figures of the samples of one true class (method -> figure in the dicts)."""

    n: int = 0
    accuracy: float | None = None
    correct: Proportion = Proportion()
    n_misclassified: int = 0
    background_fixation_rate: dict[str, float | None] = {}
    background_fixation: dict[str, Proportion] = {}
    background_fixation_per_sample: dict[str, Proportion] = {}


class ConfusionMatrix(_Model):
    """True class in rows, predicted class in columns."""

    labels: list[str] = []
    matrix: list[list[int]] = []
