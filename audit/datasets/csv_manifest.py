"""CSV manifests: ``image,label,x_min,y_min,x_max,y_max[,mask]``, one box per row.

Format
------
* A header row names the columns (case and surrounding spaces ignored; a UTF-8 byte-order mark is
  fine). ``image`` and ``label`` are required; the four box columns are optional as a group (a
  classification-only manifest has none of them); ``mask`` is optional.
* Box coordinates are pixel-edge corners in the original image (see :mod:`audit.datasets.types`).
* Several rows naming one image give that image several boxes. A row with all four box fields
  empty gives no box: such a sample counts for accuracy and its localisation scores are NaN.
* ``mask``: the path of a PNG mask, resolved like ``image``; its non-zero pixels are the object
  (see :mod:`audit.datasets.masks`). The sample's mask is the union of its rows' masks, so one
  mask of the whole image may be written on one row or repeated on every row; an empty cell
  adds nothing.
* Any other column is **metadata**: ``Sample.meta[name]`` is the cell's text (stripped), ``name``
  the header as written (stripped; a repeated or empty header name is ignored). The rows of one
  image give one value (empty cells do not count); a column on which they disagree describes the
  rows, not the image, and is dropped (see :mod:`audit.datasets.manifest`).
* Line numbers in reasons are 1-based physical lines of the file (the header is line 1).
* Multi-label models: a ``labels`` column holds an image's labels separated by ``|``, and
  ``label`` becomes optional (one of the two is required); a row's box belongs to its
  ``label`` (see :mod:`audit.datasets.label_sets`). For a single-label model a ``labels``
  column is metadata, as any other.
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Sequence

from audit.datasets.annotated import AnnotatedObject
from audit.datasets.boxes import BOX_FIELDS, BoxError, parse_box
from audit.datasets.label_sets import build_label_set_manifest, split_labels
from audit.datasets.manifest import DatasetManifest, RawEntry, build_manifest
from audit.datasets.masks import PngMask
from audit.datasets.types import Meta
from audit.errors import DatasetError

REQUIRED_COLUMNS = ("image", "label")
MASK_COLUMN = "mask"
LABELS_COLUMN = "labels"


def read_csv_entries(path: str, *, multilabel: bool = False) -> list[RawEntry]:
    """Parse a CSV manifest into raw entries (one per data row).

    Parameters
    ----------
    path : str
        The CSV file.
    multilabel : bool
        Read the ``labels`` column (label sets) and accept rows without ``label``.

    Returns
    -------
    list of RawEntry

    Raises
    ------
    DatasetError
        The file is missing or unreadable, has no header, or lacks required columns.
    """
    try:
        handle = open(path, encoding="utf-8-sig", newline="")
    except FileNotFoundError:
        raise DatasetError(f"dataset manifest {path} does not exist") from None
    except IsADirectoryError:
        raise DatasetError(f"dataset manifest {path} is a folder, expected a CSV file") from None
    except OSError as exc:
        raise DatasetError(f"dataset manifest {path} cannot be opened: {exc}") from None
    entries: list[RawEntry] = []
    with handle:
        reader = csv.reader(handle)
        line = 1
        try:
            header = next(reader, None)
            if header is None or not any(cell.strip() for cell in header):
                raise DatasetError(
                    f"dataset manifest {path} is empty: expected a header row "
                    f"'{','.join(REQUIRED_COLUMNS + BOX_FIELDS)}'"
                )
            columns, meta_columns = _columns(header, path, multilabel)
            line = reader.line_num + 1
            for row in reader:
                start, line = line, reader.line_num + 1
                if not any(cell.strip() for cell in row):
                    continue
                entries.append(_entry(row, columns, meta_columns, len(header), f"line {start}"))
        except UnicodeDecodeError as exc:
            raise DatasetError(
                f"dataset manifest {path} is not UTF-8 text (near line {line}): {exc}"
            ) from None
        except csv.Error as exc:
            raise DatasetError(
                f"dataset manifest {path} is not valid CSV at line {reader.line_num}: {exc}"
            ) from None
        except OSError as exc:
            raise DatasetError(f"dataset manifest {path} cannot be read: {exc}") from None
    return entries


#: What a column name looks like; a first line of anything else is not echoed in errors.
_COLUMN_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_ .-]{0,31}$")


def _cap(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def _columns(header: Sequence[str], path: str, multilabel: bool = False
             ) -> tuple[dict[str, int], list[tuple[str, int]]]:
    """The known columns' positions and the metadata columns (name, position).

    Raises on missing required columns.
    """
    names = [cell.strip().lower() for cell in header]
    positions: dict[str, int] = {}
    for i, name in enumerate(names):
        positions.setdefault(name, i)
    found = ", ".join(repr(_cap(cell.strip())) for cell in header[:20]) + (
        f" and {len(header) - 20} more" if len(header) > 20 else "")
    required = REQUIRED_COLUMNS
    if multilabel and LABELS_COLUMN in positions:
        required = ("image",)
    missing = [c for c in required if c not in positions]
    box_present = [c for c in BOX_FIELDS if c in positions]
    if box_present and len(box_present) < len(BOX_FIELDS):
        missing += [c for c in BOX_FIELDS if c not in positions]
    if missing and not all(_COLUMN_NAME.match(cell.strip()) for cell in header):
        # Not a header (a wrong dataset.path: a key, a password file): its first line is not
        # echoed; a header of column names is, to show what was found.
        raise DatasetError(
            f"dataset manifest {path} must start with the header "
            f"'{','.join(REQUIRED_COLUMNS + BOX_FIELDS)}'; got a first line of {len(header)} "
            "cell(s) naming none of these columns (is dataset.path the manifest?)"
        )
    if multilabel and "label" in missing:
        raise DatasetError(
            f"dataset manifest {path} must have a 'labels' column (a multi-label model's "
            f"label sets, written 'a|b') or a 'label' column; found columns: {found}")
    if missing:
        raise DatasetError(
            f"dataset manifest {path} is missing required column(s) "
            f"{', '.join(map(repr, missing))}; found columns: {found}. Expected the header "
            f"'{','.join(REQUIRED_COLUMNS + BOX_FIELDS)}' (the four box columns may all be omitted)"
        )
    known = REQUIRED_COLUMNS + BOX_FIELDS + (MASK_COLUMN,) + (
        (LABELS_COLUMN,) if multilabel else ())
    meta: dict[str, int] = {}
    for i, cell in enumerate(header):
        if cell.strip() and names[i] not in known:
            meta.setdefault(cell.strip(), i)
    optional = tuple(c for c in (MASK_COLUMN, *((LABELS_COLUMN, "label") if multilabel else ()))
                     if c in positions)
    return ({c: positions[c] for c in dict.fromkeys(
                (*required, *box_present, *optional))}, list(meta.items()))


def _entry(row: list[str], columns: dict[str, int], meta_columns: list[tuple[str, int]],
           n_columns: int, where: str) -> RawEntry:
    if len(row) != n_columns:
        image = row[columns["image"]].strip() if len(row) > columns["image"] else ""
        return RawEntry(image=image, label=None, where=where, problem=(
            f"the row has {len(row)} fields but the header has {n_columns} columns "
            "(is there an unquoted comma in a path?); the row is skipped"))
    image = row[columns["image"]].strip()
    if not image:
        return RawEntry(image="", label=None, where=where,
                        problem="the image field is empty; the row is skipped")
    label = (row[columns["label"]].strip() or None) if "label" in columns else None
    mask = row[columns[MASK_COLUMN]].strip() if MASK_COLUMN in columns else ""
    found = {"masks": (PngMask(mask),) if mask else (),
             "meta": Meta((name, row[i].strip()) for name, i in meta_columns)}
    if LABELS_COLUMN in columns:
        found["label_set"] = split_labels(row[columns[LABELS_COLUMN]])
    # The row's object for a multi-label model: its box and mask belong to the row's label.
    obj = {"label": label, "where": where, "mask": found["masks"][0] if mask else None}
    values = [row[columns[name]] for name in BOX_FIELDS] if "x_min" in columns else []
    if not any(v.strip() for v in values):
        objects = (AnnotatedObject(**obj),) if mask else ()
        return RawEntry(image=image, label=label, where=where, objects=objects, **found)
    try:
        box = parse_box(values, where)
    except BoxError as exc:
        return RawEntry(image=image, label=label, where=where, box_problems=(exc.reason,),
                        objects=(AnnotatedObject(**obj, box_problem=exc.reason),), **found)
    return RawEntry(image=image, label=label, where=where, boxes=(box,),
                    objects=(AnnotatedObject(**obj, box=box),), **found)


def load_csv(path: str | os.PathLike, *, images_root: str | os.PathLike | None = None,
             class_names: Sequence[str] | None = None, multilabel: bool = False
             ) -> DatasetManifest:
    """Load a CSV manifest.

    Parameters
    ----------
    path : str or path-like
        The CSV file.
    images_root : str or path-like, optional
        Folder relative image paths are resolved against; defaults to the CSV's folder.
    class_names : sequence of str, optional
        The model's classes (see :func:`audit.datasets.labels.match_label`).
    multilabel : bool
        Samples with label sets, for a multi-label model (see
        :mod:`audit.datasets.label_sets`).

    Returns
    -------
    DatasetManifest

    Raises
    ------
    DatasetError
        Run-level problems (see :func:`audit.datasets.manifest.build_manifest`).
    """
    path = os.fspath(path)
    root = os.fspath(images_root) if images_root is not None else os.path.dirname(
        os.path.abspath(path))
    entries = read_csv_entries(path, multilabel=multilabel)
    build = build_label_set_manifest if multilabel else build_manifest
    return build(entries, path=path, format="csv", images_root=root,
                          class_names=class_names, one_entry_per_image=False)
