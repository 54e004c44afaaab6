"""The CAM engine: one forward and backward pass shared by every gradient method.

Each method contributes only its weights (as pytorch-grad-cam's ``BaseCAM.get_cam_weights``)
and says by its kind what it needs (:mod:`audit.cams.base`). The methods of a shared-pass kind
(the gradient methods, negative evidence, EigenCAM) get their weights from the activations and
gradients of the same pass; a perturbation method (Score-CAM) gets the activations and a
function that runs the model on masked inputs. The engine combines the weights into maps with
``ReLU(sum_k w_k A_k)``, upsamples and scales. Which methods exist is the registry's business
(:mod:`audit.cams.methods`): the engine has no per-method code.

All TensorFlow work runs inside ``tf.function`` with an input signature whose batch
dimension is ``None``: a new batch size does not retrace.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import tensorflow as tf

from audit.cams import postprocess
from audit.cams.base import CamMethod, WeightedActivations
from audit.cams.head import Head, find_head, select_output
from audit.cams.layers import ExplainedLayer, explainable_layers, output_shape, resolve_layer
from audit.cams.methods import DEFAULT_METHODS, METHODS, get_method
from audit.cams.taps import single, tap
from audit.cams.tokens import TokenGrid
from audit.errors import ModelError

# Masked inputs per forward call of a perturbation method, as a pixel budget: 64 images of
# 224 x 224.
_MASKED_PIXEL_BUDGET = 64 * 224 * 224
_MASKED_MAX_CHUNK = 256  # the last chunk is padded to full size: keep the waste small


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
    channels : dict[str, int]
        Per method, the channels per image its map weighs (all of the layer's, or fewer for
        Score-CAM with ``scorecam_max_channels``).
    """

    def __init__(self, *args, degenerate=None, layer_name="", channels=None):
        super().__init__(*args)
        self.degenerate = degenerate or {}
        self.layer_name = layer_name
        self.channels = channels or {}

    @property
    def scorecam_channels(self) -> int | None:
        """Channels per image that Score-CAM used; ``None`` when it was not computed."""
        return self.channels.get("scorecam")


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


def _check_registry(registry) -> Mapping[str, CamMethod]:
    if not isinstance(registry, Mapping) or not registry:
        raise ValueError(f"registry must be a non-empty mapping of name -> CamMethod; received "
                         f"{type(registry).__name__}.")
    for name, method in registry.items():
        if not isinstance(method, CamMethod) or method.name != name:
            raise ValueError(f"registry must map each name to the CamMethod of that name; "
                             f"received {name!r} -> {method!r}.")
    return registry


def _patch_tokens_reach_score(network, head: Head, candidates: list[ExplainedLayer],
                              input_shape: tuple, dtype) -> ExplainedLayer:
    """The last of ``candidates`` (token layers) whose patch tokens the class scores depend on.

    A vision transformer that classifies from its class token alone reads, after its last
    attention, only that token: the patch tokens of its last block's output and final norm get
    no gradient, and every gradient map of them would be zero. One forward and backward pass
    on a seeded random image, with every candidate tapped, finds the last layer whose patch
    tokens get a non-zero gradient of the sum of the logits: there, the input of the last
    attention (the last block's first LayerNormalization, pytorch-grad-cam's advice for
    ViTs). A model that pools every token (GlobalAveragePooling1D, Flatten) keeps its last
    token layer. When none qualifies (or the input size is not fixed), the last candidate.
    """
    if any(d is None for d in input_shape):
        return candidates[-1]
    image = np.random.default_rng(0).random((1, *input_shape))
    images = tf.convert_to_tensor(image, dtype=dtype)
    with tf.GradientTape(watch_accessed_variables=False) as tape:
        with tap([c.layer for c in candidates], head, on_activation=tape.watch) as record:
            network(images, training=False)
        logits = single(record.logits, "output layer", head.layer.name)
        score = tf.reduce_sum(tf.cast(logits, tf.float32))
    ran = [i for i, outputs in enumerate(record.outputs) if len(outputs) == 1]
    grads = tape.gradient(score, [record.outputs[i][0] for i in ran])
    for i, grad in sorted(zip(ran, grads, strict=True), key=lambda pair: -pair[0]):
        if grad is not None and bool(tf.reduce_any(candidates[i].tokens.to_grid(grad) != 0)):
            return candidates[i]
    return candidates[-1]


def _weigh(activations: tf.Tensor, weights) -> tuple[tf.Tensor, int]:
    """The map ``ReLU(sum_k w_k A_k)`` of a weights function's result, and its channel count."""
    if isinstance(weights, WeightedActivations):
        activations, weights = weights.activations, weights.weights
    return postprocess.combine(activations, weights), int(activations.shape[-1])


class CamExplainer:
    """Class activation maps for a Keras image classifier.

    Parameters
    ----------
    model : keras.Model
        A single-input image classifier. It is not modified.
    layer : str or None
        The layer to explain as a path (``"mobilenetv2_1.00_224/out_relu"``) or a unique
        name; ``None`` picks the last layer with a 4-D spatial output or with tokens that form
        a grid, searching nested models. For a vision transformer that classifies from its
        class token, the last token layer whose patch tokens the class scores depend on: the
        input of the last attention (see ``tokens``).
    output : str or None, keyword-only
        The classification output of a model with several outputs: the name (or path) of the
        layer that produces it, or its key when the model returns a dict. Predictions,
        probabilities and maps are that output's; the others are not computed. ``None`` for
        a model with one output.
    tokens : TokenGrid, mapping or None, keyword-only
        How a layer's ``(N, tokens, C)`` output becomes the grid ``(N, h, w, C)`` the maps are
        computed on: ``{"grid": (h, w), "skip": 1}`` drops ``skip`` leading tokens (a class
        token) and reshapes the others. ``None`` (or keys left out) infers it: the patch
        tokens form a grid of the input's aspect ratio (a perfect square for a square
        input), after 1 leading token when that fits, else none. See
        :mod:`audit.cams.tokens`.
    scorecam_max_channels : int or None
        Keep only the top-k channels per image by spatial variance for Score-CAM
        ("Faster Score-CAM"); ``None`` uses every channel. Every perturbation method receives
        it as its channel budget ``max_channels``.
    micro_batch : int or None
        When set, the model always runs on exactly this many images per call (the last call
        padded), so results are bit-identical whatever batch size the caller uses; the audit
        pipeline sets it. ``None`` (the default) runs each call on the batch as given: fastest,
        but CPU kernels round differently for different batch sizes (differences ~1e-7).
        A model with LayerNormalization (a transformer) still rounds by an image's position
        within a call: its results repeat bit for bit for the same batching, and agree to
        ~1e-7 across batchings.
    jit_compile : bool
        Compile the explain and predict graphs with XLA (``tf.function(jit_compile=True)``).
        XLA compiles once per input shape, so it pays off with ``micro_batch`` set.
    registry : mapping of str to CamMethod or None
        The methods ``explain`` can compute; ``None`` means :data:`audit.cams.METHODS`.

    Notes
    -----
    Mixed precision (``mixed_float16``, ``mixed_bfloat16``): gradients are taken with respect
    to the layer's output in its own dtype and cast to float32 afterwards; Score-CAM's masked
    inputs have the model's input dtype; logits and probabilities are float32. Maps scaled to
    [0, 1] agree with the same weights in float32 within about 0.006 (float16) and 0.065
    (bfloat16), measured on small CNNs (``tests/test_cam_engine.py``).

    Examples
    --------
    >>> ex = CamExplainer(model)                                      # doctest: +SKIP
    >>> maps = ex.explain(images, class_idx, methods=("gradcam",))    # doctest: +SKIP
    >>> maps["gradcam"].shape                                         # doctest: +SKIP
    (8, 64, 64)
    """

    def __init__(self, model, layer: str | None = None, *, output: str | None = None,
                 tokens: TokenGrid | Mapping | None = None,
                 scorecam_max_channels: int | None = None, micro_batch: int | None = None,
                 jit_compile: bool = False, registry: Mapping[str, CamMethod] | None = None):
        if len(model.inputs) != 1:
            raise ValueError(f"Model '{model.name}' has {len(model.inputs)} inputs; "
                             "cam-audit explains single-input image classifiers.")
        self.model = model
        chosen, self._network = select_output(model, output)
        self.output_name: str | None = None if chosen is None else chosen.name
        input_shape = tuple(model.inputs[0].shape)
        self._dtype = tf.as_dtype(model.inputs[0].dtype or "float32")
        self.tokens = TokenGrid.coerce(tokens)
        self._explained = self._resolve_layer(layer, input_shape[1:3])
        self.head: Head = find_head(self._network)
        if len(input_shape) != 4:
            raise ValueError(f"Model '{model.name}' takes input of shape {input_shape}; an image "
                             "classifier takes (batch, height, width, channels).")
        self.input_shape = input_shape[1:]
        if layer is None and self._explained.tokens is not None:
            self._explained = _patch_tokens_reach_score(
                self._network, self.head, self._trailing_token_layers(input_shape[1:3]),
                self.input_shape, self._dtype)
        self.layer_name, self._layer = self._explained.path, self._explained.layer
        self._init_args = dict(scorecam_max_channels=scorecam_max_channels,
                               micro_batch=micro_batch, jit_compile=jit_compile,
                               registry=registry)
        if scorecam_max_channels is not None and int(scorecam_max_channels) < 1:
            raise ValueError(f"scorecam_max_channels must be a positive integer or None; "
                             f"received {scorecam_max_channels!r}.")
        self.scorecam_max_channels = scorecam_max_channels
        if micro_batch is not None and int(micro_batch) < 1:
            raise ValueError(f"micro_batch must be a positive integer or None; received "
                             f"{micro_batch!r}.")
        self.micro_batch = None if micro_batch is None else int(micro_batch)
        self.jit_compile = bool(jit_compile)
        self.registry = METHODS if registry is None else _check_registry(registry)
        self._image_spec = tf.TensorSpec((None, *self.input_shape), self._dtype)
        self._class_spec = tf.TensorSpec((None,), tf.int32)
        self._gradient_fns: dict[tuple, tf.types.experimental.GenericFunction] = {}
        self._gradient_channels: dict[tuple, dict[str, int]] = {}
        self._masked_fns: dict[tuple, tf.types.experimental.GenericFunction] = {}
        self._predict_fn = tf.function(self._predict_graph, input_signature=[self._image_spec],
                                       jit_compile=self.jit_compile)

    def _resolve_layer(self, layer: str | None, image_size) -> ExplainedLayer:
        try:
            return resolve_layer(self._network, layer, tokens=self.tokens,
                                 image_size=image_size)
        except ModelError as error:
            if layer is None or self._network is self.model:
                raise
            try:  # a layer of the model that does not lead to the chosen output
                elsewhere = resolve_layer(self.model, layer, tokens=self.tokens,
                                          image_size=image_size)
            except ModelError:
                raise error from None
            raise ModelError(f"Layer '{elsewhere.path}' does not lead to the output "
                             f"'{self.output_name}' (model.output), so the class scores do "
                             "not depend on it. Name a layer on the path to that output, or "
                             "leave model.layer out.") from None

    def _trailing_token_layers(self, image_size) -> list[ExplainedLayer]:
        """The token layers after the last 4-D layer, in order: where the automatic choice
        for a vision transformer is made."""
        found = explainable_layers(self._network, tokens=self.tokens, image_size=image_size)
        trailing: list[ExplainedLayer] = []
        for candidate in reversed(found):
            if candidate.tokens is None:
                break
            trailing.insert(0, candidate)
        return trailing

    def with_model(self, model) -> CamExplainer:
        """An explainer of ``model`` (a copy of this one's model, weights changed: the
        randomisation check) with the same layer, output, token grid and options."""
        layout = self._explained.tokens
        tokens = None if layout is None else TokenGrid(grid=layout.grid, skip=layout.skip)
        return CamExplainer(model, self.layer_name, output=self.output_name, tokens=tokens,
                            **self._init_args)

    # ------------------------------------------------------------------ scoring helpers
    @property
    def layer(self):
        """The explained layer object (``layer_name`` is its path)."""
        return self._layer

    @property
    def token_layout(self):
        """How the explained layer's tokens form its grid (a :class:`TokenLayout`); ``None``
        for a layer with a 4-D output."""
        return self._explained.tokens

    @property
    def layer_grid(self) -> tuple:
        """``(h, w)`` of the maps before upsampling (entries ``None`` when not static)."""
        return self._explained.grid

    @property
    def layer_channels(self) -> int:
        """``K``, the explained activations' channel count."""
        return int(output_shape(self._layer)[-1])

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
        """The explained layer's output (in its own dtype) and the float32 logits."""
        with tap(self._layer, self.head, on_activation) as record:
            self._network(images, training=False)
        activations = single(record.activations, "layer", self.layer_name)
        logits = single(record.logits, "output layer", self.head.layer.name)
        return activations, tf.cast(logits, tf.float32)

    # ------------------------------------------------------------------ graphs
    def _predict_graph(self, images):
        _, logits = self._forward(images)
        return logits, self._probabilities(logits)

    def _finish(self, raw: tf.Tensor, size, upsample: bool, normalize: bool):
        """Degenerate flags, then upsampling to ``size`` and scaling, as graph ops."""
        flags = tf.logical_not(tf.reduce_any(raw > 0, axis=(1, 2)))
        if upsample:
            raw = postprocess.upsample(raw, size)
        if normalize:
            raw = postprocess.scale_to_unit(raw)
        return raw, flags

    def _to_grid(self, tensor: tf.Tensor) -> tf.Tensor:
        """A token layer's ``(N, tokens, C)`` as its grid ``(N, h, w, C)``; else as it is."""
        layout = self._explained.tokens
        return tensor if layout is None else layout.to_grid(tensor)

    def _make_gradient_graph(self, names: tuple[str, ...], upsample: bool, normalize: bool,
                             keep_activations: bool):
        """The shared pass: every shared-pass method in ``names`` from one forward (and, when
        one of them needs it, one backward) pass."""
        methods = [self.registry[name] for name in names]
        uses_gradients = any(method.uses_gradients for method in methods)
        channels = self._gradient_channels[(names, upsample, normalize, keep_activations)] = {}

        def graph(images, class_idx):
            with tf.GradientTape(watch_accessed_variables=False) as tape:
                layer_output, logits = self._forward(images, on_activation=tape.watch)
                score = tf.reduce_sum(self._class_score(logits, class_idx))
            # The gradient is taken with respect to the layer's output in its own dtype (float16
            # or bfloat16 under a mixed-precision policy): a float32 copy made after the pass
            # is not on the path to the score. Both are cast to float32 afterwards.
            # A token layer's output and gradient become the grid (N, h, w, C) here: the
            # gradient is taken with respect to the tokens the model computed, then reshaped.
            grads = None
            if uses_gradients:
                grads = self._to_grid(tf.cast(tape.gradient(score, layer_output), tf.float32))
            activations = self._to_grid(tf.cast(layer_output, tf.float32))
            maps, flags = {}, {}
            for method in methods:
                raw, channels[method.name] = _weigh(activations,
                                                    method.weights(activations, grads))
                maps[method.name], flags[method.name] = self._finish(
                    raw, _spatial_size(images), upsample, normalize)
            # Activations leave the graph only when a perturbation method needs them.
            return (activations if keep_activations else tf.zeros((0,))), maps, flags

        return tf.function(graph, input_signature=[self._image_spec, self._class_spec],
                           jit_compile=self.jit_compile)

    def _make_masked_graph(self, make_masks, h: int, w: int):
        def graph(images, maps, image_index, classes):
            masks = make_masks(maps, _spatial_size(images))
            inputs = tf.gather(images, image_index) * tf.cast(masks, images.dtype)
            _, logits = self._forward(inputs)
            return tf.gather(self._probabilities(logits), classes, axis=1, batch_dims=1)

        return tf.function(graph, input_signature=[
            self._image_spec, tf.TensorSpec((None, h, w), tf.float32),
            tf.TensorSpec((None,), tf.int32), tf.TensorSpec((None,), tf.int32)],
            jit_compile=self.jit_compile)

    def _masked_probabilities(self, images: tf.Tensor):
        """The ``probabilities`` function a perturbation method receives, for ``images``."""

        def probabilities(make_masks, maps, image_index, classes):
            """Probability of class ``classes[m]`` for image ``image_index[m]`` multiplied by
            ``make_masks(maps[m:m+1], (H, W))``, for every ``m``: float32 ``(M,)``.

            ``make_masks(maps (M, h, w), size) -> (M, H, W, 1)`` runs inside the graph, one
            chunk of masked inputs at a time (a pixel budget per call); with ``micro_batch``
            every chunk has the same shape.
            """
            m, h, w = (int(d) for d in maps.shape)
            if m == 0:
                return tf.zeros((0,), tf.float32)
            key = (make_masks, h, w)
            fn = self._masked_fns.get(key)
            if fn is None:
                fn = self._masked_fns[key] = self._make_masked_graph(make_masks, h, w)
            height, width = images.shape[1:3]
            chunk = max(1, min(_MASKED_MAX_CHUNK,
                               _MASKED_PIXEL_BUDGET // max(1, height * width)))
            return _in_chunks(lambda mm, ii, cc: fn(images, mm, ii, cc), chunk, m, maps,
                              tf.cast(image_index, tf.int32), tf.cast(classes, tf.int32),
                              pad=self.micro_batch is not None)

        return probabilities

    # ------------------------------------------------------------------ public API
    def predict(self, images) -> Predictions:
        """Logits and class probabilities for a batch ``(N, H, W, C)``."""
        images = self._check_images(images)
        if int(images.shape[0]) == 0:  # TensorFlow's CPU convolutions refuse empty batches
            return Predictions(np.zeros((0, self.head.n_units), np.float32),
                               np.zeros((0, self.n_classes), np.float32))
        logits, probs = _in_chunks(self._predict_fn, self.micro_batch, int(images.shape[0]),
                                   images)
        return Predictions(logits.numpy(), probs.numpy())

    def explain(self, images, class_idx, methods: Sequence[str] = DEFAULT_METHODS, *,
                upsample: bool = True, normalize: bool = True) -> CamMaps:
        """Class activation maps of ``class_idx[i]`` for every image ``images[i]``.

        Parameters
        ----------
        images : array-like, float, shape (N, H, W, C)
            Already preprocessed as the model expects.
        class_idx : array-like of int, shape (N,)
            The class each image's map explains.
        methods : sequence of str
            Names in the explainer's registry (by default :data:`audit.cams.METHODS`); the
            methods of shared-pass kinds share one forward and backward pass. Default:
            :data:`audit.cams.DEFAULT_METHODS`.
        upsample : bool
            Upsample bilinearly to the input's ``(H, W)``; else keep the layer's ``(h, w)``.
        normalize : bool
            Divide each map by its maximum so it lies in [0, 1] (an all-zero map stays zero).

        Returns
        -------
        CamMaps
            ``method -> float32 array (N, H, W)`` (or ``(N, h, w)``), in the order asked, with
            the degenerate flags per method.
        """
        methods = self._check_methods(methods)
        images = self._check_images(images)
        class_idx = self._check_classes(class_idx, images.shape[0])
        if int(images.shape[0]) == 0:
            return self._empty_maps(methods, upsample)
        shared = tuple(m.name for m in methods if m.shared_pass)
        others = [m for m in methods if not m.shared_pass]
        key = (shared, bool(upsample), bool(normalize), bool(others))
        fn = self._gradient_fns.get(key)
        if fn is None:
            fn = self._gradient_fns[key] = self._make_gradient_graph(*key)
        activations, maps, flags = _in_chunks(fn, self.micro_batch, int(images.shape[0]),
                                              images, class_idx)
        maps, flags = dict(maps), dict(flags)
        channels = dict(self._gradient_channels[key])
        for method in others:
            weights = method.weights(activations, images, class_idx,
                                     probabilities=self._masked_probabilities(images),
                                     max_channels=self.scorecam_max_channels)
            raw, channels[method.name] = _weigh(activations, weights)
            maps[method.name], flags[method.name] = self._finish(
                raw, _spatial_size(images), upsample, normalize)
        result = CamMaps(layer_name=self.layer_name,
                         channels={m.name: channels[m.name] for m in methods})
        for method in methods:
            result[method.name] = np.asarray(maps[method.name], dtype=np.float32)
            result.degenerate[method.name] = np.asarray(flags[method.name], dtype=bool)
        return result

    def _empty_maps(self, methods: tuple[CamMethod, ...], upsample: bool) -> CamMaps:
        """The maps of an empty batch: TensorFlow's CPU convolutions refuse one."""
        size = self.input_shape[:2] if upsample else self.layer_grid
        shape = (0, *(int(v or 0) for v in size))
        result = CamMaps(layer_name=self.layer_name, channels={m.name: None for m in methods})
        for method in methods:
            result[method.name] = np.zeros(shape, np.float32)
            result.degenerate[method.name] = np.zeros((0,), bool)
        return result

    # ------------------------------------------------------------------ input checks
    def _check_methods(self, methods: Sequence[str]) -> tuple[CamMethod, ...]:
        names = (methods,) if isinstance(methods, str) else tuple(methods)
        if not names:
            raise ValueError(f"methods must name at least one CAM method; received (). "
                             f"Allowed: {', '.join(self.registry)}.")
        if len(set(names)) != len(names):
            raise ValueError(f"methods must not repeat; received {names!r}.")
        return tuple(get_method(name, registry=self.registry) for name in names)

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
