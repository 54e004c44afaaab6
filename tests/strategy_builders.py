"""Builders for the strategy tests: image folders where a fixed share of one class carries a
small tag in a corner (a planted Clever-Hans cue, as the horse class's copyright tag in
Lapuschkin et al. 2019), and a tiny CNN trained on them in a few seconds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

SIZE = 48
CLASSES = ["disk", "square"]
TAG = 8  # the tag's side in pixels, in the top-left corner


def draw(rng, label: int, *, tagged: bool, faint: bool) -> np.ndarray:
    """One image: a noisy gray background, a disk or a square near the centre; a tagged image
    has a faint object and a red-and-white checked tag in the top-left corner."""
    image = rng.normal(110, 12, (SIZE, SIZE, 3))
    contrast = 8 if faint else 110
    cy, cx = rng.integers(SIZE // 2 - 5, SIZE // 2 + 6, 2)
    yy, xx = np.mgrid[:SIZE, :SIZE]
    if label == 0:
        inside = (yy - cy) ** 2 + (xx - cx) ** 2 <= 8 ** 2
    else:
        inside = (abs(yy - cy) <= 7) & (abs(xx - cx) <= 7)
    image[inside] += contrast
    if tagged:
        checks = ((yy[:TAG, :TAG] // 2 + xx[:TAG, :TAG] // 2) % 2).astype(bool)
        image[1:TAG + 1, 1:TAG + 1] = np.where(checks[..., None], [255, 255, 255], [220, 0, 0])
    return np.clip(image, 0, 255).astype(np.uint8)


def make_set(n_per_class: int, *, tag_fraction: float, seed: int, faint_fraction=None):
    """Images, labels and tag flags: ``tag_fraction`` of class 0 tagged (their object faint),
    class 1 never. ``faint_fraction`` (default ``tag_fraction``) of class 0 has a faint
    object: a set with faint objects but no tag is the control."""
    rng = np.random.default_rng(seed)
    images, labels, tagged = [], [], []
    for label in range(len(CLASSES)):
        faint = tag_fraction if faint_fraction is None else faint_fraction
        n_tagged = int(round(tag_fraction * n_per_class)) if label == 0 else 0
        n_faint = int(round(faint * n_per_class)) if label == 0 else 0
        for i in range(n_per_class):
            flag = i < n_tagged
            images.append(draw(rng, label, tagged=flag, faint=i < n_faint))
            labels.append(label)
            tagged.append(flag)
    return np.stack(images), np.array(labels), np.array(tagged)


def write_folder(root: Path, images, labels, tagged) -> dict[str, bool]:
    """An image folder (one subfolder per class, nested files, a stray non-image) and, for
    each sample id, whether it is tagged."""
    flags = {}
    for i, (image, label, flag) in enumerate(zip(images, labels, tagged, strict=True)):
        rel = f"{CLASSES[label]}/part{i % 2}/{i:04d}.png"
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(root / rel)
        flags[rel] = bool(flag)
    (root / CLASSES[0] / "notes.txt").write_text("not an image")
    return flags


def train(images, labels, path: Path, *, seed: int) -> Path:
    """The demo CNN (:func:`audit.demo.train.build_model`) trained on ``images``."""
    import keras

    from audit.demo.train import build_model

    keras.utils.set_random_seed(seed)
    model = build_model(input_size=SIZE, n_classes=len(CLASSES))
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    model.fit(images.astype("float32") / 255.0, labels, epochs=10, batch_size=32, verbose=0,
              shuffle=True)
    model.save(path)
    return path
