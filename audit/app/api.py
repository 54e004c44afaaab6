"""The Python API for notebooks: :func:`run` an audit, :func:`explain` a few images.

``audit.run`` is the command line's ``cam-audit run`` as a function: the same stages through
:func:`audit.app.run.run_audit`, the same run folder, the same results bit for bit. It also takes
what a notebook has in memory:

* ``model=``: a live ``keras.Model`` instead of ``model.path``. The local engine explains it as
  it is (no file round trip, so custom layers need no registration); it is also saved as
  ``<run folder>/model.keras`` (best effort) so that the folder's ``config.yaml`` reproduces the
  run from the command line. Its provenance hash is that of its weights
  (:func:`audit.models.hashing.weights_sha256`). A Beam worker cannot be handed a live model:
  with ``engine: beam`` the saved file is what the workers load, and a model Keras cannot save
  is refused.
* ``dataset=``: a ``tf.data.Dataset`` of ``(image, label)`` or ``(image, label, boxes)``
  instead of a manifest: written into the run folder as PNGs with a JSON Lines manifest
  (:mod:`audit.datasets.tf_dataset` says why), then streamed in the same bounded batches.

Examples
--------
>>> import audit                                                     # doctest: +SKIP
>>> result = audit.run("config.yaml", model=model, dataset=ds)      # doctest: +SKIP
>>> result.passed, result.records.shape                              # doctest: +SKIP
(True, (120, 25))
>>> result                                                           # doctest: +SKIP
<the verdict and the at-a-glance table, in Jupyter>
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from audit.config import AuditConfig, parse_config
from audit.errors import ConfigError, ModelError
from audit.summary import RunSummary

__all__ = ["AuditResult", "Explanation", "explain", "run"]

#: ``model.path`` of a run whose live model could not be saved.
IN_MEMORY = "<in-memory keras.Model>"
_PLACEHOLDER_MANIFEST = "<tf.data.Dataset>"


# ------------------------------------------------------------------------------ results


@dataclass(frozen=True)
class AuditResult:
    """A finished audit, as a notebook sees it.

    Attributes
    ----------
    run_dir : pathlib.Path
        The run folder (``summary.json``, ``records.csv``, ``report.html``, ...).
    summary : RunSummary or None
        The typed summary (what ``summary.json`` holds); None for a pipeline without the
        ``report`` stage.
    exit_code : int
        What ``cam-audit run`` would exit with: 0 passed, 1 a gate failed.
    """

    run_dir: Path
    summary: RunSummary | None
    exit_code: int
    fixation_limit: float | None = field(default=None, repr=False)

    @property
    def passed(self) -> bool | None:
        """Whether every gate passed (None without a verdict)."""
        return None if self.summary is None else self.summary.passed

    @property
    def report_path(self) -> Path | None:
        """``report.html`` in the run folder, when it was written."""
        path = self.run_dir / "report.html"
        return path if path.exists() else None

    @property
    def records(self) -> pd.DataFrame:
        """``records.csv``: one row per sample x method x target, with its dtypes."""
        from audit.metrics.records import read_records

        return read_records(self.run_dir / "records.csv")

    @property
    def samples(self) -> pd.DataFrame:
        """``samples.csv``: one row per audited sample (the behavioural test); empty when the
        pipeline has no ``behaviour`` stage."""
        from audit.pipeline.tables import read_table
        from audit.stages.behaviour import SampleRow

        path = self.run_dir / "samples.csv"
        if not path.exists():
            return pd.DataFrame()
        return read_table(path, SampleRow)

    def _repr_html_(self) -> str:
        from audit.report.notebook import notebook_html

        if self.summary is None:
            return f"<p>cam-audit run folder: <code>{_escape(self.run_dir)}</code></p>"
        return notebook_html(self.summary, run_dir=self.run_dir,
                             fixation_limit=self.fixation_limit)


def _escape(value) -> str:
    from markupsafe import escape

    return str(escape(str(value)))


# ---------------------------------------------------------------------------------- run


def _config_data(config) -> tuple[dict, Path | None, Path | None]:
    """The configuration as a mapping, the folder its relative paths are resolved against,
    and its file."""
    if isinstance(config, AuditConfig):
        return config.resolved_dump(), None, config.source
    if isinstance(config, Mapping):
        return dict(config), None, None
    if isinstance(config, str | os.PathLike):
        path = Path(config)
        if not path.is_file():
            raise ConfigError(f"Configuration file '{path}' does not exist.")
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (yaml.YAMLError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{path}: not valid YAML: {exc}") from None
        if not isinstance(data, dict):
            raise ConfigError(f"{path}: expected a mapping of keys; got {type(data).__name__}.")
        return data, path.resolve().parent, path.resolve()
    raise ConfigError(f"config must be a path, a mapping or an AuditConfig; got "
                      f"{type(config).__name__}.")


def _with_placeholders(data: dict, *, model, dataset) -> dict:
    """A configuration that validates before the run folder exists: the live model's and the
    dataset's paths are filled in by :func:`_prepare`."""
    data = dict(data)
    if model is not None:
        data["model"] = {**(data.get("model") or {}), "path": IN_MEMORY}
    if dataset is not None:
        data["dataset"] = {**(data.get("dataset") or {}), "path": _PLACEHOLDER_MANIFEST,
                           "format": "jsonl", "images_root": None}
    return data


def _check_model(model) -> None:
    import keras

    if not isinstance(model, keras.Model):
        raise ModelError(f"model must be a keras.Model; got {type(model).__name__}.")


def _save_model(model, path: Path, *, required: bool) -> bool:
    try:
        model.save(path)
        return True
    except Exception as exc:  # Keras raises many types for a model it cannot serialise
        path.unlink(missing_ok=True)
        if required:
            raise ModelError(
                f"engine: beam: Beam workers load the model from a file, and Keras cannot save "
                f"this live model to '{path}': {type(exc).__name__}: {str(exc)[:200]}. Save it "
                "yourself and set model.path, or use engine: local.") from exc
        warnings.warn(f"the live model could not be saved to '{path}' ({type(exc).__name__}: "
                      f"{str(exc)[:200]}); the run's config.yaml names no model file, so it "
                      "cannot be resumed or re-run from the command line.", stacklevel=3)
        return False


def _prepare(*, model, dataset, beam: bool):
    """What :func:`audit.app.run.run_audit` calls once the run folder exists."""

    def prepare(config: AuditConfig, run_dir: Path) -> tuple[AuditConfig, dict]:
        from audit.models.hashing import weights_sha256

        update, status = {}, {}
        if model is not None:
            path = run_dir / "model.keras"
            saved = _save_model(model, path, required=beam)
            update["model"] = config.model.model_copy(
                update={"path": path.resolve() if saved else Path(IN_MEMORY)})
            status["model_sha256"] = weights_sha256(model)
        if dataset is not None:
            from audit.datasets.tf_dataset import write_tf_dataset

            manifest = write_tf_dataset(dataset, run_dir / "dataset",
                                        limit=config.dataset.limit)
            update["dataset"] = config.dataset.model_copy(
                update={"path": manifest.resolve(), "format": "jsonl", "images_root": None})
        return config.model_copy(update=update), status

    return prepare


def run(config, *, model=None, dataset=None, out_dir=None, progress: bool = True
        ) -> AuditResult:
    """Run an audit from Python: the same stages and results as ``cam-audit run``.

    Parameters
    ----------
    config : str, path, mapping or AuditConfig
        A configuration file, the same keys as a mapping (relative paths resolved against
        the working folder), or a validated configuration.
    model : keras.Model, optional, keyword-only
        Audit this model instead of ``model.path`` (which may then be left out); its other
        keys (``layer``, ``class_names``, ``preprocessing``, ...) apply. Hashed from its
        weights for the run's provenance.
    dataset : tf.data.Dataset, optional, keyword-only
        ``(image, label)`` or ``(image, label, boxes)`` elements instead of ``dataset.path``:
        images hold pixels as a file does (uint8), labels are class indices or names, boxes
        are ``[N, 4]`` ``(x_min, y_min, x_max, y_max)`` in pixels with rows of -1 ignored. A
        batched dataset is read row by row. Written into the run folder (``dataset/``).
    out_dir : path, optional, keyword-only
        The run folder (must be empty or new); default ``<report.out_dir>/<run-id>``, which
        adds the run to that folder's history, as the command line does.
    progress : bool, keyword-only
        Show a progress bar.

    Returns
    -------
    AuditResult

    Raises
    ------
    AuditError
        Bad configuration or input, as the command line's exit code 2 (a configuration
        error names the key).
    StageError
        A stage failed unexpectedly (exit code 3); the traceback is in the run folder's
        ``error.log``.
    """
    from audit.app.run import run_audit

    if model is not None:
        _check_model(model)
    if dataset is not None and not hasattr(dataset, "__iter__"):
        raise ConfigError(f"dataset must be a tf.data.Dataset (or an iterable of (image, "
                          f"label[, boxes]) elements); got {type(dataset).__name__}.")
    data, base_dir, source = _config_data(config)
    parsed = parse_config(_with_placeholders(data, model=model, dataset=dataset),
                          where=str(source or "config"), base_dir=base_dir)
    if source is not None:
        parsed = parsed.model_copy(update={"source": source})
    beam = parsed.engine == "beam"
    prepare = _prepare(model=model, dataset=dataset, beam=beam) \
        if model is not None or dataset is not None else None
    result = run_audit(parsed, out_dir=out_dir, quiet=not progress, prepare=prepare,
                       live_model=None if beam else model)
    return AuditResult(run_dir=result.run_dir, summary=result.summary,
                       exit_code=int(result.exit_code),
                       fixation_limit=parsed.gates.max_background_fixation_rate)


# ------------------------------------------------------------------------------ explain


@dataclass(frozen=True)
class Explanation:
    """The maps of a few images (:func:`explain`).

    Attributes
    ----------
    maps : numpy.ndarray, float32 (N, H, W)
        Each map upsampled to the model's input size and scaled to [0, 1].
    overlays : numpy.ndarray, uint8 (N, H_image, W_image, 3)
        Each map blended over its image (``plt.imshow(explanation.overlays[0])``).
    class_index : numpy.ndarray, int (N,)
        The class each map explains.
    predicted : numpy.ndarray, int (N,)
        The model's predicted class.
    probabilities : numpy.ndarray, float (N, n_classes)
    degenerate : numpy.ndarray, bool (N,)
        The map was all zero after the ReLU (kept zero).
    method, layer : str
    """

    maps: np.ndarray
    overlays: np.ndarray
    class_index: np.ndarray
    predicted: np.ndarray
    probabilities: np.ndarray
    degenerate: np.ndarray
    method: str
    layer: str


def _as_images(images) -> np.ndarray:
    """``(N, H, W, C)``: one image ``(H, W, C)`` or ``(H, W)`` gains the batch axis, a batch
    of grayscale images ``(N, H, W)`` the channel axis."""
    array = np.asarray(images)
    if array.ndim == 2 or (array.ndim == 3 and array.shape[-1] in (1, 3)):
        array = array[None]
    if array.ndim == 3:
        array = array[..., None]
    if array.ndim != 4 or array.shape[-1] not in (1, 3):
        raise ValueError(f"images must be (N, H, W, C), (H, W, C) or (H, W) with C 1 or 3; "
                         f"got shape {tuple(np.asarray(images).shape)}.")
    return array


def explain(model, images, *, method: str = "gradcam", layer: str | None = None,
            class_index: int | Sequence[int] | None = None, preprocess=None,
            alpha: float = 0.5) -> Explanation:
    """The class activation map of each image, for a look in a notebook.

    Parameters
    ----------
    model : keras.Model
    images : array-like
        ``(N, H, W, C)`` or one ``(H, W, C)`` image, as a person sees it (pixels); resized
        bilinearly to the model's input size when it differs.
    method : str, keyword-only
        A name in :data:`audit.cams.METHODS` (``gradcam``, ``gradcam++``, ``scorecam``, ...).
    layer : str, optional, keyword-only
        The layer to explain (a path ``outer/inner`` for a nested model); default the last
        4-D layer larger than 1x1, as in an audit.
    class_index : int or sequence of int, optional, keyword-only
        The class to explain, one for all or one per image; default each image's predicted
        class.
    preprocess : callable, optional, keyword-only
        ``preprocess(float32 images) -> model input`` (e.g.
        ``keras.applications.mobilenet_v2.preprocess_input``); default none.
    alpha : float, keyword-only
        The colormap's weight in the overlays.

    Returns
    -------
    Explanation

    Examples
    --------
    >>> import keras, numpy as np
    >>> model = keras.Sequential([keras.Input((16, 16, 3)), keras.layers.Conv2D(4, 3),
    ...                           keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(2)])
    >>> found = explain(model, np.zeros((2, 16, 16, 3), np.uint8))
    >>> found.maps.shape, found.overlays.shape, found.method
    ((2, 16, 16), (2, 16, 16, 3), 'gradcam')
    """
    import io

    import tensorflow as tf
    from PIL import Image

    from audit.cams import CamExplainer
    from audit.cams.overlay import overlay_png

    _check_model(model)
    pictures = _as_images(images)
    explainer = CamExplainer(model, layer)
    height, width, _ = explainer.input_shape
    inputs = tf.convert_to_tensor(pictures, tf.float32)
    if height is not None and width is not None and tuple(pictures.shape[1:3]) != (height,
                                                                                  width):
        inputs = tf.image.resize(inputs, (height, width), method="bilinear")
    if preprocess is not None:
        inputs = preprocess(inputs)
    inputs = np.asarray(inputs, dtype=np.float32)
    predictions = explainer.predict(inputs)
    predicted = np.asarray(predictions.predicted, dtype=np.int64)
    if class_index is None:
        classes = predicted
    else:
        classes = np.broadcast_to(np.asarray(class_index, dtype=np.int64),
                                  (len(pictures),)).copy()
    maps = explainer.explain(inputs, classes, (method,))
    shown = pictures if pictures.dtype == np.uint8 else np.clip(pictures, 0, 255).astype(
        np.uint8)
    overlays = np.stack([np.asarray(Image.open(io.BytesIO(
        overlay_png(shown[i], maps[method][i], alpha=alpha))).convert("RGB"))
        for i in range(len(shown))])
    return Explanation(maps=maps[method], overlays=overlays, class_index=classes,
                       predicted=predicted,
                       probabilities=np.asarray(predictions.probabilities),
                       degenerate=maps.degenerate[method], method=method,
                       layer=explainer.layer_name)
