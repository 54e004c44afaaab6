"""A small Keras CNN for the demo dataset, and its training.

The model takes RGB images scaled to ``[0, 1]`` (the audit feeds ``x / 255``; no rescaling layer
inside). Its last convolution, named ``last_conv``, is followed directly by global average
pooling and a softmax head, so it is both the layer a CAM explains by default and a plain
CAM architecture.
"""

from __future__ import annotations

import csv
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from audit.io import atomic_write_json

LAST_CONV = "last_conv"


def build_model(*, input_size: int = 64, n_classes: int = 3):
    """A small CAM-style CNN for ``input_size`` x ``input_size`` RGB images in ``[0, 1]``.

    A strided Conv-BN-ReLU stem, two Conv-BN-ReLU layers, one max pooling, then
    ``last_conv`` (3x3, ReLU) at a quarter of the input's resolution (16x16 for 64 px),
    global average pooling and a softmax head. Small on purpose: it trains in seconds on two
    CPU cores. The map is fine and the receptive field of ``last_conv`` small (21 px), so a
    model that learnt the background shows it on the background: with a coarser, wider last
    layer every cell near the object also sees the background around it, and the maps of a
    background-learner pile up on the object as well.
    """
    import keras
    from keras import layers

    inputs = keras.Input(shape=(input_size, input_size, 3), name="image")
    x = layers.Conv2D(16, 3, strides=2, padding="same", use_bias=False, name="stem")(inputs)
    # momentum 0.9: the moving statistics must settle within a few dozen steps.
    x = layers.BatchNormalization(momentum=0.9, name="stem_bn")(x)
    x = layers.ReLU(name="stem_relu")(x)
    for i, filters in enumerate((16, 32), start=1):
        x = layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"conv{i}")(x)
        x = layers.BatchNormalization(momentum=0.9, name=f"bn{i}")(x)
        x = layers.ReLU(name=f"relu{i}")(x)
    x = layers.MaxPooling2D(2, name="pool")(x)
    x = layers.Conv2D(64, 3, padding="same", activation="relu", name=LAST_CONV)(x)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = layers.Dense(n_classes, activation="softmax", name="predictions")(x)
    return keras.Model(inputs, outputs, name="demo_cnn")


def read_dataset_info(dataset_dir: str | os.PathLike) -> dict:
    """The generator's ``dataset.json`` of ``dataset_dir`` (empty when there is none)."""
    path = Path(dataset_dir) / "dataset.json"
    if not path.exists():
        return {}
    return json.loads(path.read_text(encoding="utf-8"))


def load_images(dataset_dir: str | os.PathLike,
                classes: list[str] | None = None) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Load a manifest's images into memory.

    Returns ``(x, y, classes)``: ``x`` float32 ``(N, H, W, 3)`` in ``[0, 1]``, ``y`` int labels
    indexing ``classes`` (from ``dataset.json``, else the sorted label names, unless given).
    """
    dataset_dir = Path(dataset_dir)
    with open(dataset_dir / "manifest.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    if not rows:
        raise ValueError(f"{dataset_dir / 'manifest.csv'} has no rows")
    if classes is None:
        classes = read_dataset_info(dataset_dir).get("classes") or sorted(
            {r["label"] for r in rows})
    index = {name: i for i, name in enumerate(classes)}
    images = []
    for row in rows:
        with Image.open(dataset_dir / row["image"]) as img:
            images.append(np.asarray(img.convert("RGB"), dtype=np.uint8))
    x = np.stack(images).astype(np.float32) / 255.0
    y = np.asarray([index[r["label"]] for r in rows], dtype=np.int64)
    return x, y, list(classes)


def evaluate(model, dataset_dir: str | os.PathLike, *, batch_size: int = 64) -> float:
    """Accuracy of ``model`` (a Keras model or a ``.keras`` path) on a manifest's images."""
    import keras

    if not hasattr(model, "predict"):
        model = keras.models.load_model(model, compile=False)
    x, y, _ = load_images(dataset_dir)
    probs = model.predict(x, batch_size=batch_size, verbose=0)
    return float(np.mean(np.argmax(probs, axis=1) == y))


def train_model(
    dataset_dir: str | os.PathLike,
    out_path: str | os.PathLike,
    *,
    epochs: int,
    seed: int,
    batch_size: int = 32,
    learning_rate: float = 2e-3,
    verbose: int = 0,
) -> dict:
    """Train :func:`build_model` on ``dataset_dir``'s manifest and save it to ``out_path``.

    Seeds Keras, numpy's and Python's global generators through
    ``keras.utils.set_random_seed(seed)``. The ``.keras`` file is written atomically, then
    ``<out_path>.json`` beside it with the training figures, which are also returned:
    final training loss and accuracy, epochs, seed, sizes, seconds, and the dataset's
    ``background_correlation`` (from its ``dataset.json``).
    """
    import keras

    out_path = Path(out_path)
    if out_path.suffix != ".keras":
        raise ValueError(f"model path must end in .keras, got {out_path}")
    info = read_dataset_info(dataset_dir)
    start = time.perf_counter()
    x, y, classes = load_images(dataset_dir)

    keras.utils.set_random_seed(seed)
    model = build_model(input_size=x.shape[1], n_classes=len(classes))
    model.compile(optimizer=keras.optimizers.Adam(learning_rate),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    history = model.fit(x, y, epochs=epochs, batch_size=batch_size, shuffle=True,
                        verbose=verbose)
    train_seconds = time.perf_counter() - start
    # Accuracy of the final weights in inference mode (BN moving statistics), not the
    # running average over the last epoch's batches.
    probs = model.predict(x, batch_size=128, verbose=0)
    accuracy = float(np.mean(np.argmax(probs, axis=1) == y))

    out_path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out_path.stem}.", suffix=".tmp.keras",
                               dir=out_path.parent)
    os.close(fd)
    try:
        model.save(tmp)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; the model is not
        os.replace(tmp, out_path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise

    metrics = {
        "model": out_path.name,
        "dataset": os.fspath(dataset_dir),
        "classes": classes,
        "input_size": int(x.shape[1]),
        "n_train": int(len(y)),
        "epochs": epochs,
        "batch_size": batch_size,
        "learning_rate": learning_rate,
        "seed": seed,
        "background_correlation": info.get("background_correlation"),
        "dataset_seed": info.get("seed"),
        "dataset_version": info.get("version"),
        "accuracy": accuracy,
        "final_loss": float(history.history["loss"][-1]),
        "final_epoch_accuracy": float(history.history["accuracy"][-1]),
        "train_seconds": round(train_seconds, 2),
    }
    atomic_write_json(out_path.with_name(out_path.name + ".json"), metrics)
    return metrics
