"""The sections of the configuration that say what to audit and how: ``model`` (with its
``preprocessing`` and ``tokens``), ``dataset``, ``cams``, ``metrics``, ``report``, ``demo`` and
``beam``."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    field_validator,
    model_validator,
)

from audit.cams.methods import DEFAULT_METHODS, UnknownMethodError, get_method
from audit.config.base import _Section
from audit.datasets.images import DEFAULT_MAX_IMAGE_PIXELS, IMAGE_FORMATS
from audit.files import is_url


def _registered_method(name: str) -> str:
    """A method name known to the CAM registry (``audit.cams.METHODS``)."""
    try:
        return get_method(name).name
    except UnknownMethodError as exc:
        raise ValueError(f"unknown CAM method. {exc.hint.removesuffix('.')}") from None


Method = Annotated[str, AfterValidator(_registered_method)]
Target = Literal["predicted", "true"]
DatasetFormat = Literal["csv", "jsonl", "coco", "voc", "folder"]
ImageFormat = Literal["PNG", "JPEG", "GIF", "WEBP", "BMP", "TIFF"]


class Preprocessing(_Section):
    """How raw 0..255 pixels become model input: ``x * rescale + offset``, or a function."""

    rescale: float | None = 1.0 / 255.0
    offset: float = 0.0
    function: str | None = Field(
        default=None, description="Dotted path, e.g. keras.applications.mobilenet_v2."
                                  "preprocess_input; replaces rescale/offset.")

    @model_validator(mode="after")
    def _one_kind(self):
        if self.function is not None and "." not in self.function:
            raise ValueError(f"function must be a dotted path like 'keras.applications."
                             f"mobilenet_v2.preprocess_input'; got {self.function!r}")
        return self

    def as_block(self) -> dict:
        if self.function:
            return {"function": self.function}
        return {"rescale": 1.0 if self.rescale is None else self.rescale, "offset": self.offset}


_DOTTED = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")


def _module_name(name: str) -> str:
    if not _DOTTED.match(name):
        raise ValueError("must be a module name like 'acme.layers'")
    return name


def _object_path(dotted: str) -> str:
    if not _DOTTED.match(dotted) or "." not in dotted:
        raise ValueError("must be a dotted path to a class or function, like "
                         "'acme.layers.Scale'")
    return dotted


ModuleName = Annotated[str, AfterValidator(_module_name)]
ObjectPath = Annotated[str, AfterValidator(_object_path)]


def _listed(value):
    """A single string written where a list is expected, as a list of one."""
    return [value] if isinstance(value, str) else value


def _local_or_url(value):
    return value if is_url(value) else Path(value) if isinstance(value, str) else value


def _local_only(value):
    if is_url(value):
        raise ValueError("the manifest is read on this machine: copy it here (the images and "
                         "the model it names may stay at URLs)")
    return value


#: A local path, or a URL (``gs://bucket/model.keras``) kept as written, read through Apache
#: Beam's file systems (see :mod:`audit.files`).
PathOrUrl = Annotated[Path | str, BeforeValidator(_local_or_url)]


class TokensSection(_Section):
    """How a vision transformer's ``(batch, tokens, channels)`` layer becomes an image grid;
    a key left out (or ``null``) is inferred (see :mod:`audit.cams.tokens`)."""

    grid: tuple[int, int] | None = Field(default=None, description=(
        "[h, w] of the patch tokens; null: the token count minus skip, as a grid of the "
        "input's aspect ratio (a perfect square for a square input)."))
    skip: int | None = Field(default=None, ge=0, description=(
        "Leading tokens that are not patches (1 for a class token); null: tokens - h * w "
        "with a grid, else 1 when tokens - 1 forms a grid, else 0."))

    @field_validator("grid", mode="before")
    @classmethod
    def _two_entries(cls, grid):
        if isinstance(grid, list | tuple) and len(grid) != 2:
            raise ValueError("must be two integers [h, w]")
        return grid

    @field_validator("grid")
    @classmethod
    def _positive_grid(cls, grid):
        if grid is not None and (min(grid) < 1 or grid[0] * grid[1] < 2):
            raise ValueError("must be two positive integers [h, w] with h * w > 1")
        return grid


class ModelSection(_Section):
    path: PathOrUrl
    layer: str | None = None
    output: str | None = Field(default=None, description=(
        "The classification output of a model with several outputs: the name of the layer "
        "that produces it (or its key, for a model that returns a dict)."))
    tokens: TokensSection | None = Field(default=None, description=(
        "{grid: [h, w], skip: n}: how a (batch, tokens, channels) layer is read as an image; "
        "null infers it."))
    class_names: list[str] | None = None
    input_size: tuple[int, int] | None = None
    preprocessing: Preprocessing = Preprocessing()
    imports: list[ModuleName] = Field(default=[], description=(
        "Modules imported before loading, so that the custom classes they register with "
        "@keras.saving.register_keras_serializable are known to Keras."))
    custom_objects: dict[str, ObjectPath] = Field(default={}, description=(
        "Name in the model file -> dotted path of the class or function, passed to Keras's "
        "custom_objects."))
    safe_mode: bool = Field(default=True, description=(
        "Keras's safe mode: refuses model files that carry Python code (Lambda layers). "
        "false runs that code when the model loads."))
    search_path: Path | None = Field(default=None, description=(
        "The folder put first on sys.path while imports and custom_objects are imported; "
        "set to the configuration file's folder when either is given."))
    task: Literal["auto", "single", "multilabel"] = Field(default="auto", description=(
        "single: one class per image (softmax, or one sigmoid unit); multilabel: any number "
        "of classes per image, one independent sigmoid per class; auto: multilabel when the "
        "model's output is N > 1 sigmoid units, else single."))
    threshold: Annotated[float, Field(gt=0.0, lt=1.0)] | dict[
        str, Annotated[float, Field(gt=0.0, lt=1.0)]] = Field(default=0.5, description=(
            "Multi-label models: a label is predicted when its sigmoid probability is at or "
            "above this; a mapping class -> threshold sets it per class (classes left out: "
            "0.5)."))

    @field_validator("imports", mode="before")
    @classmethod
    def _one_import(cls, names):
        return _listed(names)

    @field_validator("output")
    @classmethod
    def _output_named(cls, name):
        if name is not None and not name.strip("/ "):
            raise ValueError("output must name one of the model's outputs; leave it out for a "
                             "model with one output")
        return name

    @field_validator("class_names")
    @classmethod
    def _unique(cls, names):
        if names is not None:
            if not names:
                raise ValueError("class_names must not be empty; leave it out to use indices")
            dupes = sorted({n for n in names if names.count(n) > 1})
            if dupes:
                raise ValueError(f"class_names must be unique; repeated: {dupes}")
        return names

    @field_validator("input_size")
    @classmethod
    def _positive(cls, size):
        if size is not None and min(size) < 1:
            raise ValueError(f"input_size must be two positive integers [height, width]; "
                             f"got {list(size)}")
        return size


class DatasetSection(_Section):
    format: DatasetFormat = "csv"
    path: Annotated[Path, BeforeValidator(_local_only)]
    images_root: PathOrUrl | None = None
    max_skipped_fraction: float = Field(default=0.05, ge=0.0, le=1.0)
    limit: int | None = Field(default=None, ge=1, description=(
        "Audit only the first N samples of the manifest (also `cam-audit run --limit N`)."))
    max_image_pixels: int | None = Field(default=DEFAULT_MAX_IMAGE_PIXELS, ge=1, description=(
        "Largest image decoded (width x height, read from the file's header before decoding); "
        "a larger one is skipped with its reason. null leaves only Pillow's own limit."))
    image_formats: list[ImageFormat] = Field(default=list(IMAGE_FORMATS), min_length=1,
                                             description=(
        "Image formats opened; any other file is skipped. TIFF may be added (32-bit and float "
        "images); EPS, PSD, ICO and the rest are never opened."))
    confine_paths: bool = Field(default=True, description=(
        "Image and mask paths must resolve (symlinks followed) inside images_root (for VOC, "
        "the VOC folder); any other sample is skipped with its reason."))


#: Score-CAM's default channel budget (see ``docs/benchmarks.md`` for how close top-k maps
#: are to all-channel maps).
DEFAULT_SCORECAM_CHANNELS = 32


class CamsSection(_Section):
    methods: list[Method] = list(DEFAULT_METHODS)
    targets: list[Target] = ["predicted", "true"]
    batch_size: int = Field(default=32, ge=1, le=4096)
    micro_batch: int = Field(default=16, ge=1, le=4096, description=(
        "Images per model call. Every call has this shape (the last padded), so results do "
        "not depend on batch_size; change it only with the results' comparability in mind."))
    scorecam_max_channels: Annotated[int, Field(ge=1)] | Literal["all"] | None = Field(
        default=DEFAULT_SCORECAM_CHANNELS, description=(
            "Score-CAM weighs only each image's top-k channels by spatial variance ('Faster "
            "Score-CAM'): one masked forward pass per channel, so a 1,280-channel backbone "
            "costs 1,280 passes per map with 'all' (the paper's exact method; null means the "
            "same)."))
    jit_compile: bool = Field(default=False, description=(
        "Compile the explain graphs with XLA: worth it on a GPU, slower on a CPU."))

    @property
    def scorecam_channels(self) -> int | None:
        """The channel budget as the explainer takes it (None: every channel)."""
        if self.scorecam_max_channels in (None, "all"):
            return None
        return int(self.scorecam_max_channels)

    @field_validator("targets", mode="before")
    @classmethod
    def _yaml_true(cls, values):
        # YAML reads an unquoted `true` as a boolean; here it names the true class.
        if isinstance(values, list):
            return ["true" if v is True else v for v in values]
        return values

    @field_validator("methods", "targets")
    @classmethod
    def _non_empty_unique(cls, values):
        if not values:
            raise ValueError("must name at least one entry")
        if len(set(values)) != len(values):
            raise ValueError(f"entries repeat: {values}")
        return values

    @field_validator("targets")
    @classmethod
    def _predicted_first(cls, values):
        if "predicted" not in values:
            raise ValueError("must include 'predicted': every figure is computed on the map "
                             "of the model's decision")
        return values


class MetricsSection(_Section):
    pointing_tolerance_px: float = Field(default=15.0, ge=0.0)
    loc_threshold: float = Field(default=0.15, gt=0.0, le=1.0)
    loc_min_iou: float = Field(default=0.5, gt=0.0, le=1.0)
    fixation_enrichment_below: float = Field(default=1.0, gt=0.0)
    bootstrap_resamples: int = Field(default=1000, ge=100, le=100_000)
    max_scoring_side: int | None = Field(default=640, ge=64, description=(
        "Maps of photos whose longer side exceeds this are scored at this size (boxes, masks "
        "and pointing tolerance scaled); null scores every image at its full size."))
    min_n: int = Field(default=10, ge=1, description=(
        "Fewest samples a figure is judged on: below it a figure is shown with its n and no "
        "interval, and no gate or comparison takes it as evidence."))
    min_slice_size: int = Field(default=30, ge=1, description=(
        "Fewest samples a slice is scored on: a smaller slice is listed with its n and no "
        "figures, and no gate is applied to it."))



class MlflowSection(_Section):
    """Log the run to MLflow (``pip install "cam-audit[mlflow]"``): parameters, metrics, tags
    and artifacts; a tracking server that cannot be reached is a warning, never a failure."""

    tracking_uri: str | None = Field(default=None, description=(
        "MLflow's tracking URI (http://host:5000, file:///path/mlruns, sqlite:///mlflow.db); "
        "null: MLflow's own default ($MLFLOW_TRACKING_URI, else ./mlruns)."))
    experiment: str | None = Field(default=None, description=(
        "The experiment's name, created when missing; null: MLflow's default experiment."))
    run_name: str | None = Field(default=None, description=(
        "The MLflow run's name; null: the audit's run id."))


class ReportSection(_Section):
    out_dir: Path = Path("reports")
    gallery_size: int = Field(default=8, ge=0, le=100)
    baseline: Path | None = Field(default=None, description=(
        "A run folder to compare with (also `cam-audit run --baseline`, which wins); default "
        "the previous completed run in out_dir on the same dataset."))
    min_change: float = Field(default=0.02, ge=0.0, le=1.0, description=(
        "The smallest change of a key figure against the baseline run that is flagged as a "
        "regression or an improvement, in the figure's units: 0.02 is 2 percentage points of "
        "a share or of energy in box, 0.02 of background reliance. A change is flagged when its "
        "test is significant and its size exceeds this."))
    fdr: float | None = Field(default=0.05, gt=0.0, lt=1.0, description=(
        "False-discovery rate of the run's many flags at once (Benjamini-Hochberg): the "
        "drift flags against the baseline run, the per-slice gates (gates.per_slice) and "
        "cam-audit compare's flags. null tests each figure on its own."))
    keep_runs: int | None = Field(default=None, ge=1, description=(
        "Keep the newest N run folders in out_dir (and the baseline of each of them); older "
        "ones are deleted after a successful run. Their line in the history stays. null keeps "
        "every run."))
    mlflow: MlflowSection | None = Field(default=None, description=(
        "{tracking_uri, experiment, run_name}: log the run to MLflow; null: no MLflow."))


class DemoSection(_Section):
    """Build the demo data and model on first use (they are generated, never downloaded)."""

    data_dir: Path = Path("data/demo")
    size: Literal["full", "small"] = "full"


class BeamSection(_Section):
    """How ``engine: beam`` runs: Beam pipeline flags, passed through as ``PipelineOptions``."""

    options: list[str] = Field(default=[], description=(
        "Beam pipeline flags as typed on a command line, e.g. [--runner=DataflowRunner, "
        "--project=my-project, --region=europe-west1, --temp_location=gs://bucket/tmp]. "
        "Default: the DirectRunner, in this process."))
    share_model_across_processes: bool = Field(default=False, description=(
        "Load the model once per worker machine instead of once per SDK process (Beam's "
        "ModelHandler.share_model_across_processes): for models too large to hold one copy "
        "per process; the processes then send their batches to the one that holds it."))

    @field_validator("options", mode="before")
    @classmethod
    def _one_option(cls, values):
        return _listed(values)
