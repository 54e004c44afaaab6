"""The CAM engine on the models people really have: several outputs, and vision transformers
whose layers output tokens ``(N, tokens, C)`` instead of feature maps."""

from __future__ import annotations

import doctest

import keras
import numpy as np
import pytest
import tensorflow as tf
from tiny_models import tiny_vit, two_headed

from audit.cams import METHOD_NAMES, CamExplainer
from audit.cams import head as head_module
from audit.cams import tokens as tokens_module
from audit.cams.tokens import TokenGrid, TokenLayout
from audit.errors import ModelError

SIZE = 32
DEFAULT = ("gradcam", "gradcam++", "scorecam", "negative")


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(0).random((5, SIZE, SIZE, 3), dtype=np.float32)


@pytest.fixture(scope="module")
def classes():
    return np.array([0, 1, 2, 0, 1])


@pytest.mark.parametrize("module", [tokens_module, head_module])
def test_doctests(module):
    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0


# ---------------------------------------------------------------------------- several outputs
@pytest.fixture(scope="module")
def two_heads():
    return two_headed()


@pytest.mark.parametrize("output", ["cls", "label"])
def test_chosen_output_gives_the_maps_of_the_class_only_network(output, images, classes):
    """The class output of a two-headed model, named by its layer or by its dict key: maps,
    predictions and the layer are those of the same network built with that output alone."""
    model, class_only = two_headed(as_dict=output == "label")
    ex = CamExplainer(model, output=output, scorecam_max_channels=8)
    reference = CamExplainer(class_only, scorecam_max_channels=8)
    # The auxiliary branch's convolution comes last in the model; it is not a candidate.
    assert ex.layer_name == reference.layer_name == "conv2"
    assert ex.output_name == "cls" and ex.n_classes == 3 and ex.head.activation == "softmax"
    methods = DEFAULT + ("eigencam", "layercam")
    for upsample in (False, True):
        mine = ex.explain(images, classes, methods, upsample=upsample, normalize=upsample)
        theirs = reference.explain(images, classes, methods, upsample=upsample,
                                   normalize=upsample)
        for method in methods:
            np.testing.assert_allclose(mine[method], theirs[method], rtol=0, atol=1e-6)
            assert np.array_equal(mine.degenerate[method], theirs.degenerate[method])
    predictions = ex.predict(images)
    outputs = model.predict(images, verbose=0)
    expected = outputs["label"] if isinstance(outputs, dict) else outputs[0]
    np.testing.assert_allclose(predictions.probabilities, expected, rtol=1e-5, atol=1e-7)
    assert predictions.logits.shape == (len(images), 3)


def test_several_outputs_without_a_choice_name_model_output(two_heads):
    model, _ = two_heads
    with pytest.raises(ModelError) as error:
        CamExplainer(model)
    message = str(error.value)
    assert "has 2 outputs" in message and "model.output" in message
    assert "'cls', shape (None, 3)" in message and "'box', shape (None, 4)" in message


def test_unknown_output_lists_the_outputs(two_heads):
    model, _ = two_heads
    with pytest.raises(ModelError, match=r"has no output 'clss'\. Did you mean 'cls'\? Its "
                                         r"outputs: 'cls', shape \(None, 3\); 'box', shape "
                                         r"\(None, 4\)\. Set model.output"):
        CamExplainer(model, output="clss")


def test_layer_off_the_chosen_output_says_so(two_heads):
    model, _ = two_heads
    with pytest.raises(ModelError, match=r"Layer 'aux_conv' does not lead to the output 'cls'"):
        CamExplainer(model, "aux_conv", output="cls")
    with pytest.raises(ModelError, match=r"has no layer 'nope'"):
        CamExplainer(model, "nope", output="cls")


def test_output_of_a_nested_model_by_path_and_by_name(images, classes):
    """Heads inside a nested model: the output is named by its path or its layer's name."""
    keras.utils.set_random_seed(3)
    features = keras.Input((6, 6, 16))
    pooled = keras.layers.GlobalAveragePooling2D()(features)
    heads = keras.Model(features, [keras.layers.Dense(4, name="box")(pooled),
                                   keras.layers.Dense(3, activation="softmax",
                                                      name="cls")(pooled)], name="heads")
    inputs = keras.Input((SIZE, SIZE, 3))
    x = keras.layers.Conv2D(16, 3, strides=5, activation="relu", name="conv")(inputs)
    model = keras.Model(inputs, heads(x), name="nested_heads")
    by_path = CamExplainer(model, output="heads/cls")
    by_name = CamExplainer(model, output="cls")
    assert by_path.output_name == by_name.output_name == "heads/cls"
    assert by_path.head.layer.name == "cls" and by_path.n_classes == 3
    np.testing.assert_array_equal(by_path.explain(images, classes, ("gradcam",))["gradcam"],
                                  by_name.explain(images, classes, ("gradcam",))["gradcam"])
    np.testing.assert_allclose(by_path.predict(images).probabilities,
                               model.predict(images, verbose=0)[1], rtol=1e-5, atol=1e-7)


def test_single_output_model_accepts_its_own_name_only():
    _, class_only = two_headed()
    assert CamExplainer(class_only, output="cls").output_name == "cls"
    assert CamExplainer(class_only).output_name is None
    with pytest.raises(ModelError, match=r"has no output 'box'.*Its outputs: 'cls'"):
        CamExplainer(class_only, output="box")


def test_with_model_keeps_output_layer_and_options(two_heads, images, classes):
    model, _ = two_heads
    ex = CamExplainer(model, "conv1", output="cls", scorecam_max_channels=4, micro_batch=2)
    copy = ex.with_model(keras.models.clone_model(model))
    assert (copy.layer_name, copy.output_name) == ("conv1", "cls")
    assert (copy.scorecam_max_channels, copy.micro_batch) == (4, 2)


# ---------------------------------------------------------------------------- vision transformers
@pytest.fixture(scope="module")
def vit():
    """Classifies from its class token: 32x32 input, patch 8, a 4x4 grid, 17 tokens."""
    return tiny_vit()


@pytest.fixture(scope="module")
def vit_mean():
    """The same architecture, classifying from the mean of all tokens."""
    return tiny_vit(pool="mean")


def test_automatic_layer_is_the_last_whose_patch_tokens_reach_the_score(vit, vit_mean, images,
                                                                        classes):
    """With a class-token head, the last block's output and the final norm reach the score
    through the class token alone (their patch tokens get no gradient): the input of the last
    attention is explained. A head on the mean of all tokens keeps the final norm."""
    ex = CamExplainer(vit)
    assert ex.layer_name == "block2_norm1"
    assert ex.token_layout == TokenLayout(4, 4, 1) and ex.layer_grid == (4, 4)
    assert CamExplainer(vit_mean).layer_name == "final_norm"
    # Why: every gradient map of the final norm of the class-token model is zero.
    final = CamExplainer(vit, "final_norm")
    assert final.layer_name == "final_norm"  # model.layer overrides the rule
    maps = final.explain(images, classes, ("gradcam", "gradcam++"), upsample=False,
                         normalize=False)
    assert all(np.all(m == 0) for m in maps.values())


@pytest.mark.parametrize("which", ["vit", "vit_mean"])
def test_every_method_explains_a_vit_at_the_input_size(which, images, classes, request):
    model = request.getfixturevalue(which)
    ex = CamExplainer(model, scorecam_max_channels=8)
    maps = ex.explain(images, classes, METHOD_NAMES)
    for method in METHOD_NAMES:
        m = maps[method]
        assert m.shape == (len(images), SIZE, SIZE) and m.dtype == np.float32, method
        assert np.all(np.isfinite(m)) and np.all(m >= 0) and np.all(m <= 1), method
    # Not every map is degenerate: gradients reach the explained tokens.
    assert not maps.degenerate["gradcam"].all() and not maps.degenerate["scorecam"].all()
    assert maps.scorecam_channels == 8 and maps.channels["gradcam"] == 16
    raw = ex.explain(images, classes, ("gradcam", "scorecam", "eigencam"), upsample=False)
    assert all(m.shape == (len(images), 4, 4) for m in raw.values())


def test_gradcam_matches_a_gradient_tape_on_the_reshaped_tokens(vit, images, classes):
    """The independent oracle: the last block run by hand from the explained tensor, the
    class token dropped and the 16 patch tokens reshaped to 4x4 (pytorch-grad-cam's
    reshape_transform), then Grad-CAM in NumPy."""
    ex = CamExplainer(vit)
    mine = ex.explain(images, classes, ("gradcam", "gradcam++"), upsample=False,
                      normalize=False)
    layer = vit.get_layer
    front = keras.Model(vit.inputs, layer("block1_add2").output)
    with tf.GradientTape() as tape:
        x = front(images, training=False)
        a = layer("block2_norm1")(x)
        tape.watch(a)
        x = layer("block2_add1")([x, layer("block2_attn")(a, a)])
        h = layer("block2_mlp2")(layer("block2_mlp1")(layer("block2_norm2")(x)))
        x = layer("final_norm")(layer("block2_add2")([x, h]))
        logits = tf.matmul(x[:, 0], layer("head").kernel) + layer("head").bias
        score = tf.reduce_sum(tf.gather(logits, classes, axis=1, batch_dims=1))
    g = tape.gradient(score, a).numpy()[:, 1:].reshape(len(images), 4, 4, -1)
    a = a.numpy()[:, 1:].reshape(len(images), 4, 4, -1)
    expected = np.maximum(np.einsum("nhwk,nk->nhw", a, g.mean(axis=(1, 2))), 0)
    assert expected.max() > 0
    scale = np.abs(expected).max()
    assert np.max(np.abs(mine["gradcam"] - expected)) / scale < 1e-5
    # Grad-CAM++ from the same tensors (DESIGN.md eq. 19).
    alpha_den = 2 * g**2 + a.sum(axis=(1, 2), keepdims=True) * g**3
    alpha = np.where(alpha_den != 0, g**2 / np.where(alpha_den != 0, alpha_den, 1), 0)
    plus = np.maximum(np.einsum("nhwk,nk->nhw", a, (np.maximum(g, 0) * alpha).sum(axis=(1, 2))),
                      0)
    assert np.max(np.abs(mine["gradcam++"] - plus)) / np.abs(plus).max() < 1e-5


def test_inferred_grid_equals_the_explicit_one(vit, images, classes):
    inferred = CamExplainer(vit)
    for tokens in ({"grid": [4, 4], "skip": 1}, {"grid": (4, 4)}, {"skip": 1},
                   TokenGrid(grid=(4, 4), skip=1)):
        explicit = CamExplainer(vit, tokens=tokens)
        assert explicit.layer_name == inferred.layer_name, tokens
        assert explicit.token_layout == inferred.token_layout == TokenLayout(4, 4, 1), tokens
    a = inferred.explain(images, classes, ("gradcam", "eigencam"))
    b = explicit.explain(images, classes, ("gradcam", "eigencam"))
    for method in a:
        np.testing.assert_array_equal(a[method], b[method])


def test_a_grid_that_does_not_fit_names_the_numbers(vit):
    with pytest.raises(ModelError, match=r"Layer 'final_norm' outputs 17 tokens, which "
                                         r"model.tokens does not fit: grid \[3, 3\] has h \* w "
                                         r"= 9 patch tokens \+ skip 1 = 10\. Set model.tokens "
                                         r"so that h \* w \+ skip = 17"):
        CamExplainer(vit, tokens={"grid": [3, 3], "skip": 1})
    with pytest.raises(ModelError, match=r"'block1_add1' outputs 17 tokens.*grid \[4, 4\] has "
                                         r"h \* w = 16 patch tokens \+ skip 2 = 18"):
        CamExplainer(vit, "block1_add1", tokens={"grid": [4, 4], "skip": 2})
    with pytest.raises(ModelError, match=r"outputs 17 tokens, which form no grid: 17 minus "
                                         r"skip 3 is no h \* w"):
        CamExplainer(vit, tokens={"skip": 3})
    with pytest.raises(ValueError, match=r"grid must be two positive integers"):
        CamExplainer(vit, tokens={"grid": [0, 4]})
    with pytest.raises(ValueError, match=r"tokens takes the keys grid and skip"):
        CamExplainer(vit, tokens={"gird": [4, 4]})


def test_tokens_that_form_no_grid_are_not_explained_without_model_tokens(images):
    """8 tokens (no square, with or without a class token) form a grid only when told."""
    keras.utils.set_random_seed(1)
    inputs = keras.Input((SIZE, SIZE, 3))
    x = keras.layers.Conv2D(16, 8, strides=8, name="embed")(inputs)
    x = keras.layers.Reshape((8, 32), name="pairs")(x)
    x = keras.layers.GlobalAveragePooling1D()(x)
    model = keras.Model(inputs, keras.layers.Dense(2, activation="softmax")(x))
    assert CamExplainer(model).layer_name == "embed"  # the 4-D layer
    with pytest.raises(ModelError, match=r"'pairs' outputs 8 tokens, which form no grid.*"
                                         r"Set model.tokens"):
        CamExplainer(model, "pairs")
    told = CamExplainer(model, "pairs", tokens={"grid": [2, 4], "skip": 0})
    assert told.explain(images[:2], np.array([0, 1]), ("gradcam",),
                        upsample=False)["gradcam"].shape == (2, 2, 4)


def test_non_square_input_infers_a_grid_of_its_aspect_ratio():
    """32x48 with patch 8: 4x6 = 24 patch tokens and a class token."""
    model = tiny_vit(size=(32, 48), blocks=1, pool="mean")
    ex = CamExplainer(model)
    assert ex.layer_name == "final_norm" and ex.token_layout == TokenLayout(4, 6, 1)
    x = np.random.default_rng(1).random((2, 32, 48, 3), dtype=np.float32)
    maps = ex.explain(x, np.array([0, 1]), ("gradcam", "scorecam"))
    assert maps["gradcam"].shape == maps["scorecam"].shape == (2, 32, 48)


def test_with_model_keeps_the_token_grid(vit, images, classes):
    ex = CamExplainer(vit, micro_batch=2)
    copy = ex.with_model(keras.models.clone_model(vit))
    assert copy.layer_name == "block2_norm1"
    assert copy.token_layout == ex.token_layout
    assert copy.tokens == TokenGrid(grid=(4, 4), skip=1)


def test_vit_results_are_deterministic_and_agree_across_batching(vit, images, classes):
    """The same call gives the same bits. Across batchings a token model agrees to float32
    rounding only: TensorFlow's CPU kernels of LayerNormalization (and of attention) round a
    row's result by its position in the call, which ``micro_batch`` does not fix (a CNN's
    results are bit-identical; see ``test_micro_batch_makes_results_independent_of_batching``)."""
    ex = CamExplainer(vit, micro_batch=2, scorecam_max_channels=4)
    whole = ex.explain(images, classes, DEFAULT)
    again = ex.explain(images, classes, DEFAULT)
    parts = [ex.explain(images[:3], classes[:3], DEFAULT),
             ex.explain(images[3:], classes[3:], DEFAULT)]
    for method in DEFAULT:
        np.testing.assert_array_equal(whole[method], again[method])
        np.testing.assert_allclose(whole[method], np.concatenate([p[method] for p in parts]),
                                   rtol=0, atol=1e-5)
    empty = ex.explain(images[:0], classes[:0], DEFAULT, upsample=False)
    assert empty["gradcam"].shape == (0, 4, 4)
