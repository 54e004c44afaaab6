"""Load a user's Keras model file, with errors that say what went wrong and what to do.

A model file names its custom classes but does not contain their code: Keras finds a class
only when the module defining it has been imported (its ``@keras.saving.
register_keras_serializable`` decorator has run) or when the class is passed in
``custom_objects``. :func:`load_model` imports the modules it is given with ``search_path``
(the configuration file's folder) first on ``sys.path``, so a ``layers.py`` kept beside the
configuration works without being installed.

Keras's safe mode stays on unless the caller turns it off: a file with a ``Lambda`` layer
carries Python bytecode, and loading it runs that code.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import re
import sys
import zipfile
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

from audit.errors import ModelError
from audit.files import RemoteReadError, is_url, local_copy

ACCEPTED_FORMATS = "a Keras 3 '.keras' file or a legacy HDF5 '.h5' / '.hdf5' file"
_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"

# What Keras says when a class is unknown: the .keras format, then the legacy HDF5 format.
_UNKNOWN_OBJECT = (re.compile(r"Could not locate (class|function) '([^']+)'"),
                   re.compile(r"Unknown ([a-z][a-z ]*): '([^']+)'\. Please ensure"))
# What Keras says when safe mode refuses Python code in the file (a Lambda layer, a lambda).
_LAMBDA_REFUSED = ("deserialization of a `Lambda` layer", "deserialization of a Python lambda")
_KERAS_MESSAGE_LIMIT = 600


def load_model(path: str | os.PathLike, *, imports: Iterable[str] = (),
               custom_objects: Mapping[str, object] | None = None, safe_mode: bool = True,
               search_path: str | os.PathLike | None = None):
    """Load a Keras model from ``path`` without compiling it.

    Parameters
    ----------
    path : str or path-like
        A ``.keras`` file (Keras 3 zip format) or a ``.h5``/``.hdf5`` file; or its URL
        (``gs://bucket/model.keras``), read through Apache Beam's file systems.
    imports : iterable of str, keyword-only
        Modules imported before loading, in order, so that the classes they register with
        ``@keras.saving.register_keras_serializable`` are known. They stay imported.
    custom_objects : mapping, keyword-only
        Name in the model file -> the class or function, or its dotted path
        (``"acme.layers.Scale"``), which is imported. Passed to Keras's ``custom_objects``,
        also under the object's registered name (``"acme>Scale"``), which is the name Keras
        looks up for a registered class.
    safe_mode : bool, keyword-only
        Keras's safe mode. ``False`` loads ``Lambda`` layers, which runs Python code stored
        in the file: use it only for files from a trusted source.
    search_path : str or path-like, keyword-only
        A folder put first on ``sys.path`` while ``imports`` and ``custom_objects`` are
        imported (``sys.path`` is restored afterwards).

    Returns
    -------
    keras.Model

    Raises
    ------
    ModelError
        When the path does not exist, is a directory (a TensorFlow SavedModel, which Keras 3
        cannot load as a model), has another extension or is not in the format its extension
        names (the message lists the accepted formats); when a module or custom object cannot
        be imported (the message names it, the folder searched and the ImportError); when
        Keras cannot locate a custom class (the message names it and shows how to import it);
        when safe mode refuses a Lambda layer (the message names the opt-in and its risk);
        or with what Keras said for any other failure.

    Examples
    --------
    >>> model = load_model("model.keras", imports=["acme.layers"],
    ...                    search_path="configs/")  # doctest: +SKIP
    """
    if is_url(path):
        return _load_url(path, imports=imports, custom_objects=custom_objects,
                         safe_mode=safe_mode, search_path=search_path)
    import keras

    path = Path(path)
    _check_format(path)
    imports = list(imports)
    with _first_on_sys_path(search_path):
        for module in imports:
            _import(module, search_path, what="model.imports")
        objects = {name: _resolve(name, target, search_path)
                   for name, target in (custom_objects or {}).items()}
    for obj in list(objects.values()):
        # A registered class is looked up by its registered name, "package>Name".
        objects.setdefault(keras.saving.get_registered_name(obj), obj)
    try:
        model = keras.models.load_model(path, compile=False, custom_objects=objects or None,
                                        safe_mode=safe_mode)
    except Exception as exc:  # Keras raises many types for a file it cannot load.
        raise _load_error(path, exc, imports) from exc
    if not isinstance(model, keras.Model):
        raise ModelError(f"Model file '{path}' holds a {type(model).__name__}, not a keras.Model.")
    return model


def _load_url(url: str, **kwargs):
    """Load a model stored at a URL (``gs://...``): Keras reads local files only, so the file
    is copied to a temporary folder first; messages name the URL."""
    try:
        with local_copy(url) as local:
            try:
                return load_model(local, **kwargs)
            except ModelError as exc:
                raise ModelError(str(exc).replace(str(local), url)) from exc.__cause__
    except FileNotFoundError:
        raise ModelError(f"Model file '{url}' does not exist. Expected {ACCEPTED_FORMATS}."
                         ) from None
    except RemoteReadError as exc:
        raise ModelError(f"Model file '{url}' cannot be read: {exc}") from exc


def _check_format(path: Path) -> None:
    """Raise when ``path`` is not a file in a format its extension names."""
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
        with zipfile.ZipFile(path) as archive:
            if "config.json" not in archive.namelist():
                raise ModelError(f"Model file '{path}' is a zip archive but not a Keras model "
                                 f"(it has no config.json). Expected {ACCEPTED_FORMATS}.")
    elif suffix in (".h5", ".hdf5"):
        with open(path, "rb") as handle:
            if handle.read(8) != _HDF5_SIGNATURE:
                raise ModelError(f"Model file '{path}' is not an HDF5 file. "
                                 f"Expected {ACCEPTED_FORMATS}.")
    else:
        raise ModelError(f"Model file '{path}' has the extension '{path.suffix or '(none)'}'. "
                         f"Expected {ACCEPTED_FORMATS}.")


@contextlib.contextmanager
def _first_on_sys_path(folder: str | os.PathLike | None) -> Iterator[None]:
    """Put ``folder`` first on ``sys.path`` for the block; imported modules stay imported."""
    if folder is None:
        yield
        return
    saved = list(sys.path)
    sys.path.insert(0, str(folder))
    importlib.invalidate_caches()  # the folder's files may be newer than the finders' caches
    try:
        yield
    finally:
        sys.path[:] = saved


def _searched(search_path) -> str:
    if search_path is None:
        return "searched the Python path"
    return f"searched '{search_path}' first, then the Python path"


def _import(module: str, search_path, *, what: str):
    try:
        return importlib.import_module(module)
    except Exception as exc:  # an ImportError, or whatever the module raised while importing
        raise ModelError(f"{what}: cannot import module '{module}' ({_searched(search_path)}): "
                         f"{type(exc).__name__}: {exc}") from exc


def _resolve(name: str, target: object, search_path) -> object:
    """The object ``target`` names: a dotted path ``module.attribute`` is imported."""
    if not isinstance(target, str):
        return target
    module_name, _, attribute = target.rpartition(".")
    if not module_name:
        raise ModelError(f"model.custom_objects: {name}: expected a dotted path like "
                         f"'acme.layers.{name}'; got {target!r}.")
    module = _import(module_name, search_path, what=f"model.custom_objects: {name}")
    if not hasattr(module, attribute):
        raise ModelError(f"model.custom_objects: {name}: module '{module_name}' "
                         f"({getattr(module, '__file__', None) or 'built in'}) has no attribute "
                         f"'{attribute}'; got {target!r}.")
    return getattr(module, attribute)


def _load_error(path: Path, exc: Exception, imports: list[str]) -> ModelError:
    """A ModelError saying why Keras could not load ``path``, and what to do about it."""
    text = str(exc)
    if any(marker in text for marker in _LAMBDA_REFUSED):
        return ModelError(
            f"Model file '{path}' contains a Lambda layer (Python code), which Keras's safe mode "
            "refuses to load. Loading it runs the code stored in the file, which can do "
            "anything your user account can do. If you trust where the file comes from, set "
            "model.safe_mode: false in the configuration.")
    for pattern in _UNKNOWN_OBJECT:
        found = pattern.search(text)
        if found:
            kind, name = found.groups()
            short = name.rpartition(">")[2]
            tried = (f" The modules in model.imports ({', '.join(imports)}) were imported but "
                     f"did not register it." if imports else "")
            return ModelError(
                f"Model file '{path}' uses the custom {kind} '{name}', which Keras could not "
                f"locate: the module that defines it must be imported before the model "
                f"loads.{tried} Name that module in model.imports (for a class decorated with "
                "@keras.saving.register_keras_serializable) or map the name in "
                f"model.custom_objects; for example `imports: [acme.layers]` or "
                f"`custom_objects: {{{short}: acme.layers.{short}}}` under `model:`.")
    return ModelError(f"Could not load model file '{path}'. Keras said: {type(exc).__name__}: "
                      f"{_keras_message(text)}")


def _keras_message(text: str) -> str:
    """Keras's message without the configuration dumps it wraps around the actual cause."""
    text = text.rpartition("Exception encountered: ")[2]
    text = text.partition(" Full object config: ")[0].strip()
    if len(text) > _KERAS_MESSAGE_LIMIT:
        text = text[:_KERAS_MESSAGE_LIMIT].rstrip() + " [...]"
    return text
