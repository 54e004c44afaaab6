"""Image folders: one subfolder per class, the convention of
``keras.utils.image_dataset_from_directory``.

Format
------
* ``dataset.path`` is a folder; each of its subfolders is a class, named by the subfolder.
  Files directly in the folder belong to no class and are ignored (as Keras does).
* A class's images may be nested in further subfolders: every file below the class folder
  counts, in sorted path order; classes come in their class-index order.
* Images are the files Keras reads: ``.bmp``, ``.gif``, ``.jpeg``, ``.jpg``, ``.png``
  (case-insensitive). Any other file is not an image: it is skipped and listed with its reason
  in ``skipped.csv`` (Keras skips it silently). Hidden files and folders (a name starting with
  ``.``, such as ``.DS_Store``) are ignored.
* Classes: without ``class_names`` they are the sorted subfolder names (Keras's default, so
  output ``i`` is the ``i``-th folder in sorted order). With ``class_names`` a folder is matched
  to a class by name; when no folder name is a class name, the classes are the model's default
  indices (``"0"``, ``"1"``, ...) and there are as many folders as classes, folder ``i`` in
  sorted order is class ``i`` (Keras's convention; give ``model.class_names`` to see the names).
* A folder holds no boxes or masks: every sample is box-free (accuracy, maps, faithfulness,
  sanity and strategies are measured; the region-based figures are not).
* ``sample_id`` and ``image`` are the path relative to the folder, with ``/`` separators.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from audit.datasets.manifest import DatasetManifest, RawEntry, build_manifest
from audit.errors import DatasetError

__all__ = ["IMAGE_EXTENSIONS", "load_folder"]

#: The file extensions ``keras.utils.image_dataset_from_directory`` reads.
IMAGE_EXTENSIONS = (".bmp", ".gif", ".jpeg", ".jpg", ".png")


def _class_folders(root: str) -> list[str]:
    try:
        names = os.listdir(root)
    except FileNotFoundError:
        raise DatasetError(f"dataset.path {root} must be an existing folder with one "
                           "subfolder per class; got a path that does not exist") from None
    except NotADirectoryError:
        raise DatasetError(f"dataset.path {root} must be a folder with one subfolder per "
                           "class (dataset.format: folder); got a file") from None
    return sorted(n for n in names
                  if not n.startswith(".") and os.path.isdir(os.path.join(root, n)))


def _files(folder: str) -> list[str]:
    """Every non-hidden file below ``folder``, as sorted paths relative to it."""
    found = []
    for current, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        rel = os.path.relpath(current, folder)
        for name in files:
            if not name.startswith("."):
                found.append(name if rel == "." else os.path.join(rel, name))
    return sorted(found)


def _labels(folders: Sequence[str], class_names: Sequence[str] | None) -> dict[str, object]:
    """The label each class folder gives its images (a name, or an index by sorted order)."""
    if class_names is None:
        return {f: f for f in folders}
    names = set(class_names)
    defaults = [str(i) for i in range(len(class_names))]
    if not any(f in names for f in folders) and list(class_names) == defaults \
            and len(folders) == len(class_names):
        return {f: i for i, f in enumerate(folders)}
    return {f: f for f in folders}


def load_folder(path: str | os.PathLike, *, images_root: str | os.PathLike | None = None,
                class_names: Sequence[str] | None = None) -> DatasetManifest:
    """Load an image folder with one subfolder per class.

    Parameters
    ----------
    path : str or path-like
        The folder.
    images_root : str or path-like, optional
        Ignored: the images are always below ``path``.
    class_names : sequence of str, optional
        The model's classes (see the module's conventions); ``None``: the sorted subfolders.

    Returns
    -------
    DatasetManifest

    Raises
    ------
    DatasetError
        The folder is missing, has no class subfolder or no image, or its folder names match
        none of ``class_names``.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> for rel in ("dog/b.png", "cat/x/a.jpg", "cat/notes.txt"):
    ...     (root / rel).parent.mkdir(parents=True, exist_ok=True)
    ...     _ = (root / rel).write_bytes(b"")
    >>> manifest = load_folder(root)
    >>> manifest.class_names, [(s.sample_id, s.label) for s in manifest.samples]
    (['cat', 'dog'], [('cat/x/a.jpg', 0), ('dog/b.png', 1)])
    >>> manifest.skipped[0].reason[:42]
    'cat/notes.txt: not an image: expected a fi'
    """
    del images_root
    root = os.path.abspath(os.fspath(path))
    folders = _class_folders(root)
    if not folders:
        raise DatasetError(f"dataset.path {root} must hold one subfolder per class "
                           "(dataset.format: folder); got no subfolder")
    labels = _labels(folders, class_names)
    vocabulary = list(folders) if class_names is None else list(class_names)
    entries: list[RawEntry] = []
    for folder in folders:
        for rel in _files(os.path.join(root, folder)):
            image = f"{folder}/{rel}".replace(os.sep, "/")
            if os.path.splitext(rel)[1].lower() in IMAGE_EXTENSIONS:
                entries.append(RawEntry(image=image, label=labels[folder], where=image))
            else:
                entries.append(RawEntry(image=image, label=None, where=image, problem=(
                    "not an image: expected a file ending in "
                    f"{', '.join(IMAGE_EXTENSIONS)} (the files Keras reads); it is skipped")))
    if not any(e.problem is None for e in entries):
        raise DatasetError(f"dataset.path {root} must hold images in its class subfolders "
                           f"({', '.join(folders[:10])}); got none with an image extension")
    return build_manifest(entries, path=root, format="folder", images_root=root,
                          class_names=vocabulary, one_entry_per_image=True)
