"""The typed summary of a run: what ``aggregate`` produces, ``gate`` judges, and ``summary.json``
holds.

The figures travel between stages as these pydantic models, never as untyped dicts: the gate,
the report, ``cam-audit compare`` and the run history read attributes, not keys they have to
re-check. ``summary.json`` is :class:`RunSummary` serialised (:func:`write_summary`), and
:func:`read_summary` reads every schema version written so far:

- **1** (cam-audit 0.1): the same figures, written from a plain dict;
- **2**: written from these models. Later cam-audit versions add keys to version 2 without
  removing any (each figure's interval ``method`` and ``too_few`` flag, ``min_n``, the
  proportions' ``count``, the unconditional ``background_fixation_per_sample``, the figures
  per subgroup ``slices`` with ``min_slice_size``, the ``baseline_run_id`` and flagged
  ``changes`` against it); a file without them reads with their
  defaults, and a proportion's ``count`` is then derived from its ``n`` and ``mean``.

Undefined figures (no misclassified sample, no box, a degenerate map) are ``None`` here and
``null`` in JSON. The schema is documented in ``docs/results-schema.md``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from audit.errors import AuditError, ExitCode
from audit.io import atomic_write_json

__all__ = [
    "SCHEMA_VERSION",
    "AgreementFigures",
    "BehaviourFigures",
    "BehaviourSplit",
    "Change",
    "Estimate",
    "FaithfulnessFigures",
    "SanityFigures",
    "ClassFigures",
    "SliceFigures",
    "SliceMethodFigures",
    "ConfusionMatrix",
    "FixationFigure",
    "Gate",
    "GateOutcome",
    "IntervalMethod",
    "MethodFigures",
    "Proportion",
    "ProportionSplit",
    "Provenance",
    "RunSummary",
    "Split",
    "Stat",
    "Summary",
    "TrueClassFigures",
    "Verdict",
    "read_summary",
    "write_summary",
]

#: The version :func:`write_summary` writes.
SCHEMA_VERSION = 2

#: The versions :func:`read_summary` reads.
READABLE_VERSIONS = (1, 2)

Interval = tuple[float, float]


class _Model(BaseModel):
    # Unknown keys in a file written by a later version are ignored rather than refused, so an
    # older cam-audit can still compare against a newer run; every field has a default so a
    # version-1 file missing a figure still reads.
    model_config = ConfigDict(extra="ignore", frozen=True)


#: How an interval was made: a seeded percentile bootstrap of a mean, or a Wilson score
#: interval of a proportion. ``None`` in files written before it was recorded (bootstrap).
IntervalMethod = Literal["bootstrap", "wilson"]


class Stat(_Model):
    """A mean with its interval (``STAT`` in the schema): ``n`` defined values, their mean, the
    seeded 95% bootstrap interval of the mean, and how many rows had no value.

    ``too_few`` marks a figure over fewer than ``metrics.min_n`` values: it is shown with its
    ``n`` and no interval (``ci`` is None), and no gate or comparison takes it as evidence.
    """

    n: int = 0
    mean: float | None = None
    ci: Interval | None = None
    n_nan: int = 0
    method: IntervalMethod | None = None
    too_few: bool = False


class Proportion(Stat):
    """A share of samples (``PROPORTION`` in the schema): ``count`` of ``n``, ``mean`` =
    ``count / n``, and its 95% Wilson score interval (``method == "wilson"``).

    A file written before proportions recorded their count (schema 1, early schema 2) has it
    derived from ``n`` and ``mean``; its ``ci`` is the bootstrap interval it was written with.
    """

    count: int = 0

    @model_validator(mode="before")
    @classmethod
    def _derive_count(cls, data):
        if isinstance(data, Stat) and not isinstance(data, Proportion):
            data = data.model_dump()  # a share built as a plain Stat (before Proportion)
        if isinstance(data, dict) and "count" not in data:
            n, mean = data.get("n"), data.get("mean")
            if isinstance(n, int) and isinstance(mean, int | float):
                data = {**data, "count": int(round(mean * n))}
        return data


#: The background-fixation rate among misclassified samples with a defined flag (the name it
#: had before every proportion shared one model).
FixationFigure = Proportion


class Split(_Model):
    """One score over all, correctly classified and misclassified samples."""

    all: Stat = Stat()
    correct: Stat = Stat()
    misclassified: Stat = Stat()


class ProportionSplit(Split):
    """A 0/1 score (pointing hit, localisation correct) over all, correctly classified and
    misclassified samples: three proportions."""

    all: Proportion = Proportion()
    correct: Proportion = Proportion()
    misclassified: Proportion = Proportion()

    @model_validator(mode="before")
    @classmethod
    def _from_split(cls, data):
        if isinstance(data, Split) and not isinstance(data, ProportionSplit):
            return {"all": data.all, "correct": data.correct, "misclassified": data.misclassified}
        return data


class TrueClassFigures(_Model):
    """Scores of the maps of the *true* class of misclassified samples."""

    energy_in_box: Stat = Stat()
    enrichment: Stat = Stat()


class Estimate(_Model):
    """A figure with its 95% interval, ``{value, ci_low, ci_high}``, over ``n`` samples; a
    share of samples also has its ``count`` and a Wilson interval, a difference a bootstrap
    one (``method``). Below ``metrics.min_n`` samples it has no interval (``too_few``)."""

    n: int = 0
    value: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    count: int | None = None
    method: IntervalMethod | None = None
    too_few: bool = False


class FaithfulnessFigures(_Model):
    """Deletion and insertion AUC, Average Drop and Increase in Confidence of one kind of map
    (a method, or a baseline) on the faithfulness subset; ``faithful`` for methods: deletion
    below and insertion above the random baseline, intervals apart (None: undecided)."""

    n: int = 0
    deletion_auc: Stat = Stat()
    insertion_auc: Stat = Stat()
    average_drop: Stat = Stat()
    increase_in_confidence: Proportion = Proportion()
    faithful: bool | None = None


class SanityFigures(_Model):
    """Similarity of a method's maps with its maps on the original model, after each step of
    cascading randomisation (the first value: no randomisation)."""

    n: int = 0
    layers: list[int] = []
    spearman: list[float | None] = []
    ssim: list[float | None] = []
    passed: bool | None = None


class AgreementFigures(_Model):
    """How often a method's fixation flag equals the explainer-free ``background_decision``
    (misclassified samples with a box and a non-degenerate map), and Cohen's kappa."""

    n: int = 0
    agreement: float | None = None
    kappa: float | None = None


class BehaviourSplit(_Model):
    """The behavioural rates of one group of samples."""

    n: int = 0
    keeps_without_object: Estimate = Estimate()
    keeps_without_background: Estimate = Estimate()
    background_reliance: Estimate = Estimate()


class BehaviourFigures(BehaviourSplit):
    """The behavioural test (explainer-free): how often the decision survives the object's
    removal and the background's, split by correctness and per true class."""

    fill: str | None = None
    correct: BehaviourSplit = BehaviourSplit()
    misclassified: BehaviourSplit = BehaviourSplit()
    per_class: dict[str, BehaviourSplit] = {}
    accuracy_object_only: Estimate = Estimate()
    accuracy_background_only: Estimate = Estimate()
    background_decision_rate: Estimate = Estimate()
    background_decision_per_sample: Estimate = Estimate()


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
        """Faithful and sane on this run (both checks ran and passed)."""
        return bool(self.faithfulness and self.faithfulness.faithful
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


class SliceMethodFigures(_Model):
    """The figures of one CAM method over the samples of one slice (maps of the predicted
    class): the fixation rate among the slice's errors and per sample, the mean energy in box,
    the pointing hit rate and the degenerate maps (the figures the gates read)."""

    n_maps: int = 0
    n_degenerate: int = 0
    background_fixation: Proportion = Proportion()
    background_fixation_per_sample: Proportion = Proportion()
    energy_in_box: Stat = Stat()
    pointing_hit: Proportion = Proportion()


class SliceFigures(_Model):
    """The samples whose manifest columns have the values ``values`` (``None``: no value).

    ``n`` counts the slice's audited samples. A slice of fewer than ``metrics.min_slice_size``
    samples is listed but not ``scored``: its ``accuracy`` and ``behaviour`` are None and its
    ``methods`` empty. ``behaviour`` is None too when the pipeline has no ``behaviour`` stage.
    """

    values: dict[str, str | None] = {}
    n: int = 0
    scored: bool = False
    accuracy: Proportion | None = None
    methods: dict[str, SliceMethodFigures] = {}
    behaviour: BehaviourSplit | None = None


class ConfusionMatrix(_Model):
    """True class in rows, predicted class in columns."""

    labels: list[str] = []
    matrix: list[list[int]] = []


class Summary(_Model):
    """The aggregate figures of a run (the output of the ``aggregate`` stage).

    ``accuracy`` and ``accuracy_ci`` repeat ``correct.mean`` and ``correct.ci``; ``min_n`` is
    the ``metrics.min_n`` the ``too_few`` flags were set with (None in files written before
    it existed). ``slices`` holds the figures of each configured subgroup, keyed
    ``"site=A"`` (see :mod:`audit.slices`), and ``min_slice_size`` the
    ``metrics.min_slice_size`` they were scored with; ``{}`` and None when the configuration
    names no slices.
    """

    schema_version: int = SCHEMA_VERSION
    n_samples: int = 0
    class_names: list[str] = []
    min_n: int | None = None
    accuracy: float | None = None
    accuracy_ci: Interval | None = None
    correct: Proportion = Proportion()
    per_class: dict[str, ClassFigures] = {}
    confusion_matrix: ConfusionMatrix = ConfusionMatrix()
    centre_baseline: Proportion = Proportion()
    methods: dict[str, MethodFigures] = {}
    behaviour: BehaviourFigures | None = None
    baselines: dict[str, FaithfulnessFigures] = {}
    n_skipped: int = 0
    n_boxes_clipped: int = 0
    n_duplicates: int = 0
    skipped_fraction: float = 0.0
    min_slice_size: int | None = None
    slices: dict[str, SliceFigures] = {}

    @property
    def n_misclassified(self) -> int:
        """Misclassified samples, summed over the classes."""
        return sum(c.n_misclassified for c in self.per_class.values())

    def slice_view(self, key: str) -> Summary:
        """The scored slice ``key`` (``"site=A"``) as a :class:`Summary` of its own, for what
        reads a summary (the gates): its accuracy, method figures and behavioural split, the
        run's ``min_n``, and each method's faithfulness and sanity from the whole run (they are
        measured on a subset of the run, not per slice).

        Raises
        ------
        KeyError
            If the run has no slice ``key``, or has it but did not score it (too few samples).
        """
        figures = self.slices.get(key)
        if figures is None or not figures.scored:
            state = "no" if figures is None else "too few samples in the"
            raise KeyError(f"{state} slice {key!r} to score; scored slices: "
                           f"{', '.join(k for k, f in self.slices.items() if f.scored)}")
        accuracy = figures.accuracy or Proportion()
        methods = {}
        for method, slice_figures in figures.methods.items():
            whole = self.methods.get(method, MethodFigures())
            methods[method] = MethodFigures(
                n_maps=slice_figures.n_maps, n_degenerate=slice_figures.n_degenerate,
                background_fixation_rate=slice_figures.background_fixation.mean,
                background_fixation=slice_figures.background_fixation,
                background_fixation_per_sample=slice_figures.background_fixation_per_sample,
                pointing_accuracy=slice_figures.pointing_hit.mean,
                energy_in_box=Split(all=slice_figures.energy_in_box),
                pointing_hit=ProportionSplit(all=slice_figures.pointing_hit),
                faithfulness=whole.faithfulness, sanity=whole.sanity)
        behaviour = (BehaviourFigures(**dict(figures.behaviour))
                     if figures.behaviour is not None else None)
        return Summary(n_samples=figures.n, class_names=self.class_names, min_n=self.min_n,
                       accuracy=accuracy.mean, accuracy_ci=accuracy.ci, correct=accuracy,
                       methods=methods, behaviour=behaviour)


#: What a gate found: the figure met its threshold (``pass``) or not (``fail``), the figure
#: rests on fewer than ``metrics.min_n`` samples (``not_enough_samples``: passes or fails as
#: ``gates.on_too_few`` says), or it is undefined on the dataset (``undefined``: passes).
GateOutcome = Literal["pass", "fail", "not_enough_samples", "undefined"]


class Gate(_Model):
    """One release gate's outcome. ``outcome`` and ``n`` (the samples behind the figure) are
    None in files written before they were recorded."""

    value: float | None = None
    threshold: float | None = None
    passed: bool = False
    reason: str = ""
    outcome: GateOutcome | None = None
    n: int | None = None


class Verdict(_Model):
    """The gates of a run and what they add up to (the output of the ``gate`` stage).

    ``exit_code`` is the command line's: 0 every gate passed, 1 a gate on a figure failed,
    2 a gate on the input failed (more samples skipped than allowed: the figures describe only
    part of the dataset).
    """

    gates: dict[str, Gate] = {}
    passed: bool = True
    exit_code: ExitCode = Field(default=ExitCode.PASSED, exclude=True)


class Provenance(_Model):
    """Where a run's figures come from: files and their hashes, versions, times.

    Keys beyond the declared ones are kept (``extra="allow"``): provenance grows with the
    product, and an archived report must show everything its run recorded.
    """

    model_config = ConfigDict(extra="allow", frozen=True)

    run_id: str | None = None
    run_name: str | None = None
    pipeline: str | None = None
    pipeline_path: str | None = None
    model_path: str | None = None
    model_sha256: str | None = None
    manifest_path: str | None = None
    manifest_sha256: str | None = None
    dataset_format: str | None = None
    seed: int | None = None
    safe_mode: bool | None = None
    started_at: str | None = None
    finished_at: str | None = None
    duration_s: float | None = None


class Change(_Model):
    """A flagged change of one key figure against the baseline run (``changes`` in
    ``summary.json``): its test is significant *and* its size exceeds ``report.min_change``.

    ``figure`` is the key :mod:`audit.comparison` names it by (``"accuracy"``,
    ``"gradcam.background_fixation_per_sample"``), ``method`` its CAM method (None for a figure
    of the whole run), ``before`` / ``after`` the baseline's value and this run's, ``n_before``
    / ``n_after`` the samples behind them, ``difference`` the change ``after - before`` (for a
    paired bootstrap, the mean per-sample difference its interval is of) and ``ci`` the 95%
    interval of the difference (None for McNemar's exact test, which gives ``p_value``
    instead). ``significant`` is true for every listed change (the test's answer, kept so an
    entry reads on its own); ``assessment`` says which way it went.
    """

    figure: str
    label: str = ""
    method: str | None = None
    assessment: Literal["regression", "improvement"]
    unit: Literal["pct", "num"] = "pct"
    before: float | None = None
    after: float | None = None
    difference: float
    ci: Interval | None = None
    p_value: float | None = None
    test: str | None = None
    significant: bool = True
    n_before: int = 0
    n_after: int = 0


class RunSummary(Summary):
    """``summary.json``: the figures, the verdict and the provenance of one run, and its flagged
    changes against the baseline run it was compared with (``baseline_run_id``; None when it
    had none, and in files written before changes were recorded)."""

    run_id: str | None = None
    run_name: str | None = None
    gates: dict[str, Gate] = {}
    passed: bool | None = None
    provenance: Provenance = Provenance()
    baseline_run_id: str | None = None
    changes: list[Change] = []

    @classmethod
    def assemble(cls, summary: Summary, verdict: Verdict, provenance: Provenance, *,
                 baseline_run_id: str | None = None, changes=()) -> RunSummary:
        """The run's summary from its parts: the figures, the verdict, the provenance, and the
        flagged changes against the baseline run."""
        return cls(**{**dict(summary), "schema_version": SCHEMA_VERSION,
                      "run_id": provenance.run_id, "run_name": provenance.run_name,
                      "gates": verdict.gates, "passed": verdict.passed,
                      "provenance": provenance, "baseline_run_id": baseline_run_id,
                      "changes": list(changes)})


def write_summary(path: str | os.PathLike, summary: RunSummary) -> Path:
    """Write ``summary`` as ``summary.json`` (indented, ``null`` for undefined), atomically."""
    return atomic_write_json(path, summary.model_dump(mode="json"))


def read_summary(path: str | os.PathLike) -> RunSummary:
    """Read a ``summary.json`` of any readable schema version.

    Raises
    ------
    AuditError
        When the file is missing, is not JSON, or is not a cam-audit summary of a readable
        version; the message names the file and what was found.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise AuditError(f"{path}: no summary.json; is {path.parent} a completed cam-audit run "
                         "folder?") from None
    except (OSError, ValueError, UnicodeDecodeError) as error:
        raise AuditError(f"{path}: cannot read the run summary: {error}") from None
    if not isinstance(data, dict):
        raise AuditError(f"{path}: expected a JSON object; received {type(data).__name__}.")
    version = data.get("schema_version", 1)
    if version not in READABLE_VERSIONS:
        raise AuditError(f"{path}: schema_version {version!r} is not one this cam-audit reads "
                         f"({', '.join(map(str, READABLE_VERSIONS))}); upgrade cam-audit.")
    try:
        return RunSummary.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        key = ".".join(str(p) for p in first["loc"])
        raise AuditError(f"{path}: {key}: received {first.get('input')!r}; "
                         f"{first['msg']}.") from None
