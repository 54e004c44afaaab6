"""The evidence blocks on the demo's trained models: the planted bias shows without a CAM.

The demo's biased model learned the background colour (correlation 0.95 in training), the
unbiased one the shape; the audit set is decorrelated. Numbers measured when this was
written: background_reliance with the gray fill +0.53 (biased) and -0.60 (unbiased); the
mean fill gives 0.0 for the biased model, because the object covers 17% of the image and the
image's mean colour is the background's (see the Notes of ``fill_region``).
"""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from PIL import Image

from audit.datasets.types import Box
from audit.evidence.behaviour import background_decision, background_reliance, keeps
from audit.evidence.fills import remove_background, remove_object
from audit.evidence.sanity import cascading_randomization
from audit.evidence.similarity import spearman
from audit.metrics import boxes_to_mask

pytestmark = pytest.mark.slow


def audit_set(dataset_dir):
    """uint8 images, box masks and labels of the demo's audit set."""
    with open(dataset_dir / "manifest.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    classes = json.loads((dataset_dir / "dataset.json").read_text(encoding="utf-8"))["classes"]
    images, masks = [], []
    for row in rows:
        with Image.open(dataset_dir / row["image"]) as img:
            image = np.asarray(img.convert("RGB"), dtype=np.uint8)
        box = Box(*(float(row[k]) for k in ("x_min", "y_min", "x_max", "y_max")))
        images.append(image)
        masks.append(boxes_to_mask([box], image.shape[:2]))
    labels = np.array([classes.index(row["label"]) for row in rows])
    return images, masks, labels


def predict(model, images):
    # The demo models take [0, 1] inputs (audit.demo.train.load_images).
    return model.predict(np.stack(images).astype(np.float32) / 255.0, verbose=0)


def behaviour(model_path, dataset_dir, fill):
    import keras

    model = keras.models.load_model(model_path, compile=False)
    images, masks, labels = audit_set(dataset_dir)
    predicted = predict(model, images).argmax(axis=1)
    without_object = keeps(predicted, predict(
        model, [remove_object(i, m, fill=fill) for i, m in zip(images, masks, strict=True)]))
    without_background = keeps(predicted, predict(
        model, [remove_background(i, m, fill=fill) for i, m in zip(images, masks, strict=True)]))
    decisions = [
        background_decision(bool(p == t), a, b)
        for p, t, a, b in zip(predicted, labels, without_object, without_background, strict=True)
    ]
    return background_reliance(without_object, without_background), np.array(decisions)


def test_behaviour_separates_the_biased_and_the_shape_model(
        demo_small_biased, demo_small_unbiased):
    biased, decisions = behaviour(demo_small_biased.model_path, demo_small_biased.audit_dir,
                                  "gray")
    unbiased, _ = behaviour(demo_small_unbiased.model_path, demo_small_unbiased.audit_dir,
                            "gray")
    assert biased > 0.3
    assert unbiased < -0.3
    # Most of the biased model's errors rest on the background by behaviour alone.
    wrong = decisions[~np.isnan(decisions)]
    assert len(wrong) >= 10 and wrong.mean() > 0.5


def test_cam_of_the_demo_model_fails_to_survive_randomisation(demo_small_biased):
    import keras

    model = keras.models.load_model(demo_small_biased.model_path, compile=False)
    images, _, _ = audit_set(demo_small_biased.audit_dir)
    x = np.stack(images).astype(np.float32) / 255.0
    predicted = model.predict(x, verbose=0).argmax(axis=1)

    def cams(net):
        # GAP + dense: the CAM of the predicted class, scaled to [0, 1].
        acts = keras.Model(net.inputs, net.get_layer("last_conv").output).predict(x, verbose=0)
        weights, _ = net.get_layer("predictions").get_weights()
        maps = np.maximum(np.einsum("nhwk,kn->nhw", acts, weights[:, predicted]), 0.0)
        peak = maps.max(axis=(1, 2), keepdims=True)
        return np.divide(maps, peak, out=np.zeros_like(maps), where=peak > 0)

    reference = cams(model)
    similarity = []
    for step in cascading_randomization(model, steps=3, seed=0):
        randomised = cams(step.model)
        similarity.append(np.nanmean([spearman(a, b) for a, b in zip(reference, randomised,
                                                                      strict=True)]))
    assert similarity[-1] < similarity[0]
    assert similarity[-1] < 0.3
