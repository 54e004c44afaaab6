"""What reaches a terminal or a CI log: control characters escaped.

File names, labels and reasons come from manifests someone else wrote; printed raw, an ESC
sequence in one of them recolours, hides or rewrites the lines of a terminal or a CI log, and
a lone surrogate stops the print with ``UnicodeEncodeError``. :func:`escape_controls` writes
every such character as its Python escape (``\\x1b``, ``\\u202e``, ``\\udc80``) and keeps
newlines and tabs; :class:`EscapingStream` applies it to everything written to a stream.
"""

from __future__ import annotations

import re
from typing import TextIO

__all__ = ["EscapingStream", "escape_controls"]

# C0 controls but tab and newline, DEL and C1, the bidirectional overrides and isolates, and
# lone surrogates.
_CONTROLS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069"
                       "\ud800-\udfff]")


def escape_controls(text: str) -> str:
    """``text`` with control characters written as escapes.

    >>> escape_controls("cat\\x1b[2J.png\\tok\\n")
    'cat\\\\x1b[2J.png\\tok\\n'
    >>> escape_controls("a\\ud800b")
    'a\\\\ud800b'
    """
    return _CONTROLS.sub(lambda m: repr(m.group())[1:-1], text)


class EscapingStream:
    """A text stream that escapes control characters in what is written to it."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream

    def write(self, text: str) -> int:
        return self._stream.write(escape_controls(text))

    def __getattr__(self, name: str):
        return getattr(self._stream, name)
