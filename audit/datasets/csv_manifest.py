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
"""

from __future__ import annotations

import csv
import os
import re
from collections.abc import Sequence

from audit.datasets.boxes import BOX_FIELDS, BoxError, parse_box
from audit.datasets.manifest import DatasetManifest, RawEntry, build_manifest
from audit.datasets.masks import PngMask
from audit.datasets.types import Meta
from audit.errors import DatasetError

REQUIRED_COLUMNS = ("image", "label")
MASK_COLUMN = "mask"


def read_csv_entries(path: str) -> list[RawEntry]:
    """Parse a CSV manifest into raw entries (one per data row).

    Parameters
    ----------
    path : str
        The CSV file.

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
            columns, meta_columns = _columns(header, path)
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


def _columns(header: Sequence[str], path: str
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
    missing = [c for c in REQUIRED_COLUMNS if c not in positions]
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
    if missing:
        raise DatasetError(
            f"dataset manifest {path} is missing required column(s) "
            f"{', '.join(map(repr, missing))}; found columns: {found}. Expected the header "
            f"'{','.join(REQUIRED_COLUMNS + BOX_FIELDS)}' (the four box columns may all be omitted)"
        )
    known = REQUIRED_COLUMNS + BOX_FIELDS + (MASK_COLUMN,)
    meta: dict[str, int] = {}
    for i, cell in enumerate(header):
        if cell.strip() and names[i] not in known:
            meta.setdefault(cell.strip(), i)
    mask = (MASK_COLUMN,) if MASK_COLUMN in positions else ()
    return ({c: positions[c] for c in REQUIRED_COLUMNS + tuple(box_present) + mask},
            list(meta.items()))


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
    label = row[columns["label"]].strip() or None
    mask = row[columns[MASK_COLUMN]].strip() if MASK_COLUMN in columns else ""
    found = {"masks": (PngMask(mask),) if mask else (),
             "meta": Meta((name, row[i].strip()) for name, i in meta_columns)}
    if "x_min" not in columns:
        return RawEntry(image=image, label=label, where=where, **found)
    values = [row[columns[name]] for name in BOX_FIELDS]
    if not any(v.strip() for v in values):
        return RawEntry(image=image, label=label, where=where, **found)
    try:
        box = parse_box(values, where)
    except BoxError as exc:
        return RawEntry(image=image, label=label, where=where, box_problems=(exc.reason,),
                        **found)
    return RawEntry(image=image, label=label, where=where, boxes=(box,), **found)


def load_csv(path: str | os.PathLike, *, images_root: str | os.PathLike | None = None,
             class_names: Sequence[str] | None = None) -> DatasetManifest:
    """Load a CSV manifest.

    Parameters
    ----------
    path : str or path-like
        The CSV file.
    images_root : str or path-like, optional
        Folder relative image paths are resolved against; defaults to the CSV's folder.
    class_names : sequence of str, optional
        The model's classes (see :func:`audit.datasets.labels.match_label`).

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
    entries = read_csv_entries(path)
    return build_manifest(entries, path=path, format="csv", images_root=root,
                          class_names=class_names, one_entry_per_image=False)
