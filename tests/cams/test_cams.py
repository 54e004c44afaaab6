"""The CAM engine against tf-keras-vis, a NumPy restatement of Grad-CAM++, and flat rebuilds."""

from __future__ import annotations

import io

import keras
import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from audit.cams import CamExplainer
from audit.cams.overlay import overlay_png
from audit.errors import ModelError

tfkv_gradcam = pytest.importorskip("tf_keras_vis.gradcam")
from tf_keras_vis.gradcam_plus_plus import GradcamPlusPlus  # noqa: E402
from tf_keras_vis.scorecam import Scorecam  # noqa: E402
from tf_keras_vis.utils.scores import BinaryScore, CategoricalScore  # noqa: E402

SIZE = 32


def _linear_head(model):
    """tf-keras-vis' ReplaceToLinear reads `output_names`, which Keras 3 dropped."""
    layer = model.layers[-1]
    if hasattr(layer, "activation"):
        layer.activation = keras.activations.linear


def _minmax(maps):
    low = maps.min(axis=(1, 2), keepdims=True)
    high = maps.max(axis=(1, 2), keepdims=True)
    return (maps - low) / np.where(high > low, high - low, 1.0)


def _rel_err(ref, mine):
    ref = np.asarray(ref)
    return float(np.max(np.abs(ref - mine)) / max(float(np.max(np.abs(ref))), 1e-12))


# ---------------------------------------------------------------------------- models
def _sequential(seed=1, activation="softmax"):
    keras.utils.set_random_seed(seed)
    return keras.Sequential([
        keras.Input((SIZE, SIZE, 3)),
        keras.layers.Conv2D(8, 3, activation="relu", name="conv1"),
        keras.layers.MaxPooling2D(name="pool1"),
        keras.layers.Conv2D(16, 3, activation="relu", name="conv2"),
        keras.layers.GlobalAveragePooling2D(name="gap"),
        keras.layers.Dense(3, activation=activation, name="head"),
    ], name="seq_cnn")


def _branched(seed=2):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((SIZE, SIZE, 3))
    x = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="stem")(inputs)
    a = keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="branch_a")(x)
    b = keras.layers.Conv2D(8, 1, padding="same", activation="relu", name="branch_b")(x)
    x = keras.layers.Add(name="merge")([a, b])
    x = keras.layers.Conv2D(12, 3, strides=2, activation="relu", name="last_conv")(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(4, name="logits")(x)  # linear: the output is the logits
    return keras.Model(inputs, outputs, name="branched")


def _softmax_layer_model(seed=3):
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((SIZE, SIZE, 3))
    x = keras.layers.Conv2D(8, 3, activation="relu", name="conv")(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dense(3, name="dense")(x)
    outputs = keras.layers.Softmax(name="softmax")(x)
    return keras.Model(inputs, outputs, name="separate_softmax")


@pytest.fixture(scope="module")
def images():
    rng = np.random.default_rng(0)
    return rng.random((6, SIZE, SIZE, 3), dtype=np.float32)


@pytest.fixture(scope="module")
def classes():
    return np.array([0, 1, 2, 0, 1, 2])


@pytest.fixture(scope="module")
def trained_cnn():
    """A small CNN trained until it is accurate: a red square (class 0) or a green one (1)."""
    rng = np.random.default_rng(7)
    n = 256
    x = rng.random((n, SIZE, SIZE, 3), dtype=np.float32) * 0.3
    y = rng.integers(0, 2, n)
    for i in range(n):
        r, c = rng.integers(0, SIZE - 8, 2)
        x[i, r:r + 8, c:c + 8, y[i]] += 0.7
    keras.utils.set_random_seed(7)
    model = keras.Sequential([
        keras.Input((SIZE, SIZE, 3)),
        keras.layers.Conv2D(8, 3, activation="relu", padding="same", name="c1"),
        keras.layers.MaxPooling2D(),
        keras.layers.Conv2D(16, 3, activation="relu", padding="same", name="c2"),
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(2, activation="softmax", name="out"),
    ], name="trained_cnn")
    model.compile(optimizer=keras.optimizers.Adam(0.01), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    history = model.fit(x, y, epochs=8, batch_size=32, verbose=0)
    assert history.history["accuracy"][-1] > 0.9, "the fixture model did not learn"
    return model, x[:8], y[:8]


# ---------------------------------------------------------------------------- vs tf-keras-vis
def _tfkv_gradcam(model, x, c, layer):
    cam = tfkv_gradcam.Gradcam(model, model_modifier=_linear_head, clone=True)
    return np.asarray(cam(CategoricalScore(list(c)), x, penultimate_layer=layer,
                          seek_penultimate_conv_layer=False, expand_cam=False,
                          normalize_cam=False))


@pytest.mark.parametrize("builder,layer", [
    (_sequential, "conv2"),
    (_sequential, "conv1"),
    (_branched, "last_conv"),
    (_branched, "merge"),  # not a convolution: tf-keras-vis must not seek another layer
])
def test_gradcam_raw_matches_tf_keras_vis(builder, layer, images, classes):
    model = builder()
    n_out = model.outputs[0].shape[-1]
    c = classes % n_out
    mine = CamExplainer(model, layer).explain(images, c, ("gradcam",), upsample=False,
                                              normalize=False)["gradcam"]
    ref = _tfkv_gradcam(model, images, c, layer)
    assert mine.shape == ref.shape
    assert _rel_err(ref, mine) < 1e-5


def test_gradcam_matches_on_trained_model(trained_cnn):
    model, x, y = trained_cnn
    mine = CamExplainer(model).explain(x, y, ("gradcam",), upsample=False,
                                       normalize=False)["gradcam"]
    ref = _tfkv_gradcam(model, x, y, "c2")
    assert _rel_err(ref, mine) < 1e-5
    assert np.all(mine.max(axis=(1, 2)) > 0)


def test_separate_softmax_layer_is_explained_through_its_input(images):
    model = _softmax_layer_model()
    ex = CamExplainer(model)
    assert (ex.head.activation, ex.head.tap) == ("softmax", "input")
    c = np.array([0, 1, 2, 0, 1, 2])
    mine = ex.explain(images, c, ("gradcam",), upsample=False, normalize=False)["gradcam"]
    # tf-keras-vis on the logits: drop the Softmax layer by hand.
    logits_model = keras.Model(model.inputs, model.get_layer("dense").output)
    ref = _tfkv_gradcam(logits_model, images, c, "conv")
    assert _rel_err(ref, mine) < 1e-5


@pytest.mark.parametrize("model_kind", ["sequential", "trained"])
def test_scorecam_matches_tf_keras_vis(model_kind, images, classes, trained_cnn):
    if model_kind == "trained":
        model, x, c = trained_cnn
        layer = "c2"
    else:
        model, x, c, layer = _sequential(), images, classes, "conv2"
    mine = CamExplainer(model, layer).explain(x, c, ("scorecam",), upsample=False,
                                              normalize=False)["scorecam"]
    ref = Scorecam(model, model_modifier=_linear_head)(
        CategoricalScore(list(c)), x, penultimate_layer=layer, seek_penultimate_conv_layer=False,
        expand_cam=False, normalize_cam=False)
    assert np.max(np.abs(_minmax(np.asarray(ref)) - _minmax(mine))) < 0.02


def test_scorecam_top_k_channels_matches_tf_keras_vis_per_image(trained_cnn):
    model, x, c = trained_cnn
    ex = CamExplainer(model, "c2", scorecam_max_channels=5)
    maps = ex.explain(x[:3], c[:3], ("scorecam",), upsample=False, normalize=False)
    assert maps.scorecam_channels == 5
    cam = Scorecam(model, model_modifier=_linear_head)
    for i in range(3):  # tf-keras-vis takes the union of channels over a batch: one at a time
        ref = cam(CategoricalScore([int(c[i])]), x[i:i + 1], penultimate_layer="c2",
                  seek_penultimate_conv_layer=False, expand_cam=False, normalize_cam=False,
                  max_N=5)
        assert np.max(np.abs(_minmax(np.asarray(ref)) - _minmax(maps["scorecam"][i:i + 1]))) < 0.02


def _gradcam_plus_plus_numpy(a, g):
    """DESIGN.md eq. 19 restated in NumPy."""
    g2, g3 = g**2, g**3
    sum_a = a.sum(axis=(1, 2), keepdims=True)
    denom = 2 * g2 + sum_a * g3
    alpha = np.where(denom != 0, g2 / np.where(denom != 0, denom, 1), 0.0)
    w = (np.maximum(g, 0) * alpha).sum(axis=(1, 2))
    return np.maximum(np.einsum("nhwk,nk->nhw", a, w), 0)


def _activations_and_grads(model, layer_name, x, c, head="out"):
    """A GradientTape written by hand on a flat model: the independent oracle."""
    layer = model.get_layer(layer_name)
    logits_layer = model.get_layer(head)
    probe = keras.Model(model.inputs, [layer.output, logits_layer.input])
    with tf.GradientTape() as tape:
        a, features = probe(x, training=False)
        tape.watch(a)
    # Recompute the head from `a` so the tape links logits to a.
    with tf.GradientTape() as tape:
        tape.watch(a)
        h = a
        started = False
        for lay in model.layers:
            if lay is layer:
                started = True
                continue
            if started:
                h = lay(h) if lay is not logits_layer else tf.matmul(h, lay.kernel) + lay.bias
        score = tf.reduce_sum(tf.gather(h, c, axis=1, batch_dims=1))
    return a.numpy(), tape.gradient(score, a).numpy()


def test_gradcam_plus_plus_matches_numpy_eq19_and_tf_keras_vis(trained_cnn):
    model, x, c = trained_cnn
    mine = CamExplainer(model, "c2").explain(x, c, ("gradcam++",), upsample=False,
                                             normalize=False)["gradcam++"]
    a, g = _activations_and_grads(model, "c2", x, c)
    ref = _gradcam_plus_plus_numpy(a, g)
    assert _rel_err(ref, mine) < 1e-5
    tfkv = GradcamPlusPlus(model, model_modifier=_linear_head, clone=True)(
        CategoricalScore(list(c)), x, penultimate_layer="c2", seek_penultimate_conv_layer=False,
        expand_cam=False, normalize_cam=False)
    assert np.max(np.abs(_minmax(np.asarray(tfkv)) - _minmax(mine))) < 0.05


def test_negative_is_gradcam_of_negated_gradient(trained_cnn):
    model, x, c = trained_cnn
    maps = CamExplainer(model, "c2").explain(x, c, ("gradcam", "negative"), upsample=False,
                                             normalize=False)
    a, g = _activations_and_grads(model, "c2", x, c)
    ref = np.maximum(np.einsum("nhwk,nk->nhw", a, -g.mean(axis=(1, 2))), 0)
    assert _rel_err(ref, maps["negative"]) < 1e-5


def _relu(t):
    return np.maximum(t, 0)


def _xgradcam_numpy(a, g):
    """XGrad-CAM (arXiv 2008.02312): w_k = sum_ij (A_ijk / sum_ij A_ijk) g_ijk, 0 on a zero sum."""
    total = a.sum(axis=(1, 2), keepdims=True)
    share = np.divide(a, total, out=np.zeros_like(a), where=total != 0)
    return _relu(np.einsum("nhwk,nk->nhw", a, (share * g).sum(axis=(1, 2))))


def _eigencam_numpy(a):
    """EigenCAM (arXiv 2008.00299), pytorch-grad-cam's centred projection; the sign that puts
    more of sum p|p| above zero."""
    maps = []
    for act in a:
        matrix = act.reshape(-1, act.shape[-1])
        matrix = matrix - matrix.mean(axis=0)
        _, _, vt = np.linalg.svd(matrix, full_matrices=False)
        projection = matrix @ vt[0]
        if np.sum(projection * np.abs(projection)) < 0:
            projection = -projection
        maps.append(_relu(projection).reshape(act.shape[:2]))
    return np.stack(maps)


NUMPY_METHODS = {
    "hirescam": lambda a, g: _relu((g * a).sum(axis=3)),  # Draelos & Carin, arXiv 2011.08891
    "xgradcam": _xgradcam_numpy,
    "layercam": lambda a, g: _relu((_relu(g) * a).sum(axis=3)),  # Jiang et al., IEEE TIP 2021
    "eigencam": lambda a, g: _eigencam_numpy(a),
}


@pytest.mark.parametrize("layer", ["c1", "c2"])
@pytest.mark.parametrize("method", sorted(NUMPY_METHODS))
def test_added_methods_match_numpy_restatements(method, layer, trained_cnn):
    model, x, c = trained_cnn
    maps = CamExplainer(model, layer).explain(x, c, (method,), upsample=False, normalize=False)
    a, g = _activations_and_grads(model, layer, x.astype(np.float32), c)
    expected = NUMPY_METHODS[method](a.astype(np.float64), g.astype(np.float64))
    assert np.all(expected.max(axis=(1, 2)) > 0)
    assert _rel_err(expected, maps[method]) < 1e-5


def test_hirescam_is_gradcam_only_behind_global_average_pooling(trained_cnn):
    model, x, c = trained_cnn
    for layer, same in (("c2", True), ("c1", False)):
        maps = CamExplainer(model, layer).explain(x, c, ("gradcam", "hirescam"), upsample=False,
                                                  normalize=False)
        assert (_rel_err(maps["gradcam"], maps["hirescam"]) < 1e-5) == same, layer


def test_eigencam_is_class_agnostic_and_needs_no_backward_pass(trained_cnn):
    model, x, _ = trained_cnn
    ex = CamExplainer(model)
    zeros = ex.explain(x, np.zeros(len(x), int), ("eigencam",))
    ones = ex.explain(x, np.ones(len(x), int), ("eigencam",))
    np.testing.assert_array_equal(zeros["eigencam"], ones["eigencam"])
    ex.explain(x, np.zeros(len(x), int), ("gradcam",))

    def backward_ops(methods):
        graph = ex._gradient_fns[(methods, True, True, False)].get_concrete_function().graph
        return [op.type for op in graph.get_operations() if op.type.endswith("Grad")]

    assert backward_ops(("gradcam",))  # the check sees a backward pass where there is one
    assert backward_ops(("eigencam",)) == []


# ---------------------------------------------------------------------------- nested models
@pytest.fixture(scope="module")
def nested_mobilenet():
    keras.utils.set_random_seed(4)
    base = keras.applications.MobileNetV2(weights=None, include_top=False,
                                          input_shape=(96, 96, 3), alpha=0.35)
    model = keras.Sequential([
        keras.Input((96, 96, 3)), base, keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(3, activation="softmax", name="head"),
    ], name="transfer")
    return model, base


def test_nested_backbone_auto_layer_and_flat_rebuild(nested_mobilenet):
    model, base = nested_mobilenet
    ex = CamExplainer(model)
    assert ex.layer_name == f"{base.name}/out_relu"
    x = np.random.default_rng(1).random((3, 96, 96, 3), dtype=np.float32)
    c = np.array([0, 1, 2])
    maps = ex.explain(x, c, ("gradcam", "gradcam++"), upsample=False, normalize=False)
    # The same network rebuilt flat: the backbone's graph with the head applied to it.
    flat = keras.Model(base.inputs, [base.get_layer("out_relu").output])
    with tf.GradientTape() as tape:
        a = flat(x, training=False)
        tape.watch(a)
        pooled = tf.reduce_mean(a, axis=(1, 2))
        head = model.get_layer("head")
        logits = tf.matmul(pooled, head.kernel) + head.bias
        score = tf.reduce_sum(tf.gather(logits, c, axis=1, batch_dims=1))
    g = tape.gradient(score, a).numpy()
    a = a.numpy()
    ref = np.maximum(np.einsum("nhwk,nk->nhw", a, g.mean(axis=(1, 2))), 0)
    assert _rel_err(ref, maps["gradcam"]) < 1e-5
    assert _rel_err(_gradcam_plus_plus_numpy(a, g), maps["gradcam++"]) < 1e-5


def test_nested_layer_by_path_and_by_bare_name(nested_mobilenet):
    model, base = nested_mobilenet
    by_path = CamExplainer(model, f"{base.name}/block_13_expand_relu")
    by_name = CamExplainer(model, "block_13_expand_relu")
    assert by_path.layer_name == by_name.layer_name == f"{base.name}/block_13_expand_relu"
    x = np.random.default_rng(2).random((2, 96, 96, 3), dtype=np.float32)
    maps = by_path.explain(x, np.array([0, 1]), ("gradcam",), upsample=False, normalize=False)
    assert maps["gradcam"].shape == (2, 6, 6)


# ---------------------------------------------------------------------------- conventions
def test_sigmoid_binary_class0_is_negated_logit():
    keras.utils.set_random_seed(5)
    model = keras.Sequential([
        keras.Input((SIZE, SIZE, 3)), keras.layers.Conv2D(6, 3, activation="relu", name="conv"),
        keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(1, activation="sigmoid"),
    ])
    x = np.random.default_rng(3).random((4, SIZE, SIZE, 3), dtype=np.float32)
    ex = CamExplainer(model)
    assert ex.n_classes == 2 and ex.head.activation == "sigmoid"
    class0 = ex.explain(x, np.zeros(4, int), ("gradcam",), upsample=False, normalize=False)
    class1 = ex.explain(x, np.ones(4, int), ("negative",), upsample=False, normalize=False)
    np.testing.assert_allclose(class0["gradcam"], class1["negative"], rtol=1e-6, atol=1e-7)
    ref = np.asarray(tfkv_gradcam.Gradcam(model, model_modifier=_linear_head, clone=True)(
        BinaryScore([1, 1, 1, 1]), x, penultimate_layer="conv", seek_penultimate_conv_layer=False,
        expand_cam=False, normalize_cam=False))
    mine = ex.explain(x, np.ones(4, int), ("gradcam",), upsample=False, normalize=False)["gradcam"]
    assert _rel_err(ref, mine) < 1e-5
    probs = ex.predict(x).probabilities
    np.testing.assert_allclose(probs[:, 1], model.predict(x, verbose=0)[:, 0], rtol=1e-5)


def test_user_model_is_left_unchanged(images, classes):
    model = _sequential()
    before = model.predict(images, verbose=0)
    ex = CamExplainer(model)
    ex.explain(images, classes)
    head = model.get_layer("head")
    assert "call" not in vars(head) and "call" not in vars(model.get_layer("conv2"))
    assert head.activation.__name__ == "softmax"
    np.testing.assert_allclose(model.predict(images, verbose=0), before, rtol=1e-6)
    np.testing.assert_allclose(ex.predict(images).probabilities, before, rtol=1e-5, atol=1e-7)


def test_maps_are_nonnegative_shaped_normalised_and_class_specific(trained_cnn):
    model, x, _ = trained_cnn
    ex = CamExplainer(model)
    maps0 = ex.explain(x, np.zeros(len(x), int))
    maps1 = ex.explain(x, np.ones(len(x), int))
    for method, m in maps0.items():
        assert m.shape == (len(x), SIZE, SIZE) and m.dtype == np.float32
        assert np.all(m >= 0) and np.all(m <= 1) and np.all(np.isfinite(m))
        peaks = m.max(axis=(1, 2))
        assert np.allclose(peaks[~maps0.degenerate[method]], 1.0)
        assert not np.allclose(m, maps1[method]), method
    raw = ex.explain(x, np.zeros(len(x), int), upsample=False, normalize=False)
    assert raw["gradcam"].shape == (len(x), 16, 16)


def test_degenerate_map_stays_zero_and_is_flagged(images):
    keras.utils.set_random_seed(6)
    model = keras.Sequential([
        keras.Input((SIZE, SIZE, 3)),
        keras.layers.Conv2D(4, 3, activation="relu", name="dead", kernel_initializer="zeros",
                            bias_initializer=keras.initializers.Constant(-1.0)),
        keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(3, activation="softmax"),
    ])
    maps = CamExplainer(model).explain(images, np.zeros(len(images), int))
    for method, m in maps.items():
        assert np.all(m == 0), method
        assert maps.degenerate[method].all(), method


def test_no_retracing_across_batch_sizes(trained_cnn):
    model, x, y = trained_cnn
    ex = CamExplainer(model)
    for n in (1, 3, 8, 5):
        ex.explain(x[:n], y[:n], ("gradcam", "gradcam++", "negative"))
        ex.predict(x[:n])
    fn = ex._gradient_fns[(("gradcam", "gradcam++", "negative"), True, True, False)]
    assert fn.experimental_get_tracing_count() == 1
    assert ex._predict_fn.experimental_get_tracing_count() == 1


def test_gradient_methods_share_one_pass(trained_cnn):
    model, x, y = trained_cnn
    ex = CamExplainer(model)
    together = ex.explain(x, y, ("gradcam", "gradcam++", "negative"))
    assert list(ex._gradient_fns) == [(("gradcam", "gradcam++", "negative"), True, True, False)]
    for method in together:
        alone = CamExplainer(model).explain(x, y, (method,))
        np.testing.assert_allclose(together[method], alone[method], atol=1e-6)


# ---------------------------------------------------------------------------- errors
def test_unknown_layer_lists_candidates():
    with pytest.raises(ModelError, match=r"no layer 'nope'.*'conv1', 'pool1', 'conv2'"):
        CamExplainer(_sequential(), "nope")


def test_non_spatial_layer_says_why():
    with pytest.raises(ModelError, match=r"'gap' cannot be explained: its output shape is "
                                         r"\(None, 16\)"):
        CamExplainer(_sequential(), "gap")


def test_model_without_spatial_layer():
    model = keras.Sequential([keras.Input((10,)), keras.layers.Dense(3, activation="softmax")])
    with pytest.raises((ModelError, ValueError)):
        CamExplainer(model)


def test_bad_inputs_are_named(trained_cnn):
    model, x, y = trained_cnn
    ex = CamExplainer(model)
    with pytest.raises(ValueError, match=r"images must have shape \(N, 32, 32, 3\)"):
        ex.explain(x[:, :16], y)
    with pytest.raises(ValueError, match=r"class_idx must lie in \[0, 1\]"):
        ex.explain(x, np.full(len(x), 5))
    with pytest.raises(ValueError, match="Unknown CAM method"):
        ex.explain(x, y, ("gradcam", "lime"))


# ---------------------------------------------------------------------------- overlay
def test_overlay_png_decodes_with_boxes():
    image = np.full((40, 60, 3), 128, np.uint8)
    heat = np.zeros((5, 5), np.float32)
    heat[2, 2] = 1.0
    png = overlay_png(image, heat, boxes=[(10, 5, 30, 25)], size=(80, 120))
    decoded = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
    assert decoded.shape == (80, 120, 3)
    assert tuple(decoded[10, 30]) == (255, 255, 255)  # box outline, scaled by 2
    with pytest.raises(ValueError, match="heatmap must be 2-D"):
        overlay_png(image, np.zeros((2, 2, 2)))


def test_micro_batch_makes_results_independent_of_batching(trained_cnn):
    model, x, y = trained_cnn
    ex = CamExplainer(model, micro_batch=4, scorecam_max_channels=6)
    methods = ("gradcam", "gradcam++", "scorecam", "negative")
    whole = ex.explain(x, y, methods)
    first, rest = ex.explain(x[:3], y[:3], methods), ex.explain(x[3:], y[3:], methods)
    for method in methods:
        np.testing.assert_array_equal(whole[method],
                                      np.concatenate([first[method], rest[method]]))
    probs = ex.predict(x).probabilities
    np.testing.assert_array_equal(probs, np.concatenate([ex.predict(x[:5]).probabilities,
                                                         ex.predict(x[5:]).probabilities]))
