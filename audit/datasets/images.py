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
* Only the formats of :data:`IMAGE_FORMATS` are opened (PNG, JPEG, GIF, WebP, BMP): Pillow is
  never asked to guess among all the formats it knows (EPS would be handed to Ghostscript; TIFF,
  PSD and ICO bring large, rarely needed decoders). Any other file is a skipped sample.
* Memory is bounded before decoding: the header's pixel count (after a JPEG's reduced-scale
  draft) is checked against ``max_pixels`` (``dataset.max_image_pixels``, default
  :data:`DEFAULT_MAX_IMAGE_PIXELS`) before :meth:`PIL.Image.Image.load`, and a larger image is
  a skipped sample. Conversions work in ``uint8``/``uint16``/``uint32`` (float images in
  row blocks), never in ``float64`` over the whole image, so decoding one image peaks at a
  small multiple of its pixel count (measured in ``docs/benchmarks.md``).
"""

from __future__ import annotations

import errno
import io
import warnings

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from audit.errors import AuditError
from audit.files import RemoteReadError, is_url, read_bytes

#: The image formats read by default (Pillow format names); every other file is a skipped
#: sample. ``dataset.image_formats`` may add TIFF (see :data:`OPTIONAL_FORMATS`).
IMAGE_FORMATS = ("PNG", "JPEG", "GIF", "WEBP", "BMP")

#: Formats that may be asked for but are not read by default. TIFF is the one container of
#: 32-bit integer and float images (microscopy, remote sensing), but its decoder (libtiff,
#: with its many compressions) is the largest attack surface of the lot: opt in.
OPTIONAL_FORMATS = ("TIFF",)

#: Default pixel budget of one image (``dataset.max_image_pixels``): 50 million pixels, a
#: 8660x5773 photo; decoding one peaks at 0.3 to 0.75 GB by its mode (6 to 15 bytes per
#: pixel, see ``docs/benchmarks.md``).
DEFAULT_MAX_IMAGE_PIXELS = 50_000_000

#: Pixels converted at a time where a conversion needs floating point (``F`` images).
_BLOCK_PIXELS = 1 << 20


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


def read_image(path: str, *, max_pixels: int | None = DEFAULT_MAX_IMAGE_PIXELS,
               formats: tuple[str, ...] = IMAGE_FORMATS) -> np.ndarray:
    """Read an image file as ``uint8`` RGB, as it is displayed.

    Parameters
    ----------
    path : str
        The image file.
    max_pixels : int or None
        Largest image (width x height, from the header) decoded; ``None``: no limit of ours.
    formats : tuple of str
        The Pillow formats opened (:data:`IMAGE_FORMATS`, optionally TIFF).

    Returns
    -------
    numpy.ndarray
        ``uint8`` array of shape ``(height, width, 3)``.

    Raises
    ------
    ImageReadError
        The file is missing, not an image, truncated or corrupt.
    """
    return decode_image(path, max_pixels=max_pixels, formats=formats)[0]


#: EXIF orientations that swap width and height.
_TRANSPOSING = (5, 6, 7, 8)


def decode_image(path: str, *, at_least: tuple[int, int] | None = None,
                 max_pixels: int | None = DEFAULT_MAX_IMAGE_PIXELS,
                 formats: tuple[str, ...] = IMAGE_FORMATS
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
    max_pixels : int or None
        Largest image decoded, in pixels as the header gives them (after a JPEG's draft);
        a larger one raises :class:`ImageReadError` before any pixel is decoded. ``None``
        leaves only Pillow's own decompression-bomb limit.
    formats : tuple of str
        The Pillow formats opened; any other file raises :class:`ImageReadError`.

    Returns
    -------
    pixels : numpy.ndarray
        ``uint8`` ``(h, w, 3)``, as displayed (EXIF orientation applied).
    size : (height, width)
        The displayed size of the full image, which boxes and masks refer to.

    Raises
    ------
    ImageReadError
        The file is missing, not an image, truncated or corrupt, not in :data:`IMAGE_FORMATS`,
        or larger than ``max_pixels``.
    """
    try:
        # A URL (gs://...) is read through Apache Beam's file systems (audit.files).
        source = io.BytesIO(read_bytes(path)) if is_url(path) else path
        with warnings.catch_warnings():
            # Pillow warns above its own limit; ours (max_pixels) is checked below.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            opened = Image.open(source, formats=list(formats))
        with opened as img:
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
            _check_pixels(img, path, max_pixels)  # from the header, before any decoding
            img.load()  # full decode: truncated or corrupt data fails here
            try:
                # exif_transpose copies the image even when there is nothing to turn.
                turned = img.getexif().get(0x0112, 1) not in (None, 1)
                shown = ImageOps.exif_transpose(img) if turned else img
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
        raise ImageReadError(_unidentified(path, formats)) from exc
    except OSError as exc:
        if exc.errno == errno.ENAMETOOLONG:
            raise ImageReadError(
                f"image file name is longer than the file system allows: {_short(path)}"
            ) from exc
        if exc.errno is not None:  # the operating system's error, not the decoder's
            raise ImageReadError(f"image file {path} cannot be read ({exc.strerror})") from exc
        raise ImageReadError(
            f"image file {path} is truncated or corrupt ({type(exc).__name__}: {exc})"
        ) from exc
    except Image.DecompressionBombError as exc:
        raise ImageReadError(f"image file {path} is too large to decode safely: {exc}") from exc
    except Exception as exc:  # noqa: BLE001 - every decoder failure is a per-sample problem
        raise ImageReadError(
            f"image file {path} is truncated or corrupt ({type(exc).__name__}: {exc})"
        ) from exc


def _unidentified(path: str, formats: tuple[str, ...]) -> str:
    """Why a file was not opened: a format Pillow knows but that is not read (by the file's
    extension), or no image at all."""
    ext = "." + path.rsplit(".", 1)[-1].lower() if "." in path else ""
    known = Image.registered_extensions().get(ext)
    if known and known not in formats:
        return (f"image file {path} is a {known} file (by its name); image files must be "
                f"one of {', '.join(formats)} (dataset.image_formats)")
    return f"image file {path} is not in an image format Pillow can read"


def _short(text: str, limit: int = 200) -> str:
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} characters)"


def _check_pixels(img: Image.Image, path: str, max_pixels: int | None) -> None:
    """Refuse an image larger than ``max_pixels`` from its header (nothing decoded yet)."""
    if max_pixels is None:
        return
    width, height = img.size
    if width * height > max_pixels:
        raise ImageReadError(
            f"image file {path} is {width}x{height} = {width * height:,} pixels; it must be at "
            f"most dataset.max_image_pixels = {max_pixels:,} pixels (raise the limit to audit "
            "it; decoding takes 6 to 15 bytes per pixel)")


def _to_rgb(img: Image.Image, path: str) -> np.ndarray:
    """Convert a loaded Pillow image of any mode to ``uint8`` RGB (see module conventions).

    Integer arithmetic only (float images in row blocks), so the conversion needs at most a
    few bytes per pixel on top of the decoded image; the results are those of the exact
    formulas (``round(v / 257)``, ``round(c * a / 255)``: no value of these lies on a half).
    """
    mode = img.mode
    if mode == "RGB":
        return np.asarray(img, dtype=np.uint8).copy()
    if mode.startswith("I;16"):
        return _gray_to_rgb(_scale_16bit(np.asarray(img)))
    if mode == "I":
        values = np.asarray(img)
        if values.size and values.max() > 255:
            gray = _scale_16bit(values)
        else:
            gray = np.clip(values, 0, 255).astype(np.uint8)
        return _gray_to_rgb(gray)
    if mode == "F":
        values = np.asarray(img, dtype=np.float32)
        # As in nan_to_num(values).max() <= 1: NaN counts as 0, so all-NaN is 0..1 too.
        unit = bool(values.size) and (bool(np.isnan(values).all())
                                      or not float(np.nanmax(values)) > 1.0)
        gray = np.empty(values.shape, dtype=np.uint8)
        flat_in, flat_out = values.reshape(-1), gray.reshape(-1)
        for start in range(0, flat_in.size, _BLOCK_PIXELS):
            block = np.nan_to_num(flat_in[start:start + _BLOCK_PIXELS].astype(np.float64),
                                  nan=0.0)
            if unit:
                block = block * 255.0
            flat_out[start:start + _BLOCK_PIXELS] = np.clip(block, 0, 255).round()
        return _gray_to_rgb(gray)
    if mode in ("1", "L"):
        return _gray_to_rgb(np.asarray(img.convert("L"), dtype=np.uint8))
    if mode == "P":
        img = img.convert("RGBA" if img.has_transparency_data else "RGB")
        if img.mode == "RGB":
            return np.asarray(img, dtype=np.uint8).copy()
        mode = "RGBA"
    if mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = img if mode == "RGBA" else img.convert("RGBA")  # convert() would copy RGBA
        return _composite_on_black(np.asarray(rgba, dtype=np.uint8))
    try:
        # CMYK (Pillow undoes Adobe's inverted CMYK JPEGs), YCbCr, HSV, ...
        return np.asarray(img.convert("RGB"), dtype=np.uint8).copy()
    except (ValueError, OSError) as exc:
        raise ImageReadError(
            f"image file {path} has pixel mode {mode!r}, which cannot be converted to RGB"
        ) from exc


def _composite_on_black(rgba: np.ndarray) -> np.ndarray:
    """``round(c * a / 255)`` per colour channel, in ``uint16``, one channel at a time."""
    alpha = rgba[..., 3].astype(np.uint16)
    out = np.empty(rgba.shape[:-1] + (3,), dtype=np.uint8)
    channel = np.empty(alpha.shape, dtype=np.uint16)
    for c in range(3):
        np.multiply(rgba[..., c], alpha, out=channel, dtype=np.uint16)  # <= 65025
        channel += 127
        channel //= 255
        out[..., c] = channel
    return out


def _scale_16bit(values: np.ndarray) -> np.ndarray:
    """Scale 0..65535 values to 0..255 (``round(v / 257)``, 65535 -> 255), clipping outside
    values, in integer arithmetic.

    >>> _scale_16bit(np.array([0, 128, 129, 385, 386, 65535, 70000, -5], dtype=np.int32))
    array([  0,   0,   1,   1,   2, 255, 255,   0], dtype=uint8)
    """
    wide = np.clip(values, 0, 65535).astype(np.uint32)
    wide += 128
    wide //= 257
    return wide.astype(np.uint8)


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

