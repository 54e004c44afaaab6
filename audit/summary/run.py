"""The figures of a run (:class:`Summary`, what ``aggregate`` produces) and ``summary.json``
(:class:`RunSummary`: the figures, the verdict, the provenance and the flagged changes)."""

from __future__ import annotations

from pydantic import ConfigDict, Field, model_serializer

from audit.summary.changes import Change
from audit.summary.evidence import BehaviourFigures, FaithfulnessFigures, FaithfulnessRun
from audit.summary.figures import ClassFigures, ConfusionMatrix, MethodFigures
from audit.summary.multilabel import MultilabelFigures
from audit.summary.schema import SCHEMA_VERSION, Interval, _Model
from audit.summary.slices import SliceFigures
from audit.summary.stats import Proportion, ProportionSplit, Split
from audit.summary.strategies import StrategiesFigures
from audit.summary.verdict import Gate, Verdict, VerdictStatus


class Summary(_Model):
    """The aggregate figures of a run (the output of the ``aggregate`` stage).

    ``accuracy`` and ``accuracy_ci`` repeat ``correct.mean`` and ``correct.ci``; ``min_n`` is
    the ``metrics.min_n`` the ``too_few`` flags were set with (None in files written before
    it existed). ``slices`` holds the figures of each configured subgroup, keyed
    ``"site=A"`` (see :mod:`audit.analysis.slices`), and ``min_slice_size`` the
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
    faithfulness: FaithfulnessRun | None = None
    n_skipped: int = 0
    n_boxes_clipped: int = 0
    n_duplicates: int = 0
    skipped_fraction: float = 0.0
    min_slice_size: int | None = None
    slices: dict[str, SliceFigures] = {}
    # A multi-label model's label figures; left out of summary.json for a single-label run.
    multilabel: MultilabelFigures | None = Field(default=None, exclude_if=lambda v: v is None)

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


class RunSummary(Summary):
    """``summary.json``: the figures, the verdict and the provenance of one run, and its flagged
    changes against the baseline run it was compared with (``baseline_run_id``; None when it
    had none, and in files written before changes were recorded)."""

    run_id: str | None = None
    run_name: str | None = None
    gates: dict[str, Gate] = {}
    passed: bool | None = None
    #: ``passed``, ``failed`` or ``no_verdict`` (no gate configured); None in files written
    #: before it was recorded (read ``passed`` there).
    verdict: VerdictStatus | None = None
    provenance: Provenance = Provenance()
    baseline_run_id: str | None = None
    changes: list[Change] = []
    strategies: StrategiesFigures | None = None

    @model_serializer(mode="wrap")
    def _without_absent_strategies(self, handler):
        # A run whose pipeline has no strategies stage (or no class large enough to cluster)
        # writes no ``strategies`` key, so its summary.json is the one it was before the stage.
        data = handler(self)
        if isinstance(data, dict) and data.get("strategies", 0) is None:
            del data["strategies"]
        return data

    @classmethod
    def assemble(cls, summary: Summary, verdict: Verdict, provenance: Provenance, *,
                 baseline_run_id: str | None = None, changes=(),
                 strategies: StrategiesFigures | None = None) -> RunSummary:
        """The run's summary from its parts: the figures, the verdict, the provenance, and the
        flagged changes against the baseline run."""
        return cls(**{**dict(summary), "schema_version": SCHEMA_VERSION,
                      "run_id": provenance.run_id, "run_name": provenance.run_name,
                      "gates": verdict.gates, "passed": verdict.passed,
                      "verdict": verdict.status,
                      "provenance": provenance, "baseline_run_id": baseline_run_id,
                      "changes": list(changes), "strategies": strategies})
