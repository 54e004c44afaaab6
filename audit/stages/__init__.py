"""The audit's stages, one file each, and the table pipeline files name them from.

Each stage is a plain function; :data:`STAGES` says what it reads and makes. ``params:<x>``
inputs are sections of the configuration; ``run`` is the :class:`~audit.history.run_info.RunInfo`.
The run order follows from the names (see :mod:`audit.pipeline.pipeline`)::

    load_model ─► load_dataset ─► slices ─► [per batch: explain ─► score,
               label_scores, label_behaviour (multi-label),
               background_swap ─► behaviour, strategy_maps] ─► faithfulness, sanity
               ─► aggregate ─► strategies ─► drift ─► gate ─► gallery ─► report

``explain`` makes the predictions and the maps from one forward pass per image (two for a
multi-label model: its targets are its decisions); ``predict`` (its own forward pass) is for
pipelines without maps, so a pipeline names one of the two.

To add a stage: write its function in a file of its own here, add one ``Stage`` below, and name
it in a pipeline file. ``slices`` and ``drift`` are producers (``auto_add``): a pipeline that
needs their outputs and does not name them gets them added, so ``aggregate``, ``gate`` and
``report`` read them and never compute them again.
"""

from __future__ import annotations

from types import MappingProxyType

from audit.datasets import SkippedSample
from audit.metrics.multilabel import LabelScore
from audit.metrics.records import ScoreRecord
from audit.pipeline import Counts, Shard, Stage
from audit.stages.aggregate import aggregate_stage
from audit.stages.background_swap import background_swap, background_swap_cost
from audit.stages.behaviour import SampleRow, behaviour, behaviour_cost
from audit.stages.drift import drift
from audit.stages.explain import explain, explain_cost
from audit.stages.faithfulness import faithfulness, faithfulness_cost
from audit.stages.gallery import gallery, gallery_cost
from audit.stages.gallery_maps import gallery_maps
from audit.stages.gate import gate
from audit.stages.label_behaviour import LabelBehaviourRow, label_behaviour, label_behaviour_cost
from audit.stages.label_scores import label_scores
from audit.stages.load_dataset import load_dataset
from audit.stages.load_model import load_model
from audit.stages.predict import predict, predict_cost
from audit.stages.report import report
from audit.stages.sanity import sanity, sanity_cost
from audit.stages.score import score
from audit.stages.slices import slices
from audit.stages.strategies import strategies
from audit.stages.strategy_maps import strategy_maps

__all__ = ["STAGES"]

STAGES = MappingProxyType({stage.name: stage for stage in (
    Stage("load_model", load_model, inputs=("params:model", "params:cams", "live_model"),
          outputs=("explainer", "class_names", "model_info"), per_worker=True,
          optional=("live_model",)),
    Stage("load_dataset", load_dataset,
          inputs=("params:dataset", "params:cams", "class_names", "model_info"),
          outputs=("manifest", "batch"), stream="batch"),
    Stage("slices", slices, inputs=("params:slices", "manifest"), outputs=("slice_keys",),
          auto_add=True),
    Stage("predict", predict, inputs=("explainer", "batch", "model_info"),
          outputs=("predictions",), per_batch=True, cost=predict_cost),
    Stage("explain", explain, inputs=("params:cams", "explainer", "batch", "model_info"),
          outputs=("predictions", "maps"), per_batch=True, cost=explain_cost),
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
          collect={"label_behaviour": LabelBehaviourRow}, cost=label_behaviour_cost),
    Stage("background_swap", background_swap,
          inputs=("params:seed", "explainer", "batch", "model_info", "manifest"),
          outputs=("swaps",), per_batch=True, cost=background_swap_cost),
    Stage("behaviour", behaviour,
          inputs=("params:behaviour", "explainer", "batch", "predictions", "class_names",
                  "model_info", "swaps"),
          outputs=("samples",), per_batch=True, collect={"samples": SampleRow},
          optional=("swaps",), cost=behaviour_cost),
    Stage("strategy_maps", strategy_maps,
          inputs=("params:strategies", "params:cams", "batch", "predictions", "maps"),
          outputs=("strategy_maps",), per_batch=True, collect={"strategy_maps": Shard}),
    Stage("gallery_maps", gallery_maps,
          inputs=("params:cams", "batch", "predictions", "maps"),
          outputs=("gallery_maps",), per_batch=True, collect={"gallery_maps": Shard}),
    Stage("faithfulness", faithfulness,
          inputs=("params:faithfulness", "params:cams", "params:metrics", "params:seed",
                  "records", "manifest",
                  "explainer", "model_info"),
          outputs=("faithfulness",), cost=faithfulness_cost),
    Stage("sanity", sanity,
          inputs=("params:sanity", "params:cams", "params:seed", "records", "manifest",
                  "explainer", "model_info"),
          outputs=("sanity",), cost=sanity_cost),
    Stage("aggregate", aggregate_stage,
          inputs=("params:metrics", "params:seed", "params:behaviour", "params:sanity",
                  "records", "skipped", "manifest", "batch_counts", "class_names", "samples",
                  "faithfulness", "sanity", "slice_keys", "label_scores", "label_behaviour"),
          outputs=("summary",), optional=("samples", "faithfulness", "sanity", "label_scores",
                                          "label_behaviour")),
    Stage("strategies", strategies,
          inputs=("params:strategies", "params:cams", "params:seed", "run", "summary",
                  "records", "strategy_maps", "manifest", "class_names", "model_info"),
          outputs=("strategies", "strategy_cards")),
    Stage("drift", drift, inputs=("params:report", "run", "summary", "records"),
          outputs=("changes",), auto_add=True),
    Stage("gate", gate, inputs=("params:gates", "params:dataset", "summary", "changes",
                                "params:report", "strategies"),
          outputs=("verdict",), optional=("strategies",)),
    Stage("gallery", gallery,
          inputs=("params:report", "params:cams", "params:behaviour", "records", "manifest",
                  "explainer", "model_info", "samples", "gallery_maps"),
          outputs=("gallery", "behaviour_gallery"), optional=("samples", "gallery_maps"),
          cost=gallery_cost),
    Stage("report", report,
          inputs=("params:report", "params:cams", "run", "summary", "verdict", "records",
                  "skipped", "gallery", "behaviour_gallery", "model_info", "changes",
                  "strategies", "strategy_cards"),
          outputs=("results",), optional=("strategies", "strategy_cards")),
)})
