"""Loading model files: .keras and .h5 load; anything else gets an error naming the formats."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from audit.cams import CamExplainer
from audit.errors import ModelError
from audit.model_loading import load_model


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
