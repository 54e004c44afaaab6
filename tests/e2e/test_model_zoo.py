"""The models people ship, audited end to end through the command line.

Each model is built with random weights (nothing is downloaded), saved to a file and audited
through ``audit.app.cli.main`` on a few images the test writes (PNG and JPEG, with boxes). A run
must end with a verdict, exit code 0 or 1 (random weights decide whether a gate passes), and
explain the layer a practitioner would pick, named in each test: for a ``keras.applications``
backbone the last activation before global pooling, for a small CNN its last convolution.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import warnings
from pathlib import Path

import keras
import numpy as np
import pandas as pd
import pytest
import yaml
from PIL import Image
from tiny_models import tiny_vit, two_headed

from audit.app.cli import main
from audit.config import load_config
from audit.errors import ModelError
from audit.stages.load_model import load_model

pytestmark = pytest.mark.slow

CLASSES = ["cat", "dog", "fox"]
IMAGE_SIZE = (72, 80)  # height, width: unlike every model's input, so images are resized
QUICK = {"methods": ["gradcam"], "targets": ["predicted"], "batch_size": 4, "micro_batch": 4}
L = keras.layers


def _write_images(folder: Path, *, size=IMAGE_SIZE, mode="RGB", n=4, labels=CLASSES) -> Path:
    """``n`` images, alternately PNG and JPEG, each a bright rectangle on a dark noisy
    background, and a CSV manifest with the rectangles as boxes."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    height, width = size
    rows = []
    for i in range(n):
        pixels = rng.integers(0, 90, (height, width, 3), dtype=np.uint8)
        x0, y0 = int(rng.integers(0, width // 2)), int(rng.integers(0, height // 2))
        x1, y1 = x0 + width // 3, y0 + height // 3
        pixels[y0:y1, x0:x1] = (230, 180, 40)
        name = f"img{i}.{'png' if i % 2 == 0 else 'jpg'}"
        Image.fromarray(pixels).convert(mode).save(folder / name)
        rows.append({"image": name, "label": labels[i % len(labels)], "x_min": x0, "y_min": y0,
                     "x_max": x1, "y_max": y1})
    manifest = folder / "manifest.csv"
    pd.DataFrame(rows).to_csv(manifest, index=False)
    return manifest


def _coco(manifest: Path) -> Path:
    """The CSV manifest's images and boxes as a COCO JSON file beside it."""
    rows = pd.read_csv(manifest)
    categories = {name: i + 1 for i, name in enumerate(sorted(rows["label"].unique()))}
    images, annotations = [], []
    for i, row in enumerate(rows.itertuples(), start=1):
        width, height = Image.open(manifest.parent / row.image).size
        images.append({"id": i, "file_name": row.image, "width": width, "height": height})
        annotations.append({"id": i, "image_id": i, "category_id": categories[row.label],
                            "bbox": [row.x_min, row.y_min, row.x_max - row.x_min,
                                     row.y_max - row.y_min]})
    path = manifest.parent / "instances.json"
    path.write_text(json.dumps({"images": images, "annotations": annotations, "categories": [
        {"id": i, "name": name} for name, i in categories.items()]}))
    return path


def _audit(folder: Path, model_path: Path, manifest: Path, *, model: dict | None = None,
           cams: dict | None = None, class_names: list | None = CLASSES,
           gallery_size: int = 0, dataset: dict | None = None) -> tuple[int, Path]:
    """Write ``folder/config.yaml`` and run ``cam-audit run`` on it; the exit code and run.

    The report's gallery re-explains its samples, which costs a model trace; it is drawn
    only where a test asks for it."""
    folder.mkdir(parents=True, exist_ok=True)
    section = {"path": str(model_path), **(model or {})}
    if class_names is not None:
        section["class_names"] = class_names
    config = {"run_name": "zoo", "model": section,
              "dataset": {"path": str(manifest), **(dataset or {})},
              "cams": cams or QUICK, "metrics": {"bootstrap_resamples": 100},
              "report": {"out_dir": str(folder / "reports"), "gallery_size": gallery_size}}
    (folder / "config.yaml").write_text(yaml.safe_dump(config))
    out = folder / "run"
    return main(["run", str(folder / "config.yaml"), "--out", str(out), "--quiet"]), out


def _explained_layer(run: Path) -> str:
    return json.loads((run / "summary.json").read_text())["provenance"]["layer"]


def _assert_every_default_method_ran(run: Path, *, scorecam_channels: int) -> None:
    """Every default method explained the predicted class of all 4 images, Score-CAM on the
    given channel budget (as provenance states it)."""
    summary = json.loads((run / "summary.json").read_text())
    assert summary["provenance"]["scorecam_channels"] == scorecam_channels
    records = pd.read_csv(run / "records.csv")
    predicted = records[records["target"] == "predicted"]
    assert sorted(predicted["method"].unique()) == ["gradcam", "gradcam++", "negative",
                                                    "scorecam"]
    assert predicted.groupby("method")["sample_id"].nunique().eq(4).all()


def _save(model, path: Path) -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Keras warns when it saves a Python lambda
        model.save(path)
    return path


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> Path:
    """The manifest of four RGB images, three classes."""
    return _write_images(tmp_path_factory.mktemp("images"))


@pytest.fixture(scope="module")
def resnet50(tmp_path_factory) -> Path:
    """ResNet50 at 64 px (its smallest size with a spatial last block: 2x2), a 95 MB file."""
    keras.utils.set_random_seed(0)
    model = keras.applications.ResNet50(weights=None, input_shape=(64, 64, 3), classes=3)
    return _save(model, tmp_path_factory.mktemp("resnet50") / "resnet50.keras")


def test_mobilenet_v2_every_method(tmp_path, images):
    """MobileNetV2's last activation is ``out_relu``. The default methods, Score-CAM on 8
    channels, all produce scores on this backbone."""
    keras.utils.set_random_seed(0)
    model = keras.applications.MobileNetV2(weights=None, input_shape=(96, 96, 3), alpha=0.35,
                                           classes=3)
    path = _save(model, tmp_path / "mobilenet_v2.keras")
    code, run = _audit(tmp_path, path, images,
                       cams={"scorecam_max_channels": 8, "batch_size": 4, "micro_batch": 4})
    assert code == 0  # no gate is configured: the audit runs and passes
    assert _explained_layer(run) == "out_relu"
    _assert_every_default_method_ran(run, scorecam_channels=8)


def test_efficientnet_b0(tmp_path, images):
    """EfficientNetB0's last activation is ``top_activation``."""
    keras.utils.set_random_seed(0)
    model = keras.applications.EfficientNetB0(weights=None, input_shape=(64, 64, 3), classes=3)
    code, run = _audit(tmp_path, _save(model, tmp_path / "efficientnet_b0.keras"), images)
    assert code == 0  # no gate is configured: the audit runs and passes
    assert _explained_layer(run) == "top_activation"


def test_resnet50(tmp_path, images, resnet50):
    """ResNet50's last residual block output is ``conv5_block3_out``."""
    code, run = _audit(tmp_path, resnet50, images)
    assert code == 0  # no gate is configured: the audit runs and passes
    assert _explained_layer(run) == "conv5_block3_out"


def test_grayscale_28px(tmp_path):
    """A 28x28 one-channel CNN (labels are class indices, no class names): its last
    convolution ``conv2``."""
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((28, 28, 1)), L.Conv2D(8, 3, activation="relu", name="conv1"),
        L.MaxPooling2D(2), L.Conv2D(16, 3, activation="relu", name="conv2"),
        L.GlobalAveragePooling2D(), L.Dense(10, activation="softmax"),
    ])
    manifest = _write_images(tmp_path / "digits", size=(28, 28), mode="L", labels=[3, 7, 0, 9])
    code, run = _audit(tmp_path, _save(model, tmp_path / "digits.keras"), manifest,
                       class_names=None)
    assert code == 0  # no gate is configured: the audit runs and passes
    assert _explained_layer(run) == "conv2"
    records = pd.read_csv(run / "records.csv")
    assert sorted(records["label"].unique()) == [0, 3, 7, 9]


def test_augmentation_layers_in_front(tmp_path, images):
    """RandomFlip and RandomRotation in front of the convolutions are inactive in an audit:
    the recorded confidences are the model's inference-mode predictions. The layer is the
    last convolution ``conv2``."""
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((*IMAGE_SIZE, 3)), L.RandomFlip("horizontal"), L.RandomRotation(0.5),
        L.Conv2D(8, 3, activation="relu", name="conv1"), L.MaxPooling2D(2),
        L.Conv2D(16, 3, activation="relu", name="conv2"), L.GlobalAveragePooling2D(),
        L.Dropout(0.5), L.Dense(3, activation="softmax"),
    ])
    code, run = _audit(tmp_path, _save(model, tmp_path / "augmented.keras"), images,
                       gallery_size=2)
    assert code == 0  # no gate is configured: the audit runs and passes
    assert _explained_layer(run) == "conv2"
    manifest = pd.read_csv(images)
    pixels = np.stack([np.asarray(Image.open(images.parent / name).convert("RGB"))
                       for name in manifest["image"]]).astype(np.float32) / 255.0
    expected = model.predict(pixels, verbose=0).max(axis=1)
    records = pd.read_csv(run / "records.csv").drop_duplicates("sample_id")
    np.testing.assert_allclose(records["confidence"].to_numpy(), expected, rtol=1e-4)


def test_mixed_precision(tmp_path, images):
    """float16 convolutions with a float32 softmax head: the last convolution ``conv2``."""
    keras.utils.set_random_seed(0)
    mixed = keras.DTypePolicy("mixed_float16")
    model = keras.Sequential([
        keras.Input((*IMAGE_SIZE, 3)),
        L.Conv2D(8, 3, activation="relu", name="conv1", dtype=mixed),
        L.MaxPooling2D(2, dtype=mixed),
        L.Conv2D(16, 3, activation="relu", name="conv2", dtype=mixed),
        L.GlobalAveragePooling2D(dtype=mixed), L.Dense(3, activation="softmax", dtype="float32"),
    ])
    code, run = _audit(tmp_path, _save(model, tmp_path / "mixed.keras"), images)
    assert code == 0  # no gate is configured: the audit runs and passes
    assert _explained_layer(run) == "conv2"


# Custom layers live in the user's own module. The tests write it beside the configuration,
# build the model with a private copy of it, then make Keras forget the classes, as a fresh
# process would not know them.

ACME_LAYERS = '''
import keras


@keras.saving.register_keras_serializable(package="acme")
class Scale(keras.layers.Layer):
    def __init__(self, factor=2.0, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def call(self, x):
        return x * self.factor

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


class Gain(keras.layers.Layer):  # not registered: found through model.custom_objects only
    def call(self, x):
        return x * 3.0
'''


def _forget_acme() -> None:
    sys.modules.pop("acme_layers", None)
    keras.saving.get_custom_objects().pop("acme>Scale", None)


@pytest.fixture(scope="module")
def acme_models(tmp_path_factory):
    """A folder with ``acme_layers.py`` and two models: one with its registered ``Scale``
    layer, one with its unregistered ``Gain`` layer."""
    folder = tmp_path_factory.mktemp("acme")
    (folder / "acme_layers.py").write_text(ACME_LAYERS)
    spec = importlib.util.spec_from_file_location("_acme_build", folder / "acme_layers.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    paths = {}
    for name, custom in (("scale", module.Scale), ("gain", module.Gain)):
        keras.utils.set_random_seed(0)
        model = keras.Sequential([
            keras.Input((*IMAGE_SIZE, 3)), L.Conv2D(8, 3, activation="relu", name="conv1"),
            custom(name=name), L.Conv2D(16, 3, activation="relu", name="conv2"),
            L.GlobalAveragePooling2D(), L.Dense(3, activation="softmax"),
        ])
        paths[name] = _save(model, folder / f"{name}.keras")
    _forget_acme()
    return folder, paths


@pytest.fixture()
def fresh_acme():
    """Each test imports ``acme_layers`` afresh, and leaves it unimported."""
    _forget_acme()
    yield
    _forget_acme()


def test_custom_layer_through_imports(capsys, acme_models, fresh_acme, images):
    """``model.imports: [acme_layers]`` finds ``acme_layers.py`` beside the configuration;
    without it the run stops with exit code 2 and a message naming the class and the key."""
    folder, paths = acme_models
    code, _ = _audit(folder / "refused", paths["scale"], images)
    err = capsys.readouterr().err
    assert code == 2
    assert "custom class 'Scale', which Keras could not locate" in err and "model.imports" in err
    code, run = _audit(folder, paths["scale"], images, model={"imports": ["acme_layers"]})
    assert code == 0  # no gate is configured: the audit runs and passes
    assert _explained_layer(run) == "conv2"
    assert str(folder) not in sys.path


def test_custom_layer_through_custom_objects(acme_models, fresh_acme, images, tmp_path):
    """An unregistered class mapped in ``model.custom_objects``, imported from the
    configuration's folder."""
    folder, paths = acme_models
    config_dir = tmp_path / "config"
    config_dir.mkdir()
    (config_dir / "acme_layers.py").write_text(ACME_LAYERS)
    code, run = _audit(config_dir, paths["gain"], images,
                       model={"custom_objects": {"Gain": "acme_layers.Gain"}})
    assert code == 0  # no gate is configured: the audit runs and passes
    assert _explained_layer(run) == "conv2"


def test_lambda_layer_needs_safe_mode_off(capsys, tmp_path, images):
    """A Lambda layer is refused by default, with the opt-in and its risk; with
    ``model.safe_mode: false`` it is audited and the run knows safe mode was off."""
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input((*IMAGE_SIZE, 3)), L.Lambda(lambda t: t * 2.0 - 1.0, name="centre"),
        L.Conv2D(8, 3, activation="relu", name="conv1"), L.MaxPooling2D(2),
        L.Conv2D(16, 3, activation="relu", name="conv2"), L.GlobalAveragePooling2D(),
        L.Dense(3, activation="softmax"),
    ])
    path = _save(model, tmp_path / "lambda.keras")
    code, _ = _audit(tmp_path / "refused", path, images)
    assert code == 2
    assert capsys.readouterr().err == (
        f"cam-audit: error: Model file '{path}' contains a Lambda layer (Python code), which "
        "Keras's safe mode refuses to load. Loading it runs the code stored in the file, which "
        "can do anything your user account can do. If you trust where the file comes from, set "
        "model.safe_mode: false in the configuration.\n")
    code, run = _audit(tmp_path, path, images, model={"safe_mode": False})
    assert code == 0  # no gate is configured: the audit runs and passes
    assert _explained_layer(run) == "conv2"
    config = load_config(tmp_path / "config.yaml")
    _, _, info = load_model(config.model, config.cams)
    assert info.safe_mode is False
    # Recorded in provenance, and the report says what it means before any figure.
    assert json.loads((run / "summary.json").read_text())["provenance"]["safe_mode"] is False
    report = (run / "report.html").read_text()
    warning = ('<div class="note bad warning">The model was loaded with model.safe_mode: '
               "false. Its file can run arbitrary Python code (Lambda layers) on every "
               "machine that loads it: audit only model files whose origin you trust.</div>")
    assert warning in report and report.index(warning) < report.index('<div class="cards">')


def test_multi_output_model_on_a_coco_dataset(capsys, tmp_path, images):
    """A classifier with an auxiliary box regressor, audited on a COCO file: without
    ``model.output`` the run stops (exit 2) listing the outputs; with ``model.output: cls`` it
    explains the class head's last convolution ``conv2`` (the auxiliary branch's ``aux_conv``
    comes later in the model but does not lead to that output)."""
    model, _ = two_headed(size=(64, 64))
    path = _save(model, tmp_path / "two_headed.keras")
    coco = {"format": "coco"}
    code, _ = _audit(tmp_path / "refused", path, _coco(images), dataset=coco)
    err = capsys.readouterr().err
    assert code == 2
    assert "has 2 outputs" in err and "model.output" in err and "'box', shape (None, 4)" in err
    code, run = _audit(tmp_path, path, _coco(images), dataset=coco, model={"output": "cls"})
    assert code == 0  # no gate is configured: the audit runs and passes
    assert _explained_layer(run) == "conv2"
    records = pd.read_csv(run / "records.csv")
    assert records["sample_id"].nunique() == 4
    assert records["confidence"].between(0, 1).all()


@pytest.fixture(scope="module")
def vit_file(tmp_path_factory) -> Path:
    """The tiny ViT of ``tiny_models``: 32x32 input, patch 8, a class token, 2 blocks."""
    return _save(tiny_vit(), tmp_path_factory.mktemp("vit") / "tiny_vit.keras")


def test_vision_transformer_every_default_method(tmp_path, images, vit_file):
    """The token grid is inferred (17 tokens: a class token and 4x4 patches) and the input of
    the last attention, ``block2_norm1``, explained; the default methods, Score-CAM on 8
    channels, and the gallery's maps all run on the reshaped tokens."""
    code, run = _audit(tmp_path, vit_file, images, gallery_size=2,
                       cams={"scorecam_max_channels": 8, "batch_size": 4, "micro_batch": 4})
    assert code == 0  # no gate is configured: the audit runs and passes
    assert _explained_layer(run) == "block2_norm1"
    _assert_every_default_method_ran(run, scorecam_channels=8)


def test_vision_transformer_tokens_from_the_configuration(tmp_path, vit_file):
    """``model.tokens`` and ``model.layer`` reach the explainer; a grid that does not fit the
    token count stops the run with the numbers."""
    def config(model: dict):
        (tmp_path / "config.yaml").write_text(yaml.safe_dump({
            "model": {"path": str(vit_file), **model}, "dataset": {"path": "d.csv"}}))
        return load_config(tmp_path / "config.yaml")

    chosen = config({"layer": "block1_add2", "tokens": {"grid": [4, 4], "skip": 1}})
    explainer, _, info = load_model(chosen.model, chosen.cams)
    assert info.layer == "block1_add2" and info.layer_channels == 16
    assert explainer.token_layout.grid == (4, 4) and explainer.token_layout.skip == 1
    wrong = config({"tokens": {"grid": [4, 5]}})
    with pytest.raises(ModelError, match=r"outputs 17 tokens, which model.tokens does not fit: "
                                         r"grid \[4, 5\] has h \* w = 20 patch tokens"):
        load_model(wrong.model, wrong.cams)
