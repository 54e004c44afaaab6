"""Where the report templates live, the Jinja2 environment that renders them, and formatting.

Templates are Jinja2 files in ``templates/`` at the repository root. Autoescaping is on for
every template, so any user text (class names, file names, config values, reasons) comes out
as text, never as markup. Nothing in the report is marked ``|safe``: images are embedded as
``data:`` URIs that this module builds from bytes (base64 has no character HTML cares about).
"""

from __future__ import annotations

import base64
import math
import os
import sys
from numbers import Integral, Real
from pathlib import Path

__all__ = [
    "TEMPLATES_ENV_VAR",
    "compact_png",
    "data_uri",
    "fmt_ci",
    "fmt_count",
    "fmt_delta",
    "fmt_num",
    "fmt_pct",
    "fmt_time",
    "fmt_value",
    "is_number",
    "render",
    "templates_dir",
]

#: Environment variable naming a folder of templates that overrides the built-in ones.
TEMPLATES_ENV_VAR = "CAM_AUDIT_TEMPLATES"

#: What an undefined figure shows as.
NA = "n/a"

_MARKER = "report.html.j2"


def templates_dir() -> Path:
    """The folder of the report templates.

    In order: the folder named by ``$CAM_AUDIT_TEMPLATES``; ``templates/`` at the root of the
    source tree the ``audit`` package sits in; ``<sys.prefix>/share/cam-audit/templates`` (an
    installed package's data files).

    Raises
    ------
    FileNotFoundError
        If none of these folders holds ``report.html.j2`` (or the environment variable names
        a folder without it), naming every place looked at.
    """
    import audit

    override = os.environ.get(TEMPLATES_ENV_VAR)
    if override:
        folder = Path(override).expanduser()
        if (folder / _MARKER).is_file():
            return folder
        raise FileNotFoundError(
            f"${TEMPLATES_ENV_VAR} is {override!r}, but {folder / _MARKER} does not exist; "
            f"point it at a folder holding the cam-audit templates or unset it"
        )
    candidates = [
        Path(audit.__file__).resolve().parents[1] / "templates",
        Path(sys.prefix) / "share" / "cam-audit" / "templates",
    ]
    for folder in candidates:
        if (folder / _MARKER).is_file():
            return folder
    looked = ", ".join(str(c) for c in candidates)
    raise FileNotFoundError(
        f"cannot find the cam-audit report templates ({_MARKER}); looked in {looked}. "
        f"Set ${TEMPLATES_ENV_VAR} to the folder holding them"
    )


def _environment(folder: Path):
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(folder)),
        autoescape=True,  # every template, whatever its extension
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(
        pct=fmt_pct, num=fmt_num, ci=fmt_ci, count=fmt_count, value=fmt_value, delta=fmt_delta,
        time=fmt_time,
    )
    return env


def render(name: str, **context) -> str:
    """Render the template ``name`` from :func:`templates_dir` with autoescaping on."""
    return _environment(templates_dir()).get_template(name).render(**context)


# --- Formatting -------------------------------------------------------------------------------


def is_number(value) -> bool:
    """True for a finite real number (not bool, not None, not NaN)."""
    if isinstance(value, bool) or not isinstance(value, Real):
        return False
    return math.isfinite(float(value))


def fmt_pct(value, digits: int = 1) -> str:
    """``0.7123`` -> ``"71.2%"``; undefined -> ``"n/a"``."""
    if not is_number(value):
        return NA
    return f"{100.0 * float(value):.{digits}f}%"


def fmt_num(value, digits: int = 3) -> str:
    """A number with ``digits`` decimals; integers as they are; undefined -> ``"n/a"``."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Integral):
        return str(int(value))
    if not is_number(value):
        return NA
    return f"{float(value):.{digits}f}"


def fmt_count(value) -> str:
    """An integer with thousands separators; undefined -> ``"n/a"``."""
    if isinstance(value, bool) or not is_number(value):
        return NA
    return f"{int(value):,}"


def fmt_value(value, kind: str = "num") -> str:
    """A figure in the unit of its ``kind``: ``"pct"`` (a share) or ``"num"``."""
    return fmt_pct(value) if kind == "pct" else fmt_num(value)


def fmt_ci(ci, kind: str = "num") -> str:
    """A 95% interval ``[low, high]`` as ``"65.0% – 77.0%"``; undefined -> ``""``."""
    if not isinstance(ci, list | tuple) or len(ci) != 2:
        return ""
    low, high = ci
    if not (is_number(low) and is_number(high)):
        return ""
    return f"{fmt_value(low, kind)} – {fmt_value(high, kind)}"


def fmt_delta(value, kind: str = "num") -> str:
    """A signed difference: percentage points for shares, plain numbers otherwise."""
    if not is_number(value):
        return NA
    value = float(value)
    if kind == "pct":
        points = 100.0 * value
        return "±0.0 pp" if round(points, 1) == 0 else f"{points:+.1f} pp"
    return "±0.000" if round(value, 3) == 0 else f"{value:+.3f}"


def fmt_time(value) -> str:
    """An ISO 8601 timestamp as ``"2026-11-25 21:34:10 UTC"`` (or with its offset); other
    text as it is; undefined -> ``"n/a"``."""
    import datetime as _dt

    if value is None or value == "":
        return NA
    if not isinstance(value, str):
        return str(value)
    try:
        moment = _dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    text = moment.strftime("%Y-%m-%d %H:%M:%S")
    offset = moment.utcoffset()
    if offset is None:
        return text
    if offset == _dt.timedelta(0):
        return f"{text} UTC"
    return f"{text} {moment.strftime('%z')[:3]}:{moment.strftime('%z')[3:]}"


# --- Images -----------------------------------------------------------------------------------

_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)


def data_uri(data: bytes | None) -> str | None:
    """A ``data:`` URI of an image's bytes, or None when the bytes are not a known image.

    The type comes from the bytes' signature (PNG, JPEG, GIF, WebP), never from user text,
    so the URI holds only ``data:image/...;base64,`` and base64 characters.
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        return None
    data = bytes(data)
    mime = next((m for sig, m in _SIGNATURES if data.startswith(sig)), None)
    if mime is None and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        mime = "image/webp"
    if mime is None:
        return None
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def compact_png(data: bytes, *, max_side: int | None = None, dither: bool = False) -> bytes | None:
    """``data`` (any image Pillow reads) as a small PNG: at most ``max_side`` pixels on its
    longer side and reduced to a 256-colour palette, which keeps a plot or a CAM overlay
    visually the same at a third of the bytes. ``dither`` suits photographs. None when the
    bytes are not an image (or not one Pillow can decode).
    """
    if data_uri(data) is None:
        return None
    import io

    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(bytes(data))) as image:
            image.load()
            picture = image.convert("RGB")
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        return None
    if max_side is not None and max(picture.size) > max_side:
        picture.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    palette = picture.quantize(
        colors=256, method=Image.Quantize.FASTOCTREE,
        dither=Image.Dither.FLOYDSTEINBERG if dither else Image.Dither.NONE,
    )
    buffer = io.BytesIO()
    palette.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()
