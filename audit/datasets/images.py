"""Reading image files into RGB arrays and resizing them (turning a batch into model input is
:mod:`audit.datasets.preprocessing`).

Conventions
-----------
* :func:`read_image` always returns ``uint8`` RGB ``(height, width, 3)``, whatever the file's mode.
* EXIF orientation is applied (:func:`PIL.ImageOps.exif_transpose`): the array is the image as a
  viewer displays it, and boxes are taken to refer to that displayed orientation (annotation tools
  draw on the displayed image). ``original_sizes`` are the displayed sizes.
* Transparency (``RGBA``, ``LA``, ``PA``, palette images with a transparent colour) is composited
  on **black**: a transparent pixel becomes black, a half-transparent one is darkened. This matches
  what ``tf.io.decode_png(channels=3)`` and ``keras.utils.load_img`` give for the usual
  transparent-black pixels, and keeps transparent regions free of signal.
* High bit depths are scaled, not clipped: 16-bit grayscale (``I;16*``) is divided by 257 (so
  65535 -> 255); 16-bit RGB(A) PNG files are reduced to their high byte by Pillow itself;
  32-bit integer images (``I``) are read as 8-bit when no value exceeds 255 and as 16-bit
  (/257) otherwise; float images (``F``) are read as 0..1 when no value exceeds 1.0 and as
  0..255 otherwise.
* Animated images (GIF, APNG, WebP) give their first frame.
* A file that is missing, unreadable, truncated or corrupt raises :class:`ImageReadError`, a
  per-sample problem (the sample is skipped), never a run-level error. Images are fully decoded
  (``Image.load()``) so truncation is detected here and not later.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from audit.errors import AuditError
from audit.files import RemoteReadError, is_url, read_bytes


class ImageReadError(Exception):
    """An image file that cannot be read; the sample is skipped with :attr:`reason`.

    Parameters
    ----------
    reason : str
        What went wrong, in words a person understands, naming the file.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def read_image(path: str) -> np.ndarray:
    """Read an image file as ``uint8`` RGB, as it is displayed.

    Parameters
    ----------
    path : str
        The image file.

    Returns
    -------
    numpy.ndarray
        ``uint8`` array of shape ``(height, width, 3)``.

    Raises
    ------
    ImageReadError
        The file is missing, not an image, truncated or corrupt.
    """
    return decode_image(path)[0]


#: EXIF orientations that swap width and height.
_TRANSPOSING = (5, 6, 7, 8)


def decode_image(path: str, *, at_least: tuple[int, int] | None = None
                 ) -> tuple[np.ndarray, tuple[int, int]]:
    """Read an image file as ``uint8`` RGB, possibly at a reduced scale, and its full size.

    Parameters
    ----------
    path : str
        The image file.
    at_least : (height, width), optional
        A JPEG at least twice this size in both dimensions is decoded at a reduced scale
        (1/2, 1/4 or 1/8, by the decoder itself: Pillow's ``draft``), never below this size:
        the same picture for a model that sees it at a fraction of this size, at a fraction of
        the cost. Other formats, and smaller JPEGs, are decoded in full.

    Returns
    -------
    pixels : numpy.ndarray
        ``uint8`` ``(h, w, 3)``, as displayed (EXIF orientation applied).
    size : (height, width)
        The displayed size of the full image, which boxes and masks refer to.

    Raises
    ------
    ImageReadError
        The file is missing, not an image, truncated or corrupt.
    """
    try:
        # A URL (gs://...) is read through Apache Beam's file systems (audit.files).
        source = io.BytesIO(read_bytes(path)) if is_url(path) else path
        with Image.open(source) as img:
            width, height = img.size
            orientation = img.getexif().get(0x0112, 1) if img.format == "JPEG" else 1
            if orientation in _TRANSPOSING:
                width, height = height, width
            if at_least is not None and img.format == "JPEG":
                want_h, want_w = (int(v) for v in at_least)
                if orientation in _TRANSPOSING:
                    want_h, want_w = want_w, want_h
                if img.width >= 2 * want_w and img.height >= 2 * want_h:
                    img.draft("RGB", (want_w, want_h))
            img.load()  # full decode: truncated or corrupt data fails here
            try:
                shown = ImageOps.exif_transpose(img)
            except Exception as exc:  # noqa: BLE001 - a broken EXIF block of this one file
                raise ImageReadError(
                    f"image {path}: its EXIF orientation could not be applied "
                    f"({type(exc).__name__}: {exc})"
                ) from exc
            pixels = _to_rgb(shown, path)
            if at_least is None or pixels.shape[:2] == (height, width):
                height, width = pixels.shape[:2]  # a format whose header size is not final
            return pixels, (int(height), int(width))
    except (ImageReadError, AuditError):
        raise
    except FileNotFoundError as exc:
        raise ImageReadError(f"image file not found: {path}") from exc
    except IsADirectoryError as exc:
        raise ImageReadError(f"image path is a folder, not a file: {path}") from exc
    except PermissionError as exc:
        raise ImageReadError(f"image file cannot be opened (permission denied): {path}") from exc
    except RemoteReadError as exc:
        raise ImageReadError(f"image file {path} cannot be read: {exc}") from exc
    except UnidentifiedImageError as exc:
        raise ImageReadError(
            f"image file {path} is not in an image format Pillow can read"
        ) from exc
    except Image.DecompressionBombError as exc:
        raise ImageReadError(f"image file {path} is too large to decode safely: {exc}") from exc
    except Exception as exc:  # noqa: BLE001 - every decoder failure is a per-sample problem
        raise ImageReadError(
            f"image file {path} is truncated or corrupt ({type(exc).__name__}: {exc})"
        ) from exc


def _to_rgb(img: Image.Image, path: str) -> np.ndarray:
    """Convert a loaded Pillow image of any mode to ``uint8`` RGB (see module conventions)."""
    mode = img.mode
    if mode == "RGB":
        return np.asarray(img, dtype=np.uint8).copy()
    if mode.startswith("I;16"):
        gray = _scale_16bit(np.asarray(img).astype(np.float64))
        return _gray_to_rgb(gray)
    if mode == "I":
        values = np.asarray(img).astype(np.float64)
        if values.size and values.max() > 255:
            gray = _scale_16bit(values)
        else:
            gray = np.clip(values, 0, 255).round().astype(np.uint8)
        return _gray_to_rgb(gray)
    if mode == "F":
        values = np.nan_to_num(np.asarray(img, dtype=np.float64), nan=0.0)
        if values.size and values.max() <= 1.0:
            values = values * 255.0
        return _gray_to_rgb(np.clip(values, 0, 255).round().astype(np.uint8))
    if mode in ("1", "L"):
        return _gray_to_rgb(np.asarray(img.convert("L"), dtype=np.uint8))
    if mode == "P":
        img = img.convert("RGBA" if img.has_transparency_data else "RGB")
        if img.mode == "RGB":
            return np.asarray(img, dtype=np.uint8).copy()
        mode = "RGBA"
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = np.asarray(img.convert("RGBA"), dtype=np.float64)
        rgb = rgba[..., :3] * (rgba[..., 3:4] / 255.0)  # composite on black
        return rgb.round().astype(np.uint8)
    try:
        # CMYK (Pillow undoes Adobe's inverted CMYK JPEGs), YCbCr, HSV, ...
        return np.asarray(img.convert("RGB"), dtype=np.uint8).copy()
    except (ValueError, OSError) as exc:
        raise ImageReadError(
            f"image file {path} has pixel mode {mode!r}, which cannot be converted to RGB"
        ) from exc


def _scale_16bit(values: np.ndarray) -> np.ndarray:
    """Scale 0..65535 values to 0..255 (65535 -> 255), clipping outside values."""
    return np.clip(np.round(values / 257.0), 0, 255).astype(np.uint8)


def _gray_to_rgb(gray: np.ndarray) -> np.ndarray:
    return np.repeat(gray[..., np.newaxis], 3, axis=-1)


def resize_image(rgb: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize a ``uint8`` image to ``size`` with Pillow's bilinear filter.

    Parameters
    ----------
    rgb : numpy.ndarray
        ``uint8`` array ``(H, W, 3)`` (or ``(H, W)`` / ``(H, W, 1)`` grayscale).
    size : tuple of int
        Target ``(height, width)``.

    Returns
    -------
    numpy.ndarray
        ``uint8`` array ``(height, width, C)`` with the input's channel layout.

    Notes
    -----
    Pillow's bilinear filter widens its support when shrinking (it antialiases), unlike
    ``tf.image.resize(..., antialias=False)``; the difference is small for CAM auditing.
    """
    height, width = int(size[0]), int(size[1])
    if height <= 0 or width <= 0:
        raise ValueError(f"resize_image: size must be two positive integers (H, W), got {size!r}")
    arr = np.asarray(rgb)
    if arr.dtype != np.uint8:
        raise ValueError(f"resize_image: expected a uint8 image, got dtype {arr.dtype}")
    squeeze = arr.ndim == 3 and arr.shape[-1] == 1
    src = arr[..., 0] if squeeze else arr
    if src.shape[:2] == (height, width):
        out = src.copy()
    else:
        out = np.asarray(
            Image.fromarray(src).resize((width, height), Image.Resampling.BILINEAR),
            dtype=np.uint8,
        )
    return out[..., np.newaxis] if squeeze else out

