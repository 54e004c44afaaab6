"""Loading model files: .keras and .h5 load; anything else gets an error naming the formats;
custom classes load through imports or custom_objects; Lambda layers only with safe mode off."""

from __future__ import annotations

import importlib.util
import sys
import warnings
import zipfile

import keras
import numpy as np
import pytest

from audit.cams import CamExplainer
from audit.config import parse_config
from audit.errors import ConfigError, ModelError
from audit.models.loading import load_model


@pytest.fixture(scope="module")
def tiny():
    keras.utils.set_random_seed(0)
    return keras.Sequential([
        keras.Input((16, 16, 3)), keras.layers.Conv2D(4, 3, activation="relu", name="conv"),
        keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(2, activation="softmax"),
    ])


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_keras_and_h5_load_and_explain(tiny, tmp_path, suffix):
    path = tmp_path / f"model{suffix}"
    tiny.save(path)
    model = load_model(path)
    x = np.random.default_rng(0).random((2, 16, 16, 3), dtype=np.float32)
    np.testing.assert_allclose(model.predict(x, verbose=0), tiny.predict(x, verbose=0),
                               rtol=1e-6)
    maps = CamExplainer(model).explain(x, np.array([0, 1]), ("gradcam",))
    assert maps["gradcam"].shape == (2, 16, 16)


def test_errors_say_which_formats_are_accepted(tmp_path):
    accepted = r"\.keras.*\.h5"
    with pytest.raises(ModelError, match=f"does not exist.*{accepted}"):
        load_model(tmp_path / "missing.keras")
    bad_zip = tmp_path / "broken.keras"
    bad_zip.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(ModelError, match=accepted):
        load_model(bad_zip)
    bad_h5 = tmp_path / "broken.h5"
    bad_h5.write_text("hello")
    with pytest.raises(ModelError, match=f"not an HDF5 file.*{accepted}"):
        load_model(bad_h5)
    onnx = tmp_path / "model.onnx"
    onnx.write_bytes(b"\0")
    with pytest.raises(ModelError, match=f"extension '.onnx'.*{accepted}"):
        load_model(onnx)
    saved = tmp_path / "export"
    saved.mkdir()
    (saved / "saved_model.pb").write_bytes(b"")
    with pytest.raises(ModelError, match="SavedModel.*model.save\\('model.keras'\\)"):
        load_model(saved)


# Custom classes, imports and safe mode. A model file names its custom classes; the tests
# build a model with a class, then make Keras forget it (as a fresh process would) and check
# that the loader finds it again only the way a user would tell it to.

SCALE_SOURCE = '''
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


class Gain(keras.layers.Layer):  # not registered: found through custom_objects only
    def call(self, x):
        return x * 3.0
'''


def _forget(*module_names: str) -> None:
    """Undo the imports of ``module_names`` and the registration of ``acme>Scale``."""
    for name in module_names:
        sys.modules.pop(name, None)
    keras.saving.get_custom_objects().pop("acme>Scale", None)


@pytest.fixture()
def acme(tmp_path):
    """A folder holding ``acme_layers.py`` and a model saved with its two custom layers;
    Keras does not know the classes when the test starts."""
    folder = tmp_path / "configs"
    folder.mkdir()
    (folder / "acme_layers.py").write_text(SCALE_SOURCE)
    spec = importlib.util.spec_from_file_location("_acme_build", folder / "acme_layers.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    model = keras.Sequential([
        keras.Input((16, 16, 3)), keras.layers.Conv2D(4, 3, activation="relu", name="conv"),
        module.Scale(name="scale"), module.Gain(name="gain"),
        keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(2, activation="softmax"),
    ])
    for suffix in (".keras", ".h5"):
        model.save(folder / f"model{suffix}")
    _forget("acme_layers")
    yield folder
    _forget("acme_layers", "broken_layers")


def test_imports_and_custom_objects_load_a_custom_model(acme):
    path_before = list(sys.path)
    model = load_model(acme / "model.keras", imports=["acme_layers"],
                       custom_objects={"Gain": "acme_layers.Gain"}, search_path=acme)
    assert [layer.name for layer in model.layers][1:3] == ["scale", "gain"]
    assert sys.path == path_before and "acme_layers" in sys.modules
    x = np.ones((1, 16, 16, 3), dtype=np.float32)
    maps = CamExplainer(model).explain(x, np.array([0]), ("gradcam",))
    assert maps["gradcam"].shape == (1, 16, 16)
    _forget("acme_layers")
    # The dotted path alone imports the module; the .h5 format reads the same names.
    model = load_model(acme / "model.h5", custom_objects={"Scale": "acme_layers.Scale",
                                                          "Gain": "acme_layers.Gain"},
                       search_path=acme)
    assert model.get_layer("scale").factor == 2.0


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_unknown_class_names_it_and_the_keys_that_import_it(acme, suffix):
    with pytest.raises(ModelError) as info:
        load_model(acme / f"model{suffix}")
    message = str(info.value)
    assert "Scale" in message and "could not locate" in message
    assert "model.imports" in message and "model.custom_objects" in message
    assert "custom_objects: {Scale: acme.layers.Scale}" in message
    assert "Expected" not in message and "Full object config" not in message
    with pytest.raises(ModelError, match="'Gain'.*model.imports \\(acme_layers\\) were imported"):
        load_model(acme / f"model{suffix}", imports=["acme_layers"], search_path=acme)


def test_failed_imports_name_module_folder_and_error(acme):
    with pytest.raises(ModelError, match=(
            "model.imports: cannot import module 'acme.layers' \\(searched '.*configs' first, "
            "then the Python path\\): ModuleNotFoundError: No module named 'acme'")):
        load_model(acme / "model.keras", imports=["acme.layers"], search_path=acme)
    (acme / "broken_layers.py").write_text("import keras\nraise RuntimeError('no GPU here')\n")
    with pytest.raises(ModelError, match="'broken_layers'.*RuntimeError: no GPU here"):
        load_model(acme / "model.keras", imports=["broken_layers"], search_path=acme)
    with pytest.raises(ModelError, match=("model.custom_objects: Gain: module 'acme_layers' "
                                          "\\(.*acme_layers.py\\) has no attribute 'Gian'")):
        load_model(acme / "model.keras", custom_objects={"Gain": "acme_layers.Gian"},
                   search_path=acme)


LAMBDA_REFUSED = (
    "contains a Lambda layer (Python code), which Keras's safe mode refuses to load. Loading it "
    "runs the code stored in the file, which can do anything your user account can do. If you "
    "trust where the file comes from, set model.safe_mode: false in the configuration.")


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_lambda_layers_need_safe_mode_off(tmp_path, suffix):
    model = keras.Sequential([
        keras.Input((16, 16, 3)), keras.layers.Lambda(lambda t: t * 2.0 - 1.0, name="shift"),
        keras.layers.Conv2D(4, 3, activation="relu"), keras.layers.GlobalAveragePooling2D(),
        keras.layers.Dense(2, activation="softmax"),
    ])
    path = tmp_path / f"lambda{suffix}"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Keras warns that a lambda is being saved
        model.save(path)
    with pytest.raises(ModelError) as info:
        load_model(path)
    assert str(info.value) == f"Model file '{path}' {LAMBDA_REFUSED}"
    loaded = load_model(path, safe_mode=False)
    x = np.ones((1, 16, 16, 3), dtype=np.float32)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0),
                               rtol=1e-6)


def test_other_failures_say_what_keras_said_not_the_format(tmp_path):
    path = tmp_path / "model.keras"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("config.json", "{not json")
    with pytest.raises(ModelError) as info:
        load_model(path)
    assert "Keras said: JSONDecodeError" in str(info.value)
    assert "Expected" not in str(info.value)
    weights = tmp_path / "weights.h5"
    keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)]).save_weights(
        tmp_path / "w.weights.h5")
    (tmp_path / "w.weights.h5").rename(weights)
    with pytest.raises(ModelError, match="Keras said: ValueError: No model config found"):
        load_model(weights)
    with zipfile.ZipFile(tmp_path / "photos.keras", "w") as archive:
        archive.writestr("a.txt", "")
    with pytest.raises(ModelError, match="zip archive but not a Keras model.*Expected"):
        load_model(tmp_path / "photos.keras")


def test_config_model_keys(tmp_path):
    base = {"model": {"path": "m.keras"}, "dataset": {"path": "d.csv"}}
    plain = parse_config(base, base_dir=tmp_path).model
    assert (plain.imports, plain.custom_objects, plain.safe_mode, plain.search_path) == (
        [], {}, True, None)
    config = parse_config({**base, "model": {
        "path": "m.keras", "imports": "acme.layers", "custom_objects": {"Scale": "acme.Scale"},
        "safe_mode": False}}, base_dir=tmp_path)
    assert config.model.imports == ["acme.layers"] and config.model.safe_mode is False
    assert config.model.search_path == tmp_path
    # The folder travels with the resolved configuration (a resumed run reads it back).
    assert parse_config(config.resolved_dump()).model.search_path == tmp_path
    for model, expected in [
        ({"imports": ["acme-layers"]},
         "c.yaml: model.imports.0 must be a module name like 'acme.layers'; got "
         "'acme-layers'"),
        ({"custom_objects": {"Scale": "Scale"}},
         "c.yaml: model.custom_objects.Scale must be a dotted path to a class or function, "
         "like 'acme.layers.Scale'; got 'Scale'"),
        ({"safe_mode": "perhaps"}, "c.yaml: model.safe_mode must be a valid boolean, unable to "
         "interpret input; got 'perhaps'"),
    ]:
        with pytest.raises(ConfigError) as info:
            parse_config({**base, "model": {"path": "m.keras", **model}}, where="c.yaml")
        assert str(info.value) == expected
