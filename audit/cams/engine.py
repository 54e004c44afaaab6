"""The CAM engine: one forward and backward pass shared by every gradient method.

Each method contributes only its channel weights (as pytorch-grad-cam's
``BaseCAM.get_cam_weights``): Grad-CAM, Grad-CAM++ and negative evidence from the same
activations and gradients, Score-CAM from masked forward passes. The engine combines them
into maps with ``ReLU(sum_k w_k A_k)``, upsamples and scales.

All TensorFlow work runs inside ``tf.function`` with an input signature whose batch
dimension is ``None``: a new batch size does not retrace.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from audit.cams import postprocess
from audit.cams.gradcam import gradcam_weights
from audit.cams.gradcam_plus_plus import gradcam_plus_plus_weights
from audit.cams.head import Head, find_head
from audit.cams.layers import resolve_layer
from audit.cams.negative import negative_weights
from audit.cams.scorecam import masked_inputs, normalized_masks, top_k_channels
from audit.cams.taps import single, tap

GRADIENT_METHODS = {
    "gradcam": gradcam_weights,
    "gradcam++": gradcam_plus_plus_weights,
    "negative": negative_weights,
}
METHODS: tuple[str, ...] = ("gradcam", "gradcam++", "scorecam", "negative")

# Masked inputs per Score-CAM forward call, as a pixel budget: 64 images of 224 x 224.
_SCORECAM_PIXEL_BUDGET = 64 * 224 * 224
_SCORECAM_MAX_CHUNK = 256  # the last chunk is padded to full size: keep the waste small


def _spatial_size(images):
    """``(H, W)`` of a batch: static ints when known (fast upsampling), else a tensor."""
    h, w = images.shape[1], images.shape[2]
    if h is not None and w is not None:
        return (int(h), int(w))
    return tf.shape(images)[1:3]


def _pad_rows(tensor: tf.Tensor, rows: int) -> tf.Tensor:
    """``tensor`` with its last row repeated until it has ``rows`` rows."""
    missing = rows - int(tensor.shape[0])
    if missing <= 0:
        return tensor
    return tf.concat([tensor, tf.repeat(tensor[-1:], missing, axis=0)], axis=0)


def _in_chunks(fn, size: int | None, n: int, *batched, pad: bool = True):
    """Call ``fn`` on row chunks of ``size`` rows and join the results.

    With ``pad``, every chunk has exactly ``size`` rows (the last one padded), so every call
    has the same shape and a sample's result does not depend on how the caller batched the
    data: the kernels TensorFlow picks on the CPU depend on the batch size and round
    differently. ``size=None`` calls ``fn`` once on everything.
    """
    if n == 0 or size is None or (n <= size and not pad):
        return fn(*batched)
    parts = []
    for start in range(0, n, size):
        chunk = [t[start:start + size] for t in batched]
        rows = int(chunk[0].shape[0])
        out = fn(*[_pad_rows(t, size) if pad else t for t in chunk])
        parts.append(tf.nest.map_structure(lambda x, rows=rows: x[:rows], out))
    if len(parts) == 1:
        return parts[0]
    return tf.nest.map_structure(lambda *xs: tf.concat(xs, axis=0), *parts)


class CamMaps(dict):
    """``method -> float32 array``, plus what a report needs to know about the maps.

    Attributes
    ----------
    degenerate : dict[str, numpy.ndarray]
        Per method, a boolean ``(N,)``: the map was all zero after the ReLU.
    layer_name : str
        The explained layer's path.
    scorecam_channels : int or None
        Channels per image that Score-CAM used.
    """

    def __init__(self, *args, degenerate=None, layer_name="", scorecam_channels=None):
        super().__init__(*args)
        self.degenerate = degenerate or {}
        self.layer_name = layer_name
        self.scorecam_channels = scorecam_channels


@dataclass(frozen=True)
class Predictions:
    """The model's output for a batch: logits and class probabilities ``(N, n_classes)``."""

    logits: np.ndarray
    probabilities: np.ndarray

    @property
    def predicted(self) -> np.ndarray:
        return np.argmax(self.probabilities, axis=1)

    @property
    def confidence(self) -> np.ndarray:
        return np.max(self.probabilities, axis=1)


def _check_methods(methods: Sequence[str]) -> tuple[str, ...]:
    if isinstance(methods, str):
        methods = (methods,)
    methods = tuple(methods)
    unknown = [m for m in methods if m not in METHODS]
    if unknown or not methods:
        raise ValueError(f"Unknown CAM method(s) {unknown or methods!r}; allowed: "
                         f"{', '.join(METHODS)}.")
    if len(set(methods)) != len(methods):
        raise ValueError(f"Methods repeat: {methods!r}.")
    return methods


class CamExplainer:
    """Class activation maps for a Keras image classifier.

    Parameters
    ----------
    model : keras.Model
        A single-input, single-output classifier. It is not modified.
    layer : str or None
        The layer to explain as a path (``"mobilenetv2_1.00_224/out_relu"``) or a unique
        name; ``None`` picks the last layer with a 4-D spatial output, searching nested models.
    scorecam_max_channels : int or None
        Keep only the top-k channels per image by spatial variance for Score-CAM
        ("Faster Score-CAM"); ``None`` uses every channel.
    micro_batch : int or None
        When set, the model always runs on exactly this many images per call (the last call
        padded), so results are bit-identical whatever batch size the caller uses; the audit
        pipeline sets it. ``None`` (the default) runs each call on the batch as given: fastest,
        but CPU kernels round differently for different batch sizes (differences ~1e-7).

    Examples
    --------
    >>> ex = CamExplainer(model)                                      # doctest: +SKIP
    >>> maps = ex.explain(images, class_idx, methods=("gradcam",))    # doctest: +SKIP
    >>> maps["gradcam"].shape                                         # doctest: +SKIP
    (8, 64, 64)
    """

    def __init__(self, model, layer: str | None = None, *,
                 scorecam_max_channels: int | None = None, micro_batch: int | None = None):
        if len(model.inputs) != 1:
            raise ValueError(f"Model '{model.name}' has {len(model.inputs)} inputs; "
                             "cam-audit explains single-input image classifiers.")
        self.model = model
        self.layer_name, self._layer = resolve_layer(model, layer)
        self.head: Head = find_head(model)
        input_shape = tuple(model.inputs[0].shape)
        if len(input_shape) != 4:
            raise ValueError(f"Model '{model.name}' takes input of shape {input_shape}; an image "
                             "classifier takes (batch, height, width, channels).")
        self.input_shape = input_shape[1:]
        self._dtype = tf.as_dtype(model.inputs[0].dtype or "float32")
        if scorecam_max_channels is not None and int(scorecam_max_channels) < 1:
            raise ValueError(f"scorecam_max_channels must be a positive integer or None; "
                             f"received {scorecam_max_channels!r}.")
        self.scorecam_max_channels = scorecam_max_channels
        if micro_batch is not None and int(micro_batch) < 1:
            raise ValueError(f"micro_batch must be a positive integer or None; received "
                             f"{micro_batch!r}.")
        self.micro_batch = None if micro_batch is None else int(micro_batch)
        self._image_spec = tf.TensorSpec((None, *self.input_shape), self._dtype)
        self._class_spec = tf.TensorSpec((None,), tf.int32)
        self._gradient_fns: dict[tuple, tf.types.experimental.GenericFunction] = {}
        self._predict_fn = tf.function(self._predict_graph, input_signature=[self._image_spec])
        self._scorecam_fn = None

    # ------------------------------------------------------------------ scoring helpers
    @property
    def layer(self):
        """The explained layer object (``layer_name`` is its path)."""
        return self._layer

    @property
    def n_classes(self) -> int:
        return self.head.n_classes

    def _class_score(self, logits: tf.Tensor, class_idx: tf.Tensor) -> tf.Tensor:
        """The score ``S`` of the target class: its logit (``z`` / ``-z`` for binary)."""
        if self.head.binary:
            sign = tf.cast(2 * class_idx - 1, logits.dtype)
            return logits[:, 0] * sign
        return tf.gather(logits, class_idx, axis=1, batch_dims=1)

    def _probabilities(self, logits: tf.Tensor) -> tf.Tensor:
        if self.head.binary:
            p1 = tf.sigmoid(logits[:, 0])
            return tf.stack([1.0 - p1, p1], axis=1)
        if self.head.activation == "sigmoid":
            return tf.sigmoid(logits)
        return tf.nn.softmax(logits, axis=1)

    def _forward(self, images: tf.Tensor, on_activation=None):
        with tap(self._layer, self.head, on_activation) as record:
            self.model(images, training=False)
        activations = single(record.activations, "layer", self.layer_name)
        logits = single(record.logits, "output layer", self.head.layer.name)
        return activations, tf.cast(logits, tf.float32)

    # ------------------------------------------------------------------ graphs
    def _predict_graph(self, images):
        with tap(self._layer, self.head) as record:
            self.model(images, training=False)
        logits = tf.cast(single(record.logits, "output layer", self.head.layer.name), tf.float32)
        return logits, self._probabilities(logits)

    def _finish(self, raw: tf.Tensor, size, upsample: bool, normalize: bool):
        """Degenerate flags, then upsampling to ``size`` and scaling, as graph ops."""
        flags = tf.logical_not(tf.reduce_any(raw > 0, axis=(1, 2)))
        if upsample:
            raw = postprocess.upsample(raw, size)
        if normalize:
            raw = postprocess.scale_to_unit(raw)
        return raw, flags

    def _make_gradient_graph(self, methods: tuple[str, ...], upsample: bool, normalize: bool,
                             keep_activations: bool):
        def graph(images, class_idx):
            with tf.GradientTape(watch_accessed_variables=False) as tape:
                activations, logits = self._forward(images, on_activation=tape.watch)
                score = tf.reduce_sum(self._class_score(logits, class_idx))
            activations = tf.cast(activations, tf.float32)
            maps, flags = {}, {}
            if methods:
                grads = tf.cast(tape.gradient(score, activations), tf.float32)
                for method in methods:
                    weights = GRADIENT_METHODS[method](activations, grads)
                    raw = postprocess.combine(activations, weights)
                    maps[method], flags[method] = self._finish(
                        raw, _spatial_size(images), upsample, normalize)
            # Activations leave the graph only when Score-CAM needs them.
            return (activations if keep_activations else tf.zeros((0,))), maps, flags

        return tf.function(graph, input_signature=[self._image_spec, self._class_spec])

    def _scorecam_graph(self, images, maps, image_index, class_idx):
        masks = normalized_masks(maps, _spatial_size(images))
        inputs = masked_inputs(images, image_index, masks)
        with tap(self._layer, self.head) as record:
            self.model(inputs, training=False)
        logits = tf.cast(single(record.logits, "output layer", self.head.layer.name), tf.float32)
        probs = self._probabilities(logits)
        return tf.gather(probs, tf.gather(class_idx, image_index), axis=1, batch_dims=1)

    # ------------------------------------------------------------------ public API
    def predict(self, images) -> Predictions:
        """Logits and class probabilities for a batch ``(N, H, W, C)``."""
        images = self._check_images(images)
        logits, probs = _in_chunks(self._predict_fn, self.micro_batch, int(images.shape[0]),
                                   images)
        return Predictions(logits.numpy(), probs.numpy())

    def explain(self, images, class_idx, methods: Sequence[str] = METHODS, *,
                upsample: bool = True, normalize: bool = True) -> CamMaps:
        """Class activation maps of ``class_idx[i]`` for every image ``images[i]``.

        Parameters
        ----------
        images : array-like, float, shape (N, H, W, C)
            Already preprocessed as the model expects.
        class_idx : array-like of int, shape (N,)
            The class each image's map explains.
        methods : sequence of str
            Any of ``"gradcam"``, ``"gradcam++"``, ``"scorecam"``, ``"negative"``. The
            gradient methods share one forward and backward pass.
        upsample : bool
            Upsample bilinearly to the input's ``(H, W)``; else keep the layer's ``(h, w)``.
        normalize : bool
            Divide each map by its maximum so it lies in [0, 1] (an all-zero map stays zero).

        Returns
        -------
        CamMaps
            ``method -> float32 array (N, H, W)`` (or ``(N, h, w)``), with the degenerate
            flags per method.
        """
        methods = _check_methods(methods)
        images = self._check_images(images)
        class_idx = self._check_classes(class_idx, images.shape[0])
        gradient_methods = tuple(m for m in methods if m in GRADIENT_METHODS)
        key = (gradient_methods, bool(upsample), bool(normalize), "scorecam" in methods)
        fn = self._gradient_fns.get(key)
        if fn is None:
            fn = self._gradient_fns[key] = self._make_gradient_graph(*key)
        activations, maps, flags = _in_chunks(fn, self.micro_batch, int(images.shape[0]),
                                              images, class_idx)
        maps, flags = dict(maps), dict(flags)
        channels = None
        if "scorecam" in methods:
            raw, channels = self._scorecam(images, activations, class_idx)
            maps["scorecam"], flags["scorecam"] = self._finish(
                raw, _spatial_size(images), upsample, normalize)
        result = CamMaps(layer_name=self.layer_name, scorecam_channels=channels)
        for method in methods:
            result[method] = np.asarray(maps[method], dtype=np.float32)
            result.degenerate[method] = np.asarray(flags[method], dtype=bool)
        return result

    # ------------------------------------------------------------------ Score-CAM
    def _scorecam(self, images, activations, class_idx):
        n, h, w, k = activations.shape
        keep = k if self.scorecam_max_channels is None else min(k, self.scorecam_max_channels)
        if keep < k:
            chosen = top_k_channels(activations, keep)
            selected = tf.gather(activations, chosen, axis=3, batch_dims=1)
        else:
            selected = activations
        if n == 0:
            return tf.zeros((0, h, w), tf.float32), keep
        if self._scorecam_fn is None:
            self._scorecam_fn = tf.function(self._scorecam_graph, input_signature=[
                self._image_spec, tf.TensorSpec((None, h, w), tf.float32),
                tf.TensorSpec((None,), tf.int32), self._class_spec])
        maps = tf.reshape(tf.transpose(selected, (0, 3, 1, 2)), (n * keep, h, w))
        image_index = tf.repeat(tf.range(n, dtype=tf.int32), keep)
        height, width = images.shape[1:3]
        budget = _SCORECAM_PIXEL_BUDGET // max(1, height * width)
        chunk = max(1, min(_SCORECAM_MAX_CHUNK, budget))
        scores = _in_chunks(lambda m, i: self._scorecam_fn(images, m, i, class_idx), chunk,
                            n * keep, maps, image_index, pad=self.micro_batch is not None)
        weights = tf.reshape(scores, (n, keep))
        return postprocess.combine(selected, weights), keep

    # ------------------------------------------------------------------ input checks
    def _check_images(self, images) -> tf.Tensor:
        array = np.asarray(images)
        if array.ndim != 4 or any(e is not None and a != e
                                  for a, e in zip(array.shape[1:], self.input_shape, strict=True)):
            raise ValueError(f"images must have shape (N, {', '.join(map(str, self.input_shape))})"
                             f" for model '{self.model.name}'; received {array.shape}.")
        if not np.issubdtype(array.dtype, np.floating):
            raise ValueError(f"images must be a float array already preprocessed for the model; "
                             f"received dtype {array.dtype}.")
        return tf.convert_to_tensor(array, dtype=self._dtype)

    def _check_classes(self, class_idx, n: int) -> tf.Tensor:
        array = np.asarray(class_idx)
        if array.shape != (n,) or not np.issubdtype(array.dtype, np.integer):
            raise ValueError(f"class_idx must be an int array of shape ({n},); received "
                             f"{array.dtype} array of shape {array.shape}.")
        if n and (array.min() < 0 or array.max() >= self.n_classes):
            raise ValueError(f"class_idx must lie in [0, {self.n_classes - 1}] for a model with "
                             f"{self.n_classes} classes; received values from {array.min()} to "
                             f"{array.max()}.")
        return tf.convert_to_tensor(array, dtype=tf.int32)
