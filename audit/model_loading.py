"""Load a user's Keras model file, with errors that say which formats are accepted."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

from audit.errors import ModelError

ACCEPTED_FORMATS = "a Keras 3 '.keras' file or a legacy HDF5 '.h5' / '.hdf5' file"
_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def load_model(path: str | os.PathLike):
    """Load a Keras model from ``path`` without compiling it.

    Parameters
    ----------
    path : str or path-like
        A ``.keras`` file (Keras 3 zip format) or a ``.h5``/``.hdf5`` file.

    Returns
    -------
    keras.Model

    Raises
    ------
    ModelError
        When the path does not exist, is a directory (a TensorFlow SavedModel, which Keras 3
        cannot load as a model), has another extension, or is not a valid Keras file.
    """
    import keras

    path = Path(path)
    if not path.exists():
        raise ModelError(f"Model file '{path}' does not exist. Expected {ACCEPTED_FORMATS}.")
    if path.is_dir():
        hint = ""
        if (path / "saved_model.pb").exists():
            hint = (" It looks like a TensorFlow SavedModel, which Keras 3 cannot load as a "
                    "model: re-save it with `model.save('model.keras')`.")
        raise ModelError(f"Model path '{path}' is a directory.{hint} Expected {ACCEPTED_FORMATS}.")
    suffix = path.suffix.lower()
    if suffix == ".keras":
        if not zipfile.is_zipfile(path):
            raise ModelError(f"Model file '{path}' is not a valid .keras file (a .keras file is a "
                             f"zip archive). Expected {ACCEPTED_FORMATS}.")
    elif suffix in (".h5", ".hdf5"):
        with open(path, "rb") as handle:
            if handle.read(8) != _HDF5_SIGNATURE:
                raise ModelError(f"Model file '{path}' is not an HDF5 file. "
                                 f"Expected {ACCEPTED_FORMATS}.")
    else:
        raise ModelError(f"Model file '{path}' has the extension '{path.suffix or '(none)'}'. "
                         f"Expected {ACCEPTED_FORMATS}.")
    try:
        model = keras.models.load_model(path, compile=False)
    except Exception as exc:  # Keras raises many types for a broken file.
        raise ModelError(f"Could not load model file '{path}': {type(exc).__name__}: {exc}. "
                         f"Expected {ACCEPTED_FORMATS}.") from exc
    if not isinstance(model, keras.Model):
        raise ModelError(f"Model file '{path}' holds a {type(model).__name__}, not a keras.Model.")
    return model
