"""Tables of typed rows: the CSV files per-batch stages append to, and reading them back.

A table's rows are instances of one dataclass; its columns are the dataclass's fields, in order.
Values are written so that the file is the same whatever the batching: floats to 6 significant
digits, NaN as an empty field, booleans as ``True``/``False``. Reading a table back gives a
DataFrame with one dtype per column, derived from the field's type (``str`` -> string,
``int`` -> int64, ``float`` -> float64, ``bool`` -> bool).

Text cells are safe to open in a spreadsheet (CSV formula injection, OWASP): a text value that
starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is written with a leading
single quote, so the spreadsheet shows it as text instead of evaluating it. A value that
starts with a quote gets one more, so the change is undone exactly when the table is read
back (:func:`read_table`): the values read are the values written.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import typing

import pandas as pd

__all__ = ["columns", "dtypes", "format_rows", "header", "neutralise", "read_table", "restore"]

_DTYPES = {str: "string", int: "int64", float: "float64", bool: "bool"}


def columns(row_type: type) -> tuple[str, ...]:
    """The column names of a table of ``row_type`` rows."""
    return tuple(f.name for f in dataclasses.fields(row_type))


def dtypes(row_type: type) -> dict[str, str]:
    """The pandas dtype of every column, from the dataclass's field types."""
    hints = typing.get_type_hints(row_type)
    out = {}
    for name in columns(row_type):
        kind = hints[name]
        if kind not in _DTYPES:
            raise TypeError(f"Table column '{row_type.__name__}.{name}' has type {kind!r}; "
                            f"tables hold {', '.join(t.__name__ for t in _DTYPES)}.")
        out[name] = _DTYPES[kind]
    return out


#: First characters a spreadsheet reads as a formula (OWASP's list), and the quote itself.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "'")


def neutralise(text: str) -> str:
    """A text cell as written: a leading quote before a formula character (see the module).

    >>> neutralise("=HYPERLINK(1)"), neutralise("cat"), neutralise("'quoted")
    ("'=HYPERLINK(1)", 'cat', "''quoted")
    """
    return "'" + text if text.startswith(_FORMULA_START) else text


def restore(text: str) -> str:
    """The inverse of :func:`neutralise`.

    >>> restore("'=HYPERLINK(1)"), restore("cat"), restore("''quoted")
    ('=HYPERLINK(1)', 'cat', "'quoted")
    """
    return text[1:] if text.startswith("'") else text


def _format(value) -> str:
    if isinstance(value, str):
        return neutralise(value)
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, float):
        if value != value:  # NaN
            return ""
        return f"{value:.6g}"
    return str(value)


def header(row_type: type) -> str:
    """The CSV header line of a table."""
    return ",".join(columns(row_type)) + "\n"


def format_rows(rows, row_type: type) -> str:
    """CSV text of ``rows`` (no header)."""
    names = columns(row_type)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    for row in rows:
        writer.writerow([_format(getattr(row, c)) for c in names])
    return buffer.getvalue()


def read_table(path, row_type: type) -> pd.DataFrame:
    """Read a table written with :func:`format_rows` back, with the columns' dtypes.

    Empty fields are NaN in float columns and empty strings in text columns.
    """
    types = dtypes(row_type)
    text = [c for c, t in types.items() if t == "string"]
    floats = [c for c, t in types.items() if t == "float64"]
    frame = pd.read_csv(path, dtype={c: str for c in text}, keep_default_na=False,
                        na_values={c: [""] for c in floats})
    for column in text:
        frame[column] = frame[column].map(restore)
    return frame.astype(types)
