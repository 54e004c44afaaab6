"""The audit's stages, one file each, and the table pipeline files name them from.

Each stage is a plain function; :data:`STAGES` says what it reads and makes. ``params:<x>``
inputs are sections of the configuration; ``run`` is the :class:`~audit.history.run_info.RunInfo`.
The run order follows from the names (see :mod:`audit.pipeline.pipeline`)::

    load_model ─► load_dataset ─► slices ─► [per batch: predict ─► explain ─► score, behaviour,
                                             label_scores, label_behaviour (multi-label)]
               ─► faithfulness, sanity ─► aggregate ─► drift ─► gate ─► gallery ─► report

To add a stage: write its function in a file of its own here, add one ``Stage`` below, and name
it in a pipeline file.
"""

from __future__ import annotations

from types import MappingProxyType

from audit.datasets import SkippedSample
from audit.metrics.multilabel import LabelScore
from audit.metrics.records import ScoreRecord
from audit.pipeline import Counts, Stage
from audit.stages.aggregate import aggregate_stage
from audit.stages.behaviour import SampleRow, behaviour
from audit.stages.drift import drift
from audit.stages.explain import explain
from audit.stages.faithfulness import faithfulness
from audit.stages.gallery import gallery
from audit.stages.gate import gate
from audit.stages.label_behaviour import LabelBehaviourRow, label_behaviour
from audit.stages.label_scores import label_scores
from audit.stages.load_dataset import load_dataset
from audit.stages.load_model import load_model
from audit.stages.predict import predict
from audit.stages.report import report
from audit.stages.sanity import sanity
from audit.stages.score import score
from audit.stages.slices import slices

__all__ = ["STAGES"]

STAGES = MappingProxyType({stage.name: stage for stage in (
    Stage("load_model", load_model, inputs=("params:model", "params:cams"),
          outputs=("explainer", "class_names", "model_info"), per_worker=True),
    Stage("load_dataset", load_dataset,
          inputs=("params:dataset", "params:cams", "class_names", "model_info"),
          outputs=("manifest", "batch"), stream="batch"),
    Stage("slices", slices, inputs=("params:slices", "manifest"), outputs=("slice_keys",)),
    Stage("predict", predict, inputs=("explainer", "batch", "model_info"),
          outputs=("predictions",), per_batch=True),
    Stage("explain", explain, inputs=("params:cams", "explainer", "batch", "predictions"),
          outputs=("maps",), per_batch=True),
    Stage("score", score,
          inputs=("params:metrics", "batch", "predictions", "maps", "class_names"),
          outputs=("records", "skipped", "batch_counts"), per_batch=True,
          collect={"records": ScoreRecord, "skipped": SkippedSample, "batch_counts": Counts}),
    Stage("label_scores", label_scores,
          inputs=("batch", "predictions", "class_names", "model_info"),
          outputs=("label_scores",), per_batch=True, collect={"label_scores": LabelScore}),
    Stage("label_behaviour", label_behaviour,
          inputs=("params:behaviour", "explainer", "batch", "predictions", "model_info"),
          outputs=("label_behaviour",), per_batch=True,
          collect={"label_behaviour": LabelBehaviourRow}),
    Stage("behaviour", behaviour,
          inputs=("params:behaviour", "explainer", "batch", "predictions", "class_names",
                  "model_info"),
          outputs=("samples",), per_batch=True, collect={"samples": SampleRow}),
    Stage("faithfulness", faithfulness,
          inputs=("params:faithfulness", "params:cams", "params:seed", "records", "manifest",
                  "explainer", "model_info"),
          outputs=("faithfulness",)),
    Stage("sanity", sanity,
          inputs=("params:sanity", "params:cams", "params:seed", "records", "manifest",
                  "explainer", "model_info"),
          outputs=("sanity",)),
    Stage("aggregate", aggregate_stage,
          inputs=("params:metrics", "params:seed", "params:behaviour", "params:sanity",
                  "params:slices", "records", "skipped", "manifest", "batch_counts",
                  "class_names", "samples", "faithfulness", "sanity", "slice_keys",
                  "label_scores", "label_behaviour"),
          outputs=("summary",), optional=("samples", "faithfulness", "sanity", "slice_keys",
                                          "label_scores", "label_behaviour")),
    Stage("drift", drift, inputs=("params:report", "run", "summary", "records"),
          outputs=("changes",)),
    Stage("gate", gate, inputs=("params:gates", "params:dataset", "summary", "changes"),
          outputs=("verdict",), optional=("changes",)),
    Stage("gallery", gallery,
          inputs=("params:report", "params:cams", "params:behaviour", "records", "manifest",
                  "explainer", "model_info", "samples"),
          outputs=("gallery", "behaviour_gallery"), optional=("samples",)),
    Stage("report", report,
          inputs=("params:report", "params:cams", "run", "summary", "verdict", "records",
                  "skipped", "gallery", "behaviour_gallery", "model_info", "changes"),
          outputs=("results",), optional=("changes",)),
)})
