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

One module per idea, every name re-exported here (``from audit.summary import Summary``):

- :mod:`~audit.summary.schema`: the schema version, the base model, the interval types;
- :mod:`~audit.summary.stats`: a figure with its interval (:class:`Stat`, :class:`Proportion`)
  and a score split by correctness (:class:`Split`, :class:`ProportionSplit`);
- :mod:`~audit.summary.evidence`: the evidence checks' figures (faithfulness, sanity, the
  behavioural test and the agreement with it);
- :mod:`~audit.summary.figures`: the figures of one method and of one class, the confusion
  matrix;
- :mod:`~audit.summary.slices`: the figures of one subgroup of samples;
- :mod:`~audit.summary.multilabel`: a multi-label model's figures per label and macro;
- :mod:`~audit.summary.verdict`: the gates' outcome; :mod:`~audit.summary.changes`: a flagged
  change against the baseline run;
- :mod:`~audit.summary.run`: :class:`Summary` and :class:`RunSummary` (``summary.json``);
- :mod:`~audit.summary.io`: :func:`write_summary` and :func:`read_summary`.
"""

from audit.summary.changes import Change
from audit.summary.evidence import (
    AgreementFigures,
    BehaviourFigures,
    BehaviourSplit,
    Estimate,
    FaithfulnessFigures,
    FaithfulnessOutcome,
    FaithfulnessRun,
    PairedFigure,
    PairedFigures,
    SanityFigures,
    SwapSplit,
)
from audit.summary.figures import ClassFigures, ConfusionMatrix, MethodFigures, TrueClassFigures
from audit.summary.io import read_summary, write_summary
from audit.summary.multilabel import (
    LabelBehaviour,
    LabelFigures,
    LabelFixation,
    MacroFigures,
    MultilabelFigures,
)
from audit.summary.run import Provenance, RunSummary, Summary
from audit.summary.schema import READABLE_VERSIONS as READABLE_VERSIONS
from audit.summary.schema import SCHEMA_VERSION, IntervalMethod
from audit.summary.schema import Interval as Interval
from audit.summary.slices import SliceFigures, SliceMethodFigures
from audit.summary.stats import FixationFigure as FixationFigure
from audit.summary.stats import Proportion, ProportionSplit, Split, Stat
from audit.summary.strategies import ClassStrategies, StrategiesFigures, StrategyCluster
from audit.summary.verdict import Gate, GateOutcome, Verdict, VerdictStatus

__all__ = [
    "SCHEMA_VERSION",
    "AgreementFigures",
    "BehaviourFigures",
    "BehaviourSplit",
    "Change",
    "Estimate",
    "FaithfulnessFigures",
    "FaithfulnessOutcome",
    "FaithfulnessRun",
    "PairedFigure",
    "PairedFigures",
    "SanityFigures",
    "SwapSplit",
    "ClassFigures",
    "ClassStrategies",
    "SliceFigures",
    "SliceMethodFigures",
    "ConfusionMatrix",
    "FixationFigure",
    "Gate",
    "GateOutcome",
    "IntervalMethod",
    "LabelBehaviour",
    "LabelFigures",
    "LabelFixation",
    "MacroFigures",
    "MultilabelFigures",
    "MethodFigures",
    "Proportion",
    "ProportionSplit",
    "Provenance",
    "RunSummary",
    "Split",
    "Stat",
    "StrategiesFigures",
    "StrategyCluster",
    "Summary",
    "TrueClassFigures",
    "Verdict",
    "VerdictStatus",
    "read_summary",
    "write_summary",
]
