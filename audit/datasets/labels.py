"""Labels: the class vocabulary of a manifest and matching each label to a class index.

Conventions
-----------
A label is matched to the class vocabulary by **name first** (exact, after stripping
whitespace), then as an **index**: a non-negative ``int`` or ASCII digit string in range.
Without ``class_names`` the vocabulary is derived from the manifest: when every label is an
integer (or integer string) it is ``["0", "1", ..., str(max)]`` so that index ``i`` is named
``str(i)``; otherwise it is the sorted distinct label names. ``Sample.label_name`` is always
``class_names[Sample.label]``.

A label that matches no class raises :class:`LabelError`; the manifest builder skips the sample
with the error's reason, prefixed by the entry's place in the manifest.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any

from audit.datasets.types import SampleError

_INT_TEXT = re.compile(r"[+-]?[0-9]+")
_MAX_LISTED = 10


class LabelError(SampleError):
    """A label that matches no class (missing, of the wrong type, unknown, out of range)."""


def label_text(label: Any) -> str:
    """A label as text, for messages and comparisons (strings stripped)."""
    return label.strip() if isinstance(label, str) else str(label)


def is_usable_label(label: Any) -> bool:
    """Whether a label can name a class at all: an ``int`` or a non-blank string."""
    if isinstance(label, bool) or label is None:
        return False
    if isinstance(label, int):
        return True
    return isinstance(label, str) and bool(label.strip())


def _as_int(label: Any) -> int | None:
    """The integer a label spells (``3``, ``"3"``, ``" 03 "``, ``"-1"``), else ``None``."""
    if isinstance(label, bool):
        return None
    if isinstance(label, int):
        return label
    if isinstance(label, str) and _INT_TEXT.fullmatch(label.strip()):
        return int(label.strip())
    return None


def label_vocabulary(labels: Iterable[Any]) -> list[str]:
    """The class vocabulary implied by a manifest's labels when no class names are given.

    Parameters
    ----------
    labels : iterable
        Labels as written. Missing or unusable ones (``None``, ``""``, bools, floats) are ignored.

    Returns
    -------
    list of str
        ``["0", ..., str(max)]`` when every usable label is an integer (negative ones excluded
        from the range), otherwise the sorted distinct label names.

    Examples
    --------
    >>> label_vocabulary([2, "0", None])
    ['0', '1', '2']
    >>> label_vocabulary(["dog", " cat", "dog"])
    ['cat', 'dog']
    """
    usable = [lab for lab in labels if is_usable_label(lab)]
    if not usable:
        return []
    ints = [_as_int(lab) for lab in usable]
    if all(i is not None for i in ints):
        top = max(ints)  # type: ignore[type-var]
        return [str(i) for i in range(top + 1)] if top >= 0 else []
    return sorted({label_text(lab) for lab in usable})


def format_classes(class_names: Sequence[str], limit: int = _MAX_LISTED) -> str:
    """``'a', 'b', 'c'`` listing at most ``limit`` names, then ``(and N more)``.

    Examples
    --------
    >>> format_classes(["a", "b", "c"], limit=2)
    "'a', 'b' (and 1 more)"
    """
    shown = ", ".join(repr(name) for name in class_names[:limit])
    rest = len(class_names) - limit
    return f"{shown} (and {rest} more)" if rest > 0 else shown


def match_label(label: Any, class_names: Sequence[str]) -> int:
    """Match a label to a class index.

    Parameters
    ----------
    label : object
        The label as written: a class name, an ``int`` index or a digit string.
    class_names : sequence of str
        The class vocabulary.

    Returns
    -------
    int
        The class index.

    Raises
    ------
    LabelError
        The label is missing, of the wrong type, not a known name, or an index out of range;
        the reason names the label and lists the classes.

    Examples
    --------
    >>> match_label(" dog ", ["cat", "dog"])
    1
    >>> match_label("1", ["cat", "dog"])
    1
    >>> match_label("Dog", ["cat", "dog"])
    Traceback (most recent call last):
    ...
    audit.datasets.labels.LabelError: label 'Dog' is not a known class (did you mean 'dog'? \
names are case-sensitive); the 2 known classes are 'cat', 'dog'
    """
    if label is None or (isinstance(label, str) and not label.strip()):
        raise LabelError("no label is given")
    if isinstance(label, bool) or isinstance(label, float) or not isinstance(label, int | str):
        raise LabelError(
            f"label {label!r} ({type(label).__name__}) is neither a class name nor an integer "
            f"class index"
        )
    text = label_text(label)
    if isinstance(label, str):
        for index, name in enumerate(class_names):
            if name == text:
                return index
    number = _as_int(label)
    if number is not None:
        if 0 <= number < len(class_names):
            return number
        raise LabelError(
            f"label {text!r} is not a class name, and as a class index it is out of range: "
            f"the model has {len(class_names)} classes (indices 0..{len(class_names) - 1}): "
            f"{format_classes(class_names)}"
        )
    hint = ""
    folded = [name for name in class_names if name.casefold() == text.casefold()]
    if folded:
        hint = f" (did you mean {folded[0]!r}? names are case-sensitive)"
    raise LabelError(
        f"label {text!r} is not a known class{hint}; the {len(class_names)} known classes are "
        f"{format_classes(class_names)}"
    )
