"""Stage ``load_model``: the model file, the layer to explain, the classes, the preprocessing."""

from __future__ import annotations

import difflib
from dataclasses import dataclass

from audit.cams import CamExplainer
from audit.cams.layers import output_shape
from audit.config import CamsSection, ModelSection
from audit.datasets import Preprocessor
from audit.errors import ConfigError, ModelError
from audit.models.loading import load_model as load_model_file


@dataclass(frozen=True)
class ModelInfo:
    """What the run needs to know about the model besides the explainer."""

    path: str
    input_size: tuple[int, int]
    channels: int
    layer: str
    layer_channels: int
    head: str
    preprocessor: Preprocessor
    safe_mode: bool  # False: the model file's Python code (Lambda layers) ran when it loaded
    task: str = "single"  # or "multilabel": independent sigmoid outputs, a label set per image
    thresholds: tuple[float, ...] = ()  # multi-label: class i is predicted when p_i >= [i]

    @property
    def multilabel(self) -> bool:
        return self.task == "multilabel"


def require_single_label(model_info: ModelInfo, stage: str) -> None:
    """Refuse a multi-label model in a stage that judges single-label decisions.

    Raises
    ------
    ConfigError
        Naming the stage and the pipeline to run instead.
    """
    if model_info.multilabel:
        raise ConfigError(
            f"stage '{stage}' does not support multi-label models yet (model '{model_info.path}' "
            "has independent sigmoid outputs, or model.task is multilabel); run the multilabel "
            "pipeline (pipeline: multilabel.yaml), which leaves out "
            "behaviour, faithfulness, sanity and slices")


def _input_size(model: ModelSection, explainer: CamExplainer) -> tuple[int, int, int]:
    height, width, channels = explainer.input_shape
    if model.input_size is not None:
        if (height, width) != (None, None) and tuple(model.input_size) != (height, width):
            raise ModelError(f"model.input_size is {list(model.input_size)} but model "
                             f"'{model.path}' takes {height}x{width} images; leave "
                             "model.input_size out to use the model's own size.")
        height, width = model.input_size
    if height is None or width is None:
        raise ModelError(f"Model '{model.path}' accepts any image size; set "
                         "model.input_size: [height, width] in the configuration.")
    if channels not in (1, 3):
        raise ModelError(f"Model '{model.path}' takes {channels} input channels; "
                         "cam-audit reads images as RGB (3) or grayscale (1).")
    return int(height), int(width), int(channels)


def _class_names(model: ModelSection, explainer: CamExplainer) -> list[str]:
    names = model.class_names
    if names is None:
        return [str(i) for i in range(explainer.n_classes)]
    if len(names) != explainer.n_classes:
        raise ModelError(f"model.class_names lists {len(names)} classes but model "
                         f"'{model.path}' has {explainer.n_classes} outputs.")
    return list(names)


def _task(model: ModelSection, explainer: CamExplainer) -> str:
    """``model.task`` resolved against the model's head: ``"single"`` or ``"multilabel"``."""
    head = explainer.head
    if model.task == "auto":
        return "multilabel" if head.multilabel else "single"
    if model.task == "multilabel" and (head.activation == "softmax" or head.n_units < 2):
        kind = "a softmax" if head.activation == "softmax" else "a single-unit"
        raise ModelError(f"model.task is multilabel but model '{model.path}' has {kind} "
                         f"output ({head.n_units} units); a multi-label model has one "
                         "independent sigmoid (or logit) output per class. Set model.task: "
                         "single, or leave it out.")
    return model.task


def _thresholds(model: ModelSection, class_names: list[str]) -> tuple[float, ...]:
    """One decision threshold per class (``model.threshold``: a number, or class -> number)."""
    if not isinstance(model.threshold, dict):
        return (float(model.threshold),) * len(class_names)
    for name in model.threshold:
        if name not in class_names:
            close = difflib.get_close_matches(name, class_names, n=1)
            guess = f" (did you mean '{close[0]}'?)" if close else ""
            raise ConfigError(f"model.threshold names a class the model does not have{guess}; "
                              f"classes: {', '.join(class_names)[:200]}; got {name!r}")
    return tuple(float(model.threshold.get(name, 0.5)) for name in class_names)


def load_model(model: ModelSection, cams: CamsSection, live_model=None
               ) -> tuple[CamExplainer, list[str], ModelInfo]:
    """Load the model, pick the layer to explain, name the classes, check the preprocessing.

    ``live_model`` is a ``keras.Model`` handed in by ``audit.run(model=...)`` (the catalog's
    optional ``live_model``) in place of reading ``model.path``; every other key of ``model``
    applies to it as to a loaded one. The local engine only: a Beam worker rebuilds this
    stage's outputs itself, and ``audit.run`` gives it the model as a file in the run folder.

    Returns
    -------
    explainer : CamExplainer
    class_names : list of str
        Output index ``i`` is ``class_names[i]``.
    model_info : ModelInfo
    """
    keras_model = live_model if live_model is not None else load_model_file(
        model.path, imports=model.imports, custom_objects=model.custom_objects,
        safe_mode=model.safe_mode, search_path=model.search_path)
    tokens = None if model.tokens is None else model.tokens.model_dump()
    explainer = CamExplainer(keras_model, model.layer, output=model.output, tokens=tokens,
                             scorecam_max_channels=cams.scorecam_channels,
                             micro_batch=cams.micro_batch, jit_compile=cams.jit_compile)
    height, width, channels = _input_size(model, explainer)
    class_names = _class_names(model, explainer)
    task = _task(model, explainer)
    try:
        preprocessor = Preprocessor.from_config(model.preprocessing.as_block(),
                                                channels=channels)
        preprocessor.check((height, width))  # imported, and called once on a black image
    except (ValueError, ImportError) as exc:
        raise ConfigError(f"model.preprocessing: {exc}") from None
    info = ModelInfo(path=str(model.path), input_size=(height, width), channels=channels,
                     layer=explainer.layer_name,
                     layer_channels=int(output_shape(explainer.layer)[-1]),
                     head=explainer.head.activation, preprocessor=preprocessor,
                     safe_mode=model.safe_mode, task=task,
                     thresholds=_thresholds(model, class_names) if task == "multilabel" else ())
    return explainer, class_names, info
