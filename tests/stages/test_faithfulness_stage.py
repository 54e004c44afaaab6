"""The faithfulness stage on a tiny model: K random maps per sample, a method that *is* a
random map (registered here, as tests/cams/test_cam_registry.py registers methods) is not
called faithful, and the rows and decisions do not depend on the batch size."""

from __future__ import annotations

import dataclasses

import keras
import numpy as np
import pandas as pd
import pytest
import tensorflow as tf
from PIL import Image

from audit.cams import CamExplainer
from audit.cams.base import CamMethod, WeightedActivations
from audit.cams.gradcam import GRADCAM
from audit.cams.methods import make_registry
from audit.config import CamsSection, FaithfulnessSection, MetricsSection
from audit.datasets import Preprocessor, load_manifest
from audit.stages.faithfulness import faithfulness
from audit.stages.load_model import ModelInfo

SIZE = 16
N = 32  # two looks: 16 and 32 (each look at least twice the one before)


def _hash_noise(activations: tf.Tensor, grads) -> WeightedActivations:
    """A smoothed pseudo-random field per image, seeded by the image's own activations (so
    it is the same whatever batch the image is in), and independent of the class: the map of
    a method that knows nothing."""
    del grads
    n, h, w = tf.shape(activations)[0], tf.shape(activations)[1], tf.shape(activations)[2]
    seed = tf.reduce_sum(activations, axis=(1, 2, 3))[:, None, None]
    rows = tf.cast(tf.range(h), tf.float32)[None, :, None]
    cols = tf.cast(tf.range(w), tf.float32)[None, None, :]
    noise = tf.math.floormod(tf.sin(rows * 12.9898 + cols * 78.233 + seed * 0.917) * 43758.5453,
                             1.0)
    x = np.arange(-4, 5, dtype=np.float32)
    g = np.exp(-(x**2) / 2.0)
    kernel = tf.constant((np.outer(g, g) / np.outer(g, g).sum())[:, :, None, None])
    smooth = tf.nn.conv2d(noise[..., None], kernel, strides=1, padding="SAME")
    return WeightedActivations(tf.ones((n, 1)), smooth + 1.0)


RANDOM_METHOD = CamMethod(name="knows-nothing", title="Random map (test)", kind="activation",
                          weights=_hash_noise, fixation=True, order=999)


def _model() -> keras.Model:
    """logits = 10 x (mean red, mean green) of the [0, 1] image, through a 1 x 1 convolution
    at input resolution (the explained layer)."""
    inputs = keras.Input((SIZE, SIZE, 3))
    picked = keras.layers.Conv2D(2, 1, use_bias=False, name="pick")(inputs)
    pooled = keras.layers.GlobalAveragePooling2D()(picked)
    outputs = keras.layers.Dense(2, activation="softmax", name="head")(pooled)
    model = keras.Model(inputs, outputs)
    model.get_layer("pick").set_weights([np.array([[[[1, 0], [0, 1], [0, 0]]]], np.float32)])
    model.get_layer("head").set_weights([np.eye(2, dtype=np.float32) * 10, np.zeros(2)])
    return model


@pytest.fixture(scope="module")
def setting(tmp_path_factory):
    folder = tmp_path_factory.mktemp("faithfulness")
    rng = np.random.default_rng(0)
    lines = ["image,label,x_min,y_min,x_max,y_max"]
    for i in range(N):
        pixels = np.zeros((SIZE, SIZE, 3), np.uint8)
        pixels[..., 1] = rng.integers(60, 140)
        top, left = rng.integers(0, SIZE - 8, size=2)
        pixels[top:top + 8, left:left + 8] = (230, 0, 0)  # a red patch: 1/4 of the image
        Image.fromarray(pixels).save(folder / f"{i}.png")
        lines.append(f"{i}.png,red,{left},{top},{left + 8},{top + 8}")
    (folder / "m.csv").write_text("\n".join(lines) + "\n")
    manifest = load_manifest("csv", folder / "m.csv", class_names=["red", "green"])
    preprocessor = Preprocessor.from_config({"rescale": 1 / 255, "offset": 0.0}, channels=3)
    info = ModelInfo("m.keras", (SIZE, SIZE), 3, "pick", 2, "softmax", preprocessor, True)
    explainer = CamExplainer(_model(), "pick", micro_batch=8,
                             registry=make_registry([GRADCAM, RANDOM_METHOD]))
    images = np.stack([np.asarray(Image.open(folder / f"{i}.png"), np.float32) / 255
                       for i in range(N)])
    predicted = explainer.predict(images).predicted
    records = pd.DataFrame({"sample_id": [s.sample_id for s in manifest.samples],
                            "correct": predicted == 0, "predicted_index": predicted})
    return explainer, manifest, info, records


def _run(setting, *, batch_size: int, **options):
    explainer, manifest, info, records = setting
    cams = CamsSection(batch_size=batch_size).model_copy(
        update={"methods": ["gradcam", "knows-nothing"]})
    section = FaithfulnessSection(max_samples=N, steps=4, substrate="zero", random_maps=2,
                                  **options)
    return faithfulness(section, cams, MetricsSection(bootstrap_resamples=200), 0, records,
                        manifest, explainer, info)


def test_a_method_that_is_a_random_map_is_not_called_faithful(setting):
    result = _run(setting, batch_size=8)
    rows = result.rows
    assert set(rows["map"]) == {"gradcam", "knows-nothing", "random", "centre"}
    # Two random maps per sample, told apart by their replicate.
    random = rows[rows["map"] == "random"]
    assert sorted(set(random["replicate"])) == [0, 1]
    assert len(random) == 2 * result.n_used
    assert result.looks == (16, 32) and result.n_used in result.looks
    assert result.decisions["knows-nothing"].outcome != "faithful"
    # The red patch decides the class, and Grad-CAM ranks it first.
    assert result.decisions["gradcam"].outcome == "faithful"
    # The stage stops at the first look only when the random method is decided there too.
    assert result.decisions["gradcam"].decided_at == 16 and result.stopped_early is (
        result.decisions["knows-nothing"].decided_at == 16)


def test_rows_and_decisions_do_not_depend_on_the_batch_size(setting):
    small, large = _run(setting, batch_size=5), _run(setting, batch_size=16)
    pd.testing.assert_frame_equal(small.rows, large.rows)
    assert small.decisions == large.decisions
    assert small.n_used == large.n_used


def test_one_look_without_sequential_sampling(setting):
    result = _run(setting, batch_size=8, sequential=False)
    assert result.looks == (N,) and result.levels == (0.05,) and result.n_used == N
    assert not result.stopped_early
    assert dataclasses.asdict(result.decisions["gradcam"])["outcome"] == "faithful"
