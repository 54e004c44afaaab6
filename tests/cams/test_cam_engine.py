"""The engine is driven by the registry: a method defined here, outside the package, runs
through the unchanged engine."""

from __future__ import annotations

import keras
import numpy as np
import pytest
import tensorflow as tf

from audit.cams import METHODS, CamExplainer, CamMethod
from audit.cams.methods import make_registry
from audit.cams.postprocess import combine, upsample

SIZE = 16


def _small_cnn(seed=11):
    keras.utils.set_random_seed(seed)
    return keras.Sequential([
        keras.Input((SIZE, SIZE, 3)),
        keras.layers.Conv2D(6, 3, activation="relu", padding="same", name="c1"),
        keras.layers.MaxPooling2D(),
        keras.layers.Conv2D(5, 3, activation="relu", padding="same", name="c2"),
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(3, activation="softmax", name="out"),
    ], name="small_cnn")


@pytest.fixture(scope="module")
def batch():
    rng = np.random.default_rng(3)
    return rng.random((4, SIZE, SIZE, 3), dtype=np.float32), np.array([0, 1, 2, 1])


def _oracle(model, x, c):
    """Activations of ``c2`` and the gradient of the target logit, by a hand-written tape."""
    a = keras.Model(model.inputs, model.get_layer("c2").output)(x, training=False)
    head = model.get_layer("out")
    with tf.GradientTape() as tape:
        tape.watch(a)
        logits = tf.matmul(tf.reduce_mean(a, axis=(1, 2)), head.kernel) + head.bias
        score = tf.reduce_sum(tf.gather(logits, c, axis=1, batch_dims=1))
    return a.numpy(), tape.gradient(score, a).numpy()


# ---------------------------------------------------------------------------- a test method
def _mean_product_weights(activations, grads):
    """A made-up gradient method: ``w_k = mean_ij g_ijk A_ijk``."""
    return tf.reduce_mean(grads * activations, axis=(1, 2))


MEAN_PRODUCT = CamMethod(name="mean-product", title="Mean product", kind="gradient",
                         weights=_mean_product_weights, fixation=True, order=15)


def _binary_masks(maps, size):
    return tf.cast(upsample(maps, size)[..., None] > 0, tf.float32)


def _occlusion_weights(activations, images, class_idx, *, probabilities, max_channels):
    """A made-up perturbation method: the class probability with the input kept only where a
    channel is positive."""
    del images, max_channels
    n, h, w, k = activations.shape
    maps = tf.reshape(tf.transpose(activations, (0, 3, 1, 2)), (n * k, h, w))
    index = tf.repeat(tf.range(n), k)
    scores = probabilities(_binary_masks, maps, index, tf.gather(class_idx, index))
    return tf.reshape(scores, (n, k))


OCCLUSION = CamMethod(name="keep-positive", title="Keep positive", kind="perturbation",
                      weights=_occlusion_weights, fixation=False, order=95)


def test_methods_defined_outside_the_package_run_through_the_engine(batch):
    model = _small_cnn()
    x, c = batch
    registry = make_registry([*METHODS.values(), MEAN_PRODUCT, OCCLUSION])
    ex = CamExplainer(model, registry=registry, micro_batch=3)
    maps = ex.explain(x, c, ("gradcam", "mean-product", "keep-positive"), upsample=False,
                      normalize=False)
    assert list(ex._gradient_fns) == [(("gradcam", "mean-product"), False, False, True)]
    assert maps.channels == {"gradcam": 5, "mean-product": 5, "keep-positive": 5}
    assert maps.scorecam_channels is None
    assert all(m.max() > 0 for m in maps.values())

    a, g = _oracle(model, x, c)
    expected = np.maximum(np.einsum("nhwk,nk->nhw", a, (g * a).mean(axis=(1, 2))), 0)
    np.testing.assert_allclose(maps["mean-product"], expected, rtol=1e-5, atol=1e-6)

    # Keep-positive restated: one model call per (image, channel) on the masked image.
    masks = np.asarray(upsample(np.moveaxis(a, 3, 1).reshape(-1, *a.shape[1:3]), (SIZE, SIZE)))
    masked = np.repeat(x, a.shape[3], axis=0) * (masks > 0)[..., None]
    probs = model.predict(masked, verbose=0).reshape(len(x), a.shape[3], -1)
    weights = probs[np.arange(len(x)), :, c]
    expected = np.maximum(np.einsum("nhwk,nk->nhw", a, weights), 0)
    np.testing.assert_allclose(maps["keep-positive"], expected, rtol=1e-5, atol=1e-6)


def test_default_registry_does_not_know_a_test_method(batch):
    x, c = batch
    with pytest.raises(ValueError) as info:
        CamExplainer(_small_cnn()).explain(x, c, ("mean-product",))
    assert str(info.value) == ("Unknown CAM method; got 'mean-product'. Allowed: gradcam, "
                               "gradcam++, xgradcam, hirescam, layercam, scorecam, eigencam, "
                               "negative.")


def test_method_list_errors(batch):
    x, c = batch
    ex = CamExplainer(_small_cnn())
    with pytest.raises(ValueError) as info:
        ex.explain(x, c, ())
    assert str(info.value) == ("methods must name at least one CAM method; got (). "
                               "Allowed: gradcam, gradcam++, xgradcam, hirescam, layercam, "
                               "scorecam, eigencam, negative.")
    with pytest.raises(ValueError) as info:
        ex.explain(x, c, ("gradcam", "negative", "gradcam"))
    assert str(info.value) == ("methods must not repeat; got ('gradcam', 'negative', "
                               "'gradcam').")
    assert list(ex.explain(x, c, "negative")) == ["negative"]


def test_registry_must_map_names_to_their_methods():
    with pytest.raises(ValueError) as info:
        CamExplainer(_small_cnn(), registry={"toy": MEAN_PRODUCT})
    assert str(info.value) == ("registry must map each name to the CamMethod of that name; "
                               f"got 'toy' -> {MEAN_PRODUCT!r}.")
    with pytest.raises(ValueError) as info:
        CamExplainer(_small_cnn(), registry={})
    assert str(info.value) == ("registry must be a non-empty mapping of name -> CamMethod; "
                               "got dict.")


# ---------------------------------------------------------------------------- mixed precision
def _mixed_cnn(dtype, head, seed=2):
    """A CNN whose layers compute in ``dtype``, with a float32 softmax (the usual GPU setup).

    The policy is given per layer, never globally: Keras' global dtype policy would leak into
    every later test.
    """
    keras.utils.set_random_seed(seed)
    layers = [
        keras.Input((32, 32, 3)),
        keras.layers.Conv2D(8, 3, activation="relu", name="conv1", dtype=dtype),
        keras.layers.MaxPooling2D(dtype=dtype),
        keras.layers.Conv2D(16, 3, activation="relu", name="conv2", dtype=dtype),
        keras.layers.GlobalAveragePooling2D(dtype=dtype),
    ]
    if head == "activation":
        layers += [keras.layers.Dense(3, dtype=dtype),
                   keras.layers.Activation("softmax", dtype="float32")]
    else:
        layers += [keras.layers.Dense(3, activation="softmax", dtype="float32")]
    return keras.Sequential(layers)


# Largest difference between a float32 model's maps (scaled to [0, 1]) and the same weights'
# maps under a mixed policy, measured over 6 seeds, both heads, raw and upsampled maps, every
# registered method: with float16 0.0055 (Grad-CAM, HiResCAM, XGrad-CAM; EigenCAM 0.0040,
# negative 0.0031, Grad-CAM++ and LayerCAM 0.0021, Score-CAM 0.0006); with bfloat16 (8-bit
# mantissa) 0.064 (EigenCAM; Grad-CAM, HiResCAM, XGrad-CAM 0.045, negative 0.030, Score-CAM
# 0.0047). Class probabilities: 9e-5 and 9.4e-4. The tolerances leave about 2x headroom.
MIXED_TOLERANCE = {"mixed_float16": 0.01, "mixed_bfloat16": 0.12}
MIXED_PROBABILITY_TOLERANCE = {"mixed_float16": 5e-4, "mixed_bfloat16": 5e-3}


@pytest.mark.parametrize("policy,head", [("mixed_float16", "activation"),
                                         ("mixed_bfloat16", "dense")])
def test_mixed_precision_maps_agree_with_float32(policy, head):
    """The same weights in float32 and under a mixed policy: every method's maps agree within
    0.01 (float16) or 0.12 (bfloat16) of the [0, 1] scale; measured worst 0.0055 and 0.064."""
    reference = _mixed_cnn("float32", head)
    mixed = _mixed_cnn(policy, head)
    mixed.set_weights(reference.get_weights())
    assert mixed.get_layer("conv2").compute_dtype == policy.removeprefix("mixed_")
    x = np.random.default_rng(5).random((6, 32, 32, 3), dtype=np.float32)
    c = np.arange(6) % 3
    methods = tuple(METHODS)
    expected = CamExplainer(reference, scorecam_max_channels=8).explain(x, c, methods)
    maps = CamExplainer(mixed, scorecam_max_channels=8).explain(x, c, methods)
    for method in methods:
        assert maps[method].dtype == np.float32
        assert not expected.degenerate[method].all(), method
        np.testing.assert_array_equal(maps.degenerate[method], expected.degenerate[method])
        difference = np.max(np.abs(maps[method] - expected[method]))
        assert difference < MIXED_TOLERANCE[policy], (method, difference)

    predictions = CamExplainer(mixed).predict(x)
    assert predictions.logits.dtype == predictions.probabilities.dtype == np.float32
    difference = np.max(np.abs(predictions.probabilities
                               - CamExplainer(reference).predict(x).probabilities))
    assert difference < MIXED_PROBABILITY_TOLERANCE[policy]
    assert keras.config.dtype_policy().name == "float32"


# ---------------------------------------------------------------------------- XLA
def test_xla_compiled_graphs_give_the_same_maps(batch):
    model = _small_cnn()
    x, c = batch
    methods = tuple(METHODS)
    plain = CamExplainer(model, scorecam_max_channels=3, micro_batch=3)
    xla = CamExplainer(model, scorecam_max_channels=3, micro_batch=3, jit_compile=True)
    assert (plain.jit_compile, xla.jit_compile) == (False, True)
    expected, maps = plain.explain(x, c, methods), xla.explain(x, c, methods)
    for method in methods:
        np.testing.assert_allclose(maps[method], expected[method], rtol=0, atol=1e-5,
                                   err_msg=method)
        np.testing.assert_array_equal(maps.degenerate[method], expected.degenerate[method])
    np.testing.assert_allclose(xla.predict(x).probabilities, plain.predict(x).probabilities,
                               rtol=0, atol=1e-5)
    assert all(fn.function_spec.jit_compile for fn in (*xla._gradient_fns.values(),
                                                       *xla._masked_fns.values(),
                                                       xla._predict_fn))


def test_combine_takes_channel_or_element_wise_weights():
    rng = np.random.default_rng(0)
    a = rng.random((2, 3, 4, 5), dtype=np.float32)
    w = rng.standard_normal((2, 5)).astype(np.float32)
    element_wise = np.broadcast_to(w[:, None, None, :], a.shape)
    np.testing.assert_allclose(combine(a, element_wise), combine(a, w), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(combine(a, element_wise),
                               np.maximum((a * element_wise).sum(axis=3), 0), rtol=1e-6)
    with pytest.raises(ValueError) as info:
        combine(a, w[0])
    assert str(info.value) == ("CAM weights must be channel weights (N, K) or element-wise "
                               "weights (N, h, w, K); got shape (5,).")
