"""One forward pass per image: ``explain_targets`` gives the predictions and every target's
maps from one pass, bit for bit what ``predict`` and one ``explain`` per target give."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from audit.cams import METHOD_NAMES, NO_TARGET, PREDICTED, CamExplainer

SIZE = 16


def _small_cnn(seed=5):
    keras.utils.set_random_seed(seed)
    return keras.Sequential([
        keras.Input((SIZE, SIZE, 3)),
        keras.layers.Conv2D(6, 3, activation="relu", padding="same", name="c1"),
        keras.layers.MaxPooling2D(),
        keras.layers.Conv2D(5, 3, activation="relu", padding="same", name="c2"),
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(4, activation="softmax", name="out"),
    ], name="small_cnn")


@pytest.fixture(scope="module")
def setup():
    model = _small_cnn()
    x = np.random.default_rng(8).random((7, SIZE, SIZE, 3), dtype=np.float32)
    return CamExplainer(model, micro_batch=3, scorecam_max_channels=3), x


@pytest.mark.parametrize("upsample", [False, True])
def test_every_target_from_one_pass_is_bit_identical(setup, upsample):
    ex, x = setup
    labels = np.array([0, 1, 2, 3, 0, 1, 2])
    out = ex.explain_targets(x, np.stack([np.full(7, PREDICTED), labels], axis=1),
                             METHOD_NAMES, upsample=upsample, normalize=upsample)
    alone = ex.predict(x)
    np.testing.assert_array_equal(out.predictions.probabilities, alone.probabilities)
    np.testing.assert_array_equal(out.predictions.logits, alone.logits)
    predicted = alone.predicted
    np.testing.assert_array_equal(out.classes, np.stack([predicted, labels], axis=1))
    for slot, classes in ((0, predicted), (1, labels)):
        # One pass per target on the same batch: every map bit for bit.
        expected = ex.explain(x, classes, METHOD_NAMES, upsample=upsample, normalize=upsample)
        got = out.target(slot)
        assert got.channels == expected.channels
        for method in METHOD_NAMES:
            np.testing.assert_array_equal(got[method], expected[method], err_msg=method)
            np.testing.assert_array_equal(got.degenerate[method], expected.degenerate[method])


def test_true_class_maps_agree_with_a_pass_over_the_errors_alone():
    """Before one pass served every target, the true class's maps were computed in a pass over
    the misclassified samples alone, so a sample sat at another position of its micro-batch.
    The activations and gradients are the same bit for bit wherever a sample sits, but the
    CPU's reductions over a map (Grad-CAM's mean gradient, the channel sum) round by position:
    the maps agree to 1e-5 of each map's maximum (measured: up to 2e-6), and the degenerate
    flags exactly. The golden records move in the 7th significant digit for that reason."""
    keras.utils.set_random_seed(1)
    model = keras.Sequential([  # the golden test's architecture
        keras.Input((32, 32, 3)),
        keras.layers.Conv2D(8, 3, padding="same", activation="relu", name="conv1"),
        keras.layers.MaxPooling2D(2),
        keras.layers.Conv2D(12, 3, padding="same", activation="relu", name="conv2"),
        keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(3, activation="softmax", name="head"),
    ])
    rng = np.random.default_rng(20261127)
    model.set_weights([rng.normal(0.0, 0.4, w.shape).astype(np.float32)
                       for w in model.get_weights()])
    x = np.random.default_rng(1).random((5, 32, 32, 3), dtype=np.float32)
    ex = CamExplainer(model, micro_batch=4, scorecam_max_channels=6)
    methods = ("gradcam", "gradcam++", "scorecam", "negative")
    labels = np.array([0, 1, 2, 0, 1])
    out = ex.explain_targets(x, np.stack([np.full(5, PREDICTED), labels], axis=1), methods,
                             upsample=False, normalize=False)
    for rows in ([1, 3], [3], [2, 3, 4]):
        alone = ex.explain(x[rows], labels[rows], methods, upsample=False, normalize=False)
        got = out.target(1, rows)
        for method in methods:
            peak = alone[method].max(axis=(1, 2), keepdims=True)
            assert np.all(np.abs(got[method] - alone[method]) <= 1e-5 * peak), method
            np.testing.assert_array_equal(got.degenerate[method], alone.degenerate[method])


def test_ragged_target_lists_and_the_batch_size(setup):
    ex, x = setup
    lists = [[PREDICTED, 2, 3], [1], [PREDICTED, 0], [3, 1], [PREDICTED], [0, 1, 2], [2]]
    methods = ("gradcam", "scorecam")
    out = ex.explain_targets(x, lists, methods, upsample=False, normalize=False)
    assert out.classes.shape == (7, 3)
    assert out.present.sum() == sum(len(t) for t in lists)
    assert out.classes[1, 1] == NO_TARGET and out.classes[0, 0] == out.predictions.predicted[0]
    for i, targets in enumerate(lists):
        for t, _ in enumerate(targets):
            one = ex.explain(x[i:i + 1], out.classes[i, t:t + 1], methods, upsample=False,
                             normalize=False)
            for method in methods:
                np.testing.assert_array_equal(out.maps[method][i, t], one[method][0])
    # Batch-size invariance: a batch cut in two gives the same maps and predictions.
    parts = [ex.explain_targets(x[s], [lists[i] + [NO_TARGET] * (3 - len(lists[i]))
                                       for i in range(7)[s]], methods, upsample=False,
                                normalize=False) for s in (slice(0, 4), slice(4, 7))]
    for method in methods:
        np.testing.assert_array_equal(np.concatenate([p.maps[method] for p in parts]),
                                      out.maps[method])
    np.testing.assert_array_equal(
        np.concatenate([p.predictions.probabilities for p in parts]),
        out.predictions.probabilities)


def test_empty_batch_and_target_errors(setup):
    ex, x = setup
    empty = ex.explain_targets(x[:0], np.zeros((0, 2), np.int64), ("gradcam",))
    assert empty.maps["gradcam"].shape == (0, 2, SIZE, SIZE)
    assert empty.predictions.probabilities.shape == (0, 4)
    with pytest.raises(ValueError) as info:
        ex.explain_targets(x, np.full((7, 1), 4), ("gradcam",))
    assert str(info.value) == ("targets must be classes in [0, 3], PREDICTED (-1) or NO_TARGET "
                               "(-2) for a model with 4 classes; got [4, 4, 4, 4, 4, 4, "
                               "4].")
    with pytest.raises(ValueError) as info:
        ex.explain_targets(x, np.zeros(7, np.int64), ("gradcam",))
    assert str(info.value).startswith("targets must be an int array of shape (7, T)")
