"""The ``gates`` section: the release gates' thresholds."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

from audit.config.base import _Section


class LabelGates(_Section):
    """The gates of one label of a multi-label model (``gates.per_label.<label>``)."""

    min_recall: float | None = Field(default=None, ge=0.0, le=1.0)
    min_precision: float | None = Field(default=None, ge=0.0, le=1.0)
    max_background_fixation_rate: float | None = Field(default=None, ge=0.0, le=1.0, description=(
        "Of the label's errors (false positives and false negatives) with a defined flag, the "
        "share whose map is background-fixated; per method that explains the decision."))


class GatesSection(_Section):
    """Release gates; ``null`` switches a gate off. Rates and accuracies lie in [0, 1]."""

    min_accuracy: float | None = Field(default=None, ge=0.0, le=1.0)
    max_background_fixation_rate: float | None = Field(default=None, ge=0.0, le=1.0)
    min_pointing_accuracy: float | None = Field(default=None, ge=0.0, le=1.0)
    min_energy_in_box: float | None = Field(default=None, ge=0.0, le=1.0)
    max_degenerate_fraction: float | None = Field(default=None, ge=0.0, le=1.0)
    on_too_few: Literal["pass", "fail"] = Field(default="pass", description=(
        "What a gate on a figure over fewer than metrics.min_n samples does: its outcome is "
        "'not enough samples' either way; 'pass' lets it pass, 'fail' fails it."))
    max_background_reliance: float | None = Field(default=None, ge=-1.0, le=1.0, description=(
        "Explainer-free: keeps_without_object - keeps_without_background of the behavioural "
        "test."))
    max_bg_gap: float | None = Field(default=None, ge=-1.0, le=1.0, description=(
        "Explainer-free, background swap (ImageNet-9): accuracy with the object on a "
        "background of its own class minus on one of another class (Mixed-Same - Mixed-Rand); "
        "0.05 = 5 points. Needs the background_swap stage."))
    max_background_follow_rate: float | None = Field(default=None, ge=0.0, le=1.0,
                                                     description=(
        "Explainer-free, background swap: the share of objects pasted on another class's "
        "background (Mixed-Rand) that are given the background's class. Needs the "
        "background_swap stage."))
    fixation_methods: Literal["all", "trusted"] | list[str] = Field(default="all", description=(
        "The methods the background-fixation gate applies to: all, trusted (faithful and sane "
        "on this run), or a list of method names."))
    per_slice: bool = Field(default=False, description=(
        "Apply every gate to every scored slice as well (named <gate>[<slice>], e.g. "
        "min_accuracy[site=A]); needs the top-level slices key."))
    max_regression: float | None = Field(default=None, ge=0.0, le=2.0, description=(
        "Fails a run whose largest flagged regression against its baseline run (a significant "
        "change for the worse larger than report.min_change) is bigger than this, in the "
        "figure's units (0.05 = 5 percentage points of a share)."))

    max_offobject_strategy_share: float | None = Field(default=None, ge=0.0, le=1.0,
                                                       description=(
        "Fails a run in which a strategy flagged off-object (stage strategies) holds more than "
        "this share of its class's maps (0.1 = a tenth of the class)."))
    per_label: dict[str, LabelGates] = Field(default={}, description=(
        "Multi-label models: gates per label, {label: {min_recall, min_precision, "
        "max_background_fixation_rate}}; the label '*' gives every label the gates its own "
        "entry leaves unset. "
        "Named <gate>[<label>], e.g. min_recall[cat]."))
    min_macro_recall: float | None = Field(default=None, ge=0.0, le=1.0, description=(
        "Multi-label models: the mean recall over the labels some image has."))
    min_macro_f1: float | None = Field(default=None, ge=0.0, le=1.0, description=(
        "Multi-label models: the mean F1 over the labels."))
    min_map: float | None = Field(default=None, ge=0.0, le=1.0, description=(
        "Multi-label models: the mean average precision over the labels some image has."))

    @field_validator("fixation_methods")
    @classmethod
    def _known_methods(cls, value):
        if isinstance(value, list):
            from audit.cams.methods import get_method

            if not value:
                raise ValueError("must name at least one method, or be all or trusted")
            for name in value:
                get_method(name)
        return value
