"""Images in the report: ``data:`` URIs built from bytes, and small palette PNGs.

Nothing in the report is fetched: every picture is embedded as a ``data:`` URI whose type comes
from the bytes' signature, never from user text, so the URI holds only ``data:image/...;base64,``
and base64 characters (nothing HTML cares about).
"""

from __future__ import annotations

import base64

__all__ = ["compact_png", "data_uri"]

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
    if not data:
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
