"""Stage ``load_model``: the model file, the explained layer, the classes."""

from __future__ import annotations

from dataclasses import dataclass

from audit.cams import CamExplainer
from audit.cams.layers import output_shape
from audit.datasets import Preprocessor
from audit.errors import ConfigError, ModelError
from audit.model_loading import load_model
from audit.pipeline.stage import stage


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


@stage("load_model", inputs=("config",), outputs=("explainer", "class_names", "model_info"),
       config_section="model")
def load_model_stage(config):
    """Load the model, pick the layer to explain and name the classes."""
    model = load_model(config.model.path, imports=config.model.imports,
                       custom_objects=config.model.custom_objects,
                       safe_mode=config.model.safe_mode, search_path=config.model.search_path)
    explainer = CamExplainer(model, config.model.layer,
                             scorecam_max_channels=config.cams.scorecam_max_channels,
                             micro_batch=config.cams.micro_batch)
    height, width, channels = explainer.input_shape
    if config.model.input_size is not None:
        if (height, width) != (None, None) and tuple(config.model.input_size) != (height, width):
            raise ModelError(f"model.input_size is {list(config.model.input_size)} but model "
                             f"'{config.model.path}' takes {height}x{width} images; leave "
                             "model.input_size out to use the model's own size.")
        height, width = config.model.input_size
    if height is None or width is None:
        raise ModelError(f"Model '{config.model.path}' accepts any image size; set "
                         "model.input_size: [height, width] in the configuration.")
    if channels not in (1, 3):
        raise ModelError(f"Model '{config.model.path}' takes {channels} input channels; "
                         "cam-audit reads images as RGB (3) or grayscale (1).")
    names = config.model.class_names
    if names is None:
        names = [str(i) for i in range(explainer.n_classes)]
    elif len(names) != explainer.n_classes:
        raise ModelError(f"model.class_names lists {len(names)} classes but model "
                         f"'{config.model.path}' has {explainer.n_classes} outputs.")
    try:
        preprocessor = Preprocessor.from_config(config.model.preprocessing.as_block(),
                                                channels=int(channels))
        preprocessor.resolve()
    except (ValueError, ImportError) as exc:
        raise ConfigError(f"model.preprocessing: {exc}") from None
    info = ModelInfo(path=str(config.model.path), input_size=(int(height), int(width)),
                     channels=int(channels), layer=explainer.layer_name,
                     layer_channels=int(output_shape(explainer.layer)[-1]),
                     head=explainer.head.activation, preprocessor=preprocessor,
                     safe_mode=config.model.safe_mode)
    return explainer, list(names), info
