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

Around the explainer: what it returns (:mod:`audit.cams.results`), fixed-shape model calls
(:mod:`audit.cams.batching`), the input checks (:mod:`audit.cams.checks`) and the default
layer of a vision transformer (:mod:`audit.cams.token_layer`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import tensorflow as tf

from audit.cams.base import CamMethod, WeightedActivations
from audit.cams.batching import in_chunks
from audit.cams.checks import (
    check_classes,
    check_images,
    check_methods,
    check_registry,
    check_targets,
)
from audit.cams.head import Head, find_head, select_output
from audit.cams.layers import ExplainedLayer, output_shape, resolve_layer
from audit.cams.methods import DEFAULT_METHODS, METHODS
from audit.cams.postprocess import finish, per_target, spatial_size, weigh
from audit.cams.results import NO_TARGET, PREDICTED, CamMaps, Explanation, Predictions
from audit.cams.taps import single, tap
from audit.cams.token_layer import patch_tokens_reach_score, trailing_token_layers
from audit.cams.tokens import TokenGrid
from audit.errors import ModelError

__all__ = ["NO_TARGET", "PREDICTED", "CamExplainer", "CamMaps", "Explanation", "Predictions"]

# Masked inputs per forward call of a perturbation method, as a pixel budget: 64 images of
# 224 x 224.
_MASKED_PIXEL_BUDGET = 64 * 224 * 224
_MASKED_MAX_CHUNK = 256  # the last chunk is padded to full size: keep the waste small


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
            self._explained = patch_tokens_reach_score(
                self._network, self.head,
                trailing_token_layers(self._network, tokens=self.tokens,
                                      image_size=input_shape[1:3]),
                self.input_shape, self._dtype)
        self.layer_name, self._layer = self._explained.path, self._explained.layer
        self._init_args = dict(scorecam_max_channels=scorecam_max_channels,
                               micro_batch=micro_batch, jit_compile=jit_compile,
                               registry=registry)
        if scorecam_max_channels is not None and int(scorecam_max_channels) < 1:
            raise ValueError(f"scorecam_max_channels must be a positive integer or None; "
                             f"got {scorecam_max_channels!r}.")
        self.scorecam_max_channels = scorecam_max_channels
        if micro_batch is not None and int(micro_batch) < 1:
            raise ValueError(f"micro_batch must be a positive integer or None; got "
                             f"{micro_batch!r}.")
        self.micro_batch = None if micro_batch is None else int(micro_batch)
        self.jit_compile = bool(jit_compile)
        self.registry = METHODS if registry is None else check_registry(registry)
        self._image_spec = tf.TensorSpec((None, *self.input_shape), self._dtype)
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

    def _to_grid(self, tensor: tf.Tensor) -> tf.Tensor:
        """A token layer's ``(N, tokens, C)`` as its grid ``(N, h, w, C)``; else as it is."""
        layout = self._explained.tokens
        return tensor if layout is None else layout.to_grid(tensor)

    def _make_gradient_graph(self, names: tuple[str, ...], upsample: bool, normalize: bool,
                             keep_activations: bool, n_targets: int):
        """The shared pass: the logits, the probabilities, the predicted class and every
        shared-pass method in ``names`` for ``n_targets`` target slots per image, from one
        forward pass and (when one of the methods needs it) one backward pass per slot."""
        methods = [self.registry[name] for name in names]
        uses_gradients = any(method.uses_gradients for method in methods)
        channels = self._gradient_channels.setdefault(
            (names, upsample, normalize, keep_activations), {})

        def graph(images, targets):
            # One tape for every slot: the forward pass runs once; each slot's score has its
            # own backward pass (a persistent tape when there are several). That measured
            # faster than a batch Jacobian over the slots' scores (docs/benchmarks.md).
            with tf.GradientTape(persistent=n_targets > 1,
                                 watch_accessed_variables=False) as tape:
                layer_output, logits = self._forward(images, on_activation=tape.watch)
                probabilities = self._probabilities(logits)
                predicted = tf.argmax(probabilities, axis=1, output_type=tf.int32)
                classes = tf.where(targets >= 0, targets, predicted[:, None])
                scores = [tf.reduce_sum(self._class_score(logits, classes[:, t]))
                          for t in range(n_targets)]
            # The gradient is taken with respect to the layer's output in its own dtype (float16
            # or bfloat16 under a mixed-precision policy): a float32 copy made after the pass
            # is not on the path to the score. Both are cast to float32 afterwards.
            # A token layer's output and gradient become the grid (N, h, w, C) here: the
            # gradient is taken with respect to the tokens the model computed, then reshaped.
            grads = [None] * n_targets
            if uses_gradients:
                grads = [self._to_grid(tf.cast(tape.gradient(score, layer_output), tf.float32))
                         for score in scores]
            del tape
            activations = self._to_grid(tf.cast(layer_output, tf.float32))
            maps, flags = {}, {}
            for method in methods:
                per_slot = []
                for t in range(n_targets):
                    if t and not method.uses_gradients:  # the same weights for every slot
                        per_slot.append(per_slot[0])
                        continue
                    raw, channels[method.name] = weigh(activations,
                                                       method.weights(activations, grads[t]))
                    per_slot.append(finish(raw, spatial_size(images), resize=upsample,
                                           normalize=normalize))
                maps[method.name] = tf.stack([m for m, _ in per_slot], axis=1)
                flags[method.name] = tf.stack([f for _, f in per_slot], axis=1)
            # Activations leave the graph only when a perturbation method needs them.
            return (logits, probabilities, classes,
                    activations if keep_activations else tf.zeros((0,)), maps, flags)

        return tf.function(graph, input_signature=[
            self._image_spec, tf.TensorSpec((None, n_targets), tf.int32)],
            jit_compile=self.jit_compile)

    def _make_masked_graph(self, make_masks, h: int, w: int, n_targets: int | None):
        def graph(images, maps, image_index, classes):
            masks = make_masks(maps, spatial_size(images))
            inputs = tf.gather(images, image_index) * tf.cast(masks, images.dtype)
            _, logits = self._forward(inputs)
            # Every target class's probability from the same masked pass.
            return tf.gather(self._probabilities(logits), classes, axis=1, batch_dims=1)

        classes = (None,) if n_targets is None else (None, n_targets)
        return tf.function(graph, input_signature=[
            self._image_spec, tf.TensorSpec((None, h, w), tf.float32),
            tf.TensorSpec((None,), tf.int32), tf.TensorSpec(classes, tf.int32)],
            jit_compile=self.jit_compile)

    def _masked_probabilities(self, images: tf.Tensor):
        """The ``probabilities`` function a perturbation method receives, for ``images``."""

        def probabilities(make_masks, maps, image_index, classes):
            """Probability of class ``classes[m]`` for image ``image_index[m]`` multiplied by
            ``make_masks(maps[m:m+1], (H, W))``, for every ``m``: float32 ``(M,)``; with
            ``classes`` of shape ``(M, T)`` (several targets per image), the probability of
            each, ``(M, T)``, from the same masked passes.

            ``make_masks(maps (M, h, w), size) -> (M, H, W, 1)`` runs inside the graph, one
            chunk of masked inputs at a time (a pixel budget per call); with ``micro_batch``
            every chunk has the same shape.
            """
            m, h, w = (int(d) for d in maps.shape)
            classes = tf.cast(classes, tf.int32)
            n_targets = None if classes.shape.rank == 1 else int(classes.shape[1])
            if m == 0:
                return tf.zeros((0,) if n_targets is None else (0, n_targets), tf.float32)
            key = (make_masks, h, w, n_targets)
            fn = self._masked_fns.get(key)
            if fn is None:
                fn = self._masked_fns[key] = self._make_masked_graph(make_masks, h, w,
                                                                     n_targets)
            height, width = images.shape[1:3]
            chunk = max(1, min(_MASKED_MAX_CHUNK,
                               _MASKED_PIXEL_BUDGET // max(1, height * width)))
            return in_chunks(lambda mm, ii, cc: fn(images, mm, ii, cc), chunk, m, maps,
                             tf.cast(image_index, tf.int32), classes,
                             pad=self.micro_batch is not None)

        return probabilities

    # ------------------------------------------------------------------ public API
    def predict(self, images) -> Predictions:
        """Logits and class probabilities for a batch ``(N, H, W, C)``."""
        images = self._check_images(images)
        if int(images.shape[0]) == 0:  # TensorFlow's CPU convolutions refuse empty batches
            return self._empty_predictions()
        logits, probs = in_chunks(self._predict_fn, self.micro_batch, int(images.shape[0]),
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

        See Also
        --------
        explain_targets : several classes per image, and the predictions, from one pass.
        """
        methods = check_methods(methods, self.registry)
        images = self._check_images(images)
        class_idx = check_classes(class_idx, images.shape[0], n_classes=self.n_classes)
        if int(images.shape[0]) == 0:
            return self._empty_maps(methods, upsample)
        return self._explain(images, class_idx[:, None], methods, upsample=upsample,
                             normalize=normalize).target(0)

    def explain_targets(self, images, targets, methods: Sequence[str] = DEFAULT_METHODS, *,
                        upsample: bool = True, normalize: bool = True) -> Explanation:
        """The predictions and the maps of several target classes per image, all from one
        forward pass per micro-batch.

        The explained layer's activations, the logits and the probabilities come out of the
        same call; a :data:`PREDICTED` target is resolved to the class predicted from them;
        each target's gradient follows from the same tape, and a perturbation method
        (Score-CAM) runs its masked passes once per image, reading every target class's
        probability from them. Each map is bit-identical to :meth:`explain` of its class,
        and the predictions to :meth:`predict`.

        Parameters
        ----------
        images : array-like, float, shape (N, H, W, C)
        targets : array-like of int, shape (N, T), or a sequence of N sequences
            Per image, the classes to explain: a class index, :data:`PREDICTED` (the class
            the model predicts) or :data:`NO_TARGET` (no map: pads a shorter list). Ragged
            lists are padded with :data:`NO_TARGET`.
        methods, upsample, normalize
            As in :meth:`explain`.

        Returns
        -------
        Explanation
            ``predictions``, the resolved ``classes (N, T)`` and ``maps``
            (``method -> (N, T, H, W)``); ``Explanation.target(t, rows)`` gives one slot's
            maps as :class:`CamMaps`.

        Examples
        --------
        >>> out = ex.explain_targets(images, [[PREDICTED, 3], [PREDICTED]])  # doctest: +SKIP
        >>> out.classes                                                      # doctest: +SKIP
        array([[ 1,  3],
               [ 0, -2]])
        """
        methods = check_methods(methods, self.registry)
        images = self._check_images(images)
        targets = check_targets(targets, images.shape[0], n_classes=self.n_classes)
        if int(images.shape[0]) == 0:
            slots = (int(targets.shape[1]),)
            return Explanation(self._empty_predictions(), np.zeros((0, *slots), np.int64),
                               self._empty_maps(methods, upsample, slots))
        return self._explain(images, targets, methods, upsample=upsample, normalize=normalize)

    def _explain(self, images: tf.Tensor, targets: tf.Tensor, methods: tuple[CamMethod, ...],
                 *, upsample: bool, normalize: bool) -> Explanation:
        shared = tuple(m.name for m in methods if m.shared_pass)
        others = [m for m in methods if not m.shared_pass]
        n_targets = int(targets.shape[1])
        key = (shared, bool(upsample), bool(normalize), bool(others))
        # One graph per set of options, and per number of targets when there are several.
        graph_key = key if n_targets == 1 else (*key, n_targets)
        fn = self._gradient_fns.get(graph_key)
        if fn is None:
            fn = self._gradient_fns[graph_key] = self._make_gradient_graph(*key, n_targets)
        logits, probs, classes, activations, maps, flags = in_chunks(
            fn, self.micro_batch, int(images.shape[0]), images, targets)
        maps, flags = dict(maps), dict(flags)
        channels = dict(self._gradient_channels[key])
        for method in others:
            weights = method.weights(activations, images, classes,
                                     probabilities=self._masked_probabilities(images),
                                     max_channels=self.scorecam_max_channels)
            kept, weights = ((weights.activations, weights.weights)
                             if isinstance(weights, WeightedActivations)
                             else (activations, weights))
            weights = per_target(weights, kept, n_targets, method.name)
            per_slot = []
            for t in range(n_targets):
                raw, channels[method.name] = weigh(kept, weights[:, t])
                per_slot.append(finish(raw, spatial_size(images), resize=upsample,
                                       normalize=normalize))
            maps[method.name] = tf.stack([m for m, _ in per_slot], axis=1)
            flags[method.name] = tf.stack([f for _, f in per_slot], axis=1)
        result = CamMaps(layer_name=self.layer_name,
                         channels={m.name: channels[m.name] for m in methods})
        for method in methods:
            result[method.name] = np.asarray(maps[method.name], dtype=np.float32)
            result.degenerate[method.name] = np.asarray(flags[method.name], dtype=bool)
        resolved = np.asarray(classes, dtype=np.int64)
        resolved[np.asarray(targets) == NO_TARGET] = NO_TARGET
        return Explanation(Predictions(logits.numpy(), probs.numpy()), resolved, result)

    def _empty_predictions(self) -> Predictions:
        return Predictions(np.zeros((0, self.head.n_units), np.float32),
                           np.zeros((0, self.n_classes), np.float32))

    def _empty_maps(self, methods: tuple[CamMethod, ...], upsample: bool,
                    slots: tuple = ()) -> CamMaps:
        """The maps of an empty batch (``(0, *slots, H, W)``): TensorFlow's CPU convolutions
        refuse one."""
        size = self.input_shape[:2] if upsample else self.layer_grid
        shape = (0, *slots, *(int(v or 0) for v in size))
        result = CamMaps(layer_name=self.layer_name, channels={m.name: None for m in methods})
        for method in methods:
            result[method.name] = np.zeros(shape, np.float32)
            result.degenerate[method.name] = np.zeros((0, *slots), bool)
        return result

    # ------------------------------------------------------------------ input checks
    def _check_images(self, images) -> tf.Tensor:
        return check_images(images, input_shape=self.input_shape, dtype=self._dtype,
                            model_name=self.model.name)
