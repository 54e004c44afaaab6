"""Cascading randomisation on a tiny real Keras CNN, and the similarity of maps."""

from __future__ import annotations

import hashlib
import math

import keras
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from skimage.metrics import structural_similarity

from audit.errors import ModelError
from audit.evidence.sanity import (
    cascade_groups,
    cascading_randomization,
    randomized_copy,
    reinitialize_layer,
    weighted_layers,
)
from audit.evidence.similarity import spearman, ssim

FAST = settings(max_examples=40, deadline=None)

PATHS = ["backbone/conv1", "backbone/bn1", "backbone/conv2", "fc", "logits"]


def _seeded(seed):
    return {"kernel_initializer": keras.initializers.GlorotUniform(seed=seed),
            "bias_initializer": keras.initializers.RandomNormal(stddev=0.1, seed=seed + 100)}


def tiny_cnn():
    """A nested backbone in a Sequential, as a keras.applications model usually sits."""
    backbone = keras.Sequential(
        [
            keras.Input((12, 12, 3)),
            keras.layers.Conv2D(4, 3, name="conv1", **_seeded(1)),
            keras.layers.BatchNormalization(name="bn1"),
            keras.layers.ReLU(name="relu1"),
            keras.layers.Conv2D(6, 3, name="conv2", **_seeded(2)),
            keras.layers.ReLU(name="relu2"),
        ],
        name="backbone",
    )
    model = keras.Sequential(
        [
            keras.Input((12, 12, 3)),
            backbone,
            keras.layers.GlobalAveragePooling2D(name="pool"),
            keras.layers.Dropout(0.1, name="drop"),
            keras.layers.Dense(5, activation="relu", name="fc", **_seeded(3)),
            keras.layers.Dense(3, activation="softmax", name="logits", **_seeded(4)),
        ],
        name="tiny",
    )
    # As if trained: BatchNormalization away from its initial values, so a reset shows.
    bn = backbone.get_layer("bn1")
    bn.gamma.assign(np.full(4, 1.5, np.float32))
    bn.beta.assign(np.full(4, 0.2, np.float32))
    bn.moving_mean.assign(np.full(4, 0.5, np.float32))
    bn.moving_variance.assign(np.full(4, 2.0, np.float32))
    return model


def weights_hash(model) -> str:
    digest = hashlib.sha256()
    for weight in model.get_weights():
        digest.update(np.ascontiguousarray(weight).tobytes())
    return digest.hexdigest()


def layer_weights(model) -> dict[str, list[np.ndarray]]:
    return {path: [np.array(w) for w in layer.get_weights()]
            for path, layer in weighted_layers(model)}


def changed(before, after) -> dict[str, bool]:
    """Per layer: whether every one of its weights differs from before."""
    return {path: all(not np.array_equal(b, a) for b, a in zip(before[path], after[path],
                                                                  strict=True))
            for path in before}


def same(a, b) -> bool:
    return all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


@pytest.fixture(scope="module")
def model():
    return tiny_cnn()


@pytest.fixture(scope="module")
def images():
    return np.random.default_rng(0).normal(size=(2, 12, 12, 3)).astype(np.float32)


# --------------------------------------------------------------------------- which layers


class TestWeightedLayers:
    def test_forward_order_through_the_nested_backbone(self, model):
        # No pooling, dropout or activation layer: they hold no weights.
        assert [path for path, _ in weighted_layers(model)] == PATHS

    def test_frozen_layers_count(self):
        frozen = tiny_cnn()
        frozen.get_layer("backbone").trainable = False
        assert [path for path, _ in weighted_layers(frozen)] == PATHS

    def test_normalization_is_left_out(self):
        norm = keras.layers.Normalization(axis=-1, name="norm")
        norm.adapt(np.random.default_rng(0).normal(size=(8, 4)).astype(np.float32))
        model = keras.Sequential([keras.Input((4,)), norm, keras.layers.Dense(2, name="d")])
        assert norm.weights  # it holds statistics ...
        assert [path for path, _ in weighted_layers(model)] == ["d"]  # ... not learned weights

    def test_functional_with_a_nested_model(self):
        inner = keras.Sequential([keras.Input((6, 6, 1)), keras.layers.Conv2D(2, 3, name="c")],
                                 name="inner")
        inputs = keras.Input((6, 6, 1))
        x = keras.layers.Flatten(name="flat")(inner(inputs))
        outputs = keras.layers.Dense(2, name="head")(x)
        functional = keras.Model(inputs, outputs)
        assert [path for path, _ in weighted_layers(functional)] == ["inner/c", "head"]


class TestCascadeGroups:
    def test_hand_worked(self):
        # 5 layers: steps 2 -> ceil(2.5) = 3, 5; steps 3 -> ceil(1.67) = 2, ceil(3.33) = 4, 5.
        assert cascade_groups(PATHS, steps=2) == [tuple(PATHS[2:]), tuple(PATHS)]
        assert [len(g) for g in cascade_groups(PATHS, steps=3)] == [2, 4, 5]
        assert cascade_groups(PATHS, steps=3)[0] == ("fc", "logits")
        assert cascade_groups(PATHS, steps=1) == [tuple(PATHS)]
        assert [len(g) for g in cascade_groups(PATHS, steps=5)] == [1, 2, 3, 4, 5]

    @FAST
    @given(st.integers(1, 200), st.data())
    def test_cumulative_from_the_top(self, total, data):
        steps = data.draw(st.integers(1, total))
        groups = cascade_groups(range(total), steps=steps)
        assert len(groups) == steps and groups[-1] == tuple(range(total))
        sizes = [len(g) for g in groups]
        assert sizes[0] >= 1 and all(b > a for a, b in zip(sizes, sizes[1:], strict=False))
        for k, group in enumerate(groups, start=1):
            assert group == tuple(range(total - len(group), total))  # the top layers
            assert len(group) == math.ceil(k * total / steps)

    def test_errors(self):
        with pytest.raises(ValueError, match=r"steps must be between 1 and the number of "
                                             r"layers \(5\); got steps=6"):
            cascade_groups(PATHS, steps=6)
        with pytest.raises(ValueError, match="steps must be an integer >= 1; got steps=0"):
            cascade_groups(PATHS, steps=0)


# ------------------------------------------------------------------------ the copy


class TestRandomizedCopy:
    def test_original_is_untouched(self, model, images):
        before_hash = weights_hash(model)
        before_out = keras.ops.convert_to_numpy(model(images, training=False))
        copy = randomized_copy(model, 5, seed=0)
        assert weights_hash(model) == before_hash
        assert np.array_equal(keras.ops.convert_to_numpy(model(images, training=False)), before_out)
        assert copy is not model
        assert not np.allclose(keras.ops.convert_to_numpy(copy(images, training=False)), before_out)

    def test_only_the_top_layers_change(self, model):
        before = layer_weights(model)
        copy = randomized_copy(model, 2, seed=0)
        assert changed(before, layer_weights(copy)) == {
            "backbone/conv1": False, "backbone/bn1": False, "backbone/conv2": False,
            "fc": True, "logits": True,
        }
        after = layer_weights(copy)
        for path in PATHS[:3]:
            assert same(before[path], after[path])

    def test_zero_layers_is_an_exact_copy(self, model):
        assert weights_hash(randomized_copy(model, 0, seed=0)) == weights_hash(model)

    def test_own_initializers_are_used(self, model):
        copy = randomized_copy(model, 5, seed=0)
        bn = copy.get_layer("backbone").get_layer("bn1")
        # Ones, Zeros, Zeros, Ones: gamma, beta and the moving statistics reset.
        assert np.array_equal(bn.gamma.numpy(), np.ones(4))
        assert np.array_equal(bn.beta.numpy(), np.zeros(4))
        assert np.array_equal(bn.moving_mean.numpy(), np.zeros(4))
        assert np.array_equal(bn.moving_variance.numpy(), np.ones(4))
        # The bias initializer is RandomNormal(stddev=0.1): new values, of about that size.
        bias = copy.get_layer("logits").bias.numpy()
        assert not np.array_equal(bias, model.get_layer("logits").bias.numpy())
        assert np.all(np.abs(bias) < 0.5)
        # Glorot uniform: within +-sqrt(6 / (fan_in + fan_out)) = sqrt(6 / 8) for logits (5 x 3).
        kernel = copy.get_layer("logits").kernel.numpy()
        assert np.all(np.abs(kernel) <= math.sqrt(6 / 8))

    def test_deterministic_for_a_seed(self, model):
        first = randomized_copy(model, 4, seed=11).get_weights()
        second = randomized_copy(model, 4, seed=11).get_weights()
        other = randomized_copy(model, 4, seed=12).get_weights()
        assert same(first, second)
        assert not same(first, other)

    def test_a_layers_new_weights_depend_on_its_place_only(self, model):
        two = layer_weights(randomized_copy(model, 2, seed=5))
        four = layer_weights(randomized_copy(model, 4, seed=5))
        for path in ("fc", "logits"):
            assert same(two[path], four[path])

    def test_errors(self, model):
        with pytest.raises(ValueError, match=r"between 0 and the number of weighted layers "
                                             r"\(5\); got n_layers_from_top=6"):
            randomized_copy(model, 6, seed=0)
        with pytest.raises(ValueError, match="seed must be an integer >= 0; got seed=-1"):
            randomized_copy(model, 1, seed=-1)
        with pytest.raises(ModelError, match="must be a keras.Model; got Dense"):
            randomized_copy(keras.layers.Dense(2), 1, seed=0)
        with pytest.raises(TypeError):
            randomized_copy(model, 1, 0)


class TestCascade:
    def test_steps_match_independent_copies(self, model, images):
        before_hash = weights_hash(model)
        steps = list(cascading_randomization(model, steps=3, seed=9))
        assert weights_hash(model) == before_hash
        assert [s.step for s in steps] == [1, 2, 3]
        assert [s.layers for s in steps] == cascade_groups(PATHS, steps=3)
        assert len({id(s.model) for s in steps}) == 1  # one clone, randomised further

    def test_each_step_is_the_copy_of_its_size(self, model):
        for step in cascading_randomization(model, steps=3, seed=9):
            expected = randomized_copy(model, len(step.layers), seed=9).get_weights()
            assert same(step.model.get_weights(), expected)

    def test_layers_change_as_the_cascade_reaches_them(self, model):
        before = layer_weights(model)
        reached = []
        for step in cascading_randomization(model, steps=5, seed=1):
            flags = changed(before, layer_weights(step.model))
            reached.append([path for path in PATHS if flags[path]])
        assert reached == [PATHS[4:], PATHS[3:], PATHS[2:], PATHS[1:], PATHS]

    def test_checks_before_the_first_step(self, model):
        with pytest.raises(ValueError, match="steps must be between 1 and the number"):
            cascading_randomization(model, steps=9, seed=0)  # raised here, not at next()


class TestApplicationsBackbone:
    def test_frozen_mobilenet_in_a_sequential(self):
        backbone = keras.applications.MobileNetV2(
            input_shape=(32, 32, 3), alpha=0.35, include_top=False, weights=None
        )
        backbone.trainable = False
        model = keras.Sequential(
            [keras.Input((32, 32, 3)), backbone, keras.layers.GlobalAveragePooling2D(),
             keras.layers.Dense(3, name="head")]
        )
        # As if trained: every weight moved off its initial value (variances stay positive).
        rng = np.random.default_rng(0)
        model.set_weights([w + rng.uniform(0.1, 0.2, w.shape).astype(w.dtype)
                           for w in model.get_weights()])
        layers = weighted_layers(model)
        paths = [path for path, _ in layers]
        assert paths[0] == f"{backbone.name}/Conv1" and paths[-1] == "head"
        before_hash = weights_hash(model)
        before = layer_weights(model)
        top = len(cascade_groups(layers, steps=4)[0])
        flags = changed(before, layer_weights(randomized_copy(model, top, seed=0)))
        assert weights_hash(model) == before_hash
        # Depthwise kernels, BatchNormalization and the head are all re-initialised.
        assert [p for p in paths if flags[p]] == paths[-top:]
        kinds = {type(layer).__name__ for _, layer in layers[-top:]}
        assert {"DepthwiseConv2D", "BatchNormalization", "Conv2D", "Dense"} <= kinds


class TestFallback:
    def test_weight_without_initializer_gets_normal_noise_of_its_statistics(self):
        class Scale(keras.layers.Layer):
            def build(self, input_shape):
                self.factor = self.add_weight(name="factor", shape=(4000,), initializer="ones")

            def call(self, x):
                return x * self.factor

        layer = Scale()
        layer.build((None, 4000))
        values = np.random.default_rng(0).normal(3.0, 2.0, size=4000).astype(np.float32)
        layer.factor.assign(values)
        reinitialize_layer(layer, layer_index=0, seed=0)
        new = layer.factor.numpy()
        assert not np.array_equal(new, values)
        assert new.mean() == pytest.approx(values.mean(), abs=0.15)
        assert new.std() == pytest.approx(values.std(), rel=0.05)


# ------------------------------------------------------------------------------ similarity


class TestSpearman:
    def test_hand_worked(self):
        # Ranks 1 2 3 4 against 1 3 2 4: d^2 = 0 + 1 + 1 + 0: 1 - 6 * 2 / (4 * 15) = 0.8.
        assert spearman([[1, 2], [3, 4]], [[1, 3], [2, 4]]) == pytest.approx(0.8, abs=1e-15)

    def test_ties_get_average_ranks(self):
        # Ranks 1.5 1.5 3 4 and 1.5 3 1.5 4; centred -1 -1 .5 1.5 and -1 .5 -1 1.5:
        # sum of products 1 - .5 - .5 + 2.25 = 2.25; sums of squares 4.5 each: 0.5.
        assert spearman([[0, 0], [1, 2]], [[0, 1], [0, 2]]) == pytest.approx(0.5, abs=1e-15)

    def test_constant_map_is_undefined(self):
        assert math.isnan(spearman(np.ones((3, 3)), np.arange(9.0).reshape(3, 3)))
        assert math.isnan(spearman(np.zeros((3, 3)), np.zeros((3, 3))))

    def test_reversed(self):
        a = np.arange(12.0).reshape(3, 4)
        assert spearman(a, -a) == -1.0

    @FAST
    @given(arrays(np.float64, (4, 5), elements=st.floats(0, 1)),
           arrays(np.float64, (4, 5), elements=st.floats(0, 1)))
    def test_bounded_symmetric_and_rank_only(self, a, b):
        rho = spearman(a, b)
        if math.isnan(rho):
            assert np.ptp(a) == 0 or np.ptp(b) == 0
            return
        assert -1.0 <= rho <= 1.0
        assert spearman(b, a) == pytest.approx(rho)
        assert spearman(4.0 * a, b) == pytest.approx(rho)  # exact scaling: same ranks

    def test_errors(self):
        with pytest.raises(ValueError, match=r"same shape; got shapes \(2, 2\) and \(2, 3\)"):
            spearman(np.zeros((2, 2)), np.zeros((2, 3)))
        with pytest.raises(ValueError, match="a must be finite"):
            spearman([[math.nan, 1.0]], [[0.0, 1.0]])


class TestSsim:
    def test_constant_maps(self):
        # One 7 x 7 window, no variance: SSIM is the luminance term
        # (2 mu_a mu_b + C1) / (mu_a^2 + mu_b^2 + C1), C1 = (0.01 * 1)^2 = 1e-4.
        assert ssim(np.zeros((7, 7)), np.zeros((7, 7))) == 1.0
        assert ssim(np.zeros((7, 7)), np.ones((7, 7))) == pytest.approx(1e-4 / 1.0001)
        # 0.5 and 0.25: (0.25 + 1e-4) / (0.3125 + 1e-4) = 0.2501 / 0.3126.
        half, quarter = np.full((9, 9), 0.5), np.full((9, 9), 0.25)
        assert ssim(half, quarter) == pytest.approx(0.2501 / 0.3126)

    def test_is_skimages_with_data_range_1(self):
        rng = np.random.default_rng(0)
        a, b = rng.uniform(size=(16, 20)), rng.uniform(size=(16, 20))
        assert ssim(a, b) == structural_similarity(a, b, data_range=1.0)
        assert ssim(a, a) == pytest.approx(1.0)
        assert ssim(a, b) == pytest.approx(ssim(b, a))

    def test_errors(self):
        with pytest.raises(ValueError, match=r"at least 7 x 7 pixels .* got shape \(6, 9\)"):
            ssim(np.zeros((6, 9)), np.zeros((6, 9)))
        with pytest.raises(ValueError, match=r"b must lie within \[0, 1\] \(scale the map "
                                             r"first\)"):
            ssim(np.zeros((7, 7)), np.full((7, 7), 2.0))
