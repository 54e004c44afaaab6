"""Behavioural edits: fill the object, or everything but the object, in original pixel space.

The edits are made on the uint8 image as read from disk, before the model's preprocessing
(resize, scaling), so that a fill means the same colour whatever the model expects. A mask
comes from the sample's boxes at the original size (:func:`audit.metrics.masks.boxes_to_mask`)
or from a segmentation. The behaviour test built on these edits is in
:mod:`audit.evidence.behaviour`; the idea is ImageNet-9's Only-FG / Only-BG images (Xiao et
al., arXiv 2006.09994).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import ndimage

from audit.validation import check_choice, check_mask, check_sigma, check_uint8_image

__all__ = ["BLUR_DIVISOR", "FILLS", "GRAY", "fill_region", "remove_background", "remove_object"]

#: The fills :func:`fill_region` knows.
FILLS = ("mean", "gray", "black", "blur")

#: The value of the ``gray`` fill in every channel.
GRAY = 128

#: The ``blur`` fill's default sigma is ``max(height, width) / BLUR_DIVISOR`` pixels.
BLUR_DIVISOR = 16


def _blurred(image: np.ndarray, sigma: float) -> np.ndarray:
    """The whole image blurred channel by channel, rounded back to uint8."""
    sigmas = (sigma, sigma) if image.ndim == 2 else (sigma, sigma, 0.0)
    blurred = ndimage.gaussian_filter(image.astype(np.float64), sigmas, mode="reflect")
    return np.clip(np.rint(blurred), 0, 255).astype(np.uint8)


def _check_fill(fill, image: np.ndarray):
    """``fill`` as a name of :data:`FILLS` or a uint8 colour with one value per channel."""
    if isinstance(fill, str):
        return check_choice(fill, "fill", FILLS)
    channels = 1 if image.ndim == 2 else image.shape[2]
    colour = np.asarray(fill) if isinstance(fill, Sequence | np.ndarray) else None
    if (
        colour is None
        or colour.shape != (channels,)
        or not np.issubdtype(colour.dtype, np.integer)
        or colour.min() < 0
        or colour.max() > 255
    ):
        raise ValueError(
            f"fill must be one of {FILLS} or a colour of {channels} integer(s) in 0..255, one "
            f"per channel; got fill={fill!r}"
        )
    return colour.astype(np.uint8).reshape(() if image.ndim == 2 else (channels,))


def _fill_values(image: np.ndarray, fill, sigma: float | None) -> np.ndarray:
    """What goes in place of the region: one colour (broadcast) or a whole image."""
    if isinstance(fill, np.ndarray):
        return fill
    if fill == "blur":
        if sigma is None:
            sigma = max(image.shape[:2]) / BLUR_DIVISOR
        return _blurred(image, sigma)
    channels = () if image.ndim == 2 else (image.shape[2],)
    if fill == "mean":
        mean = image.reshape(-1, *channels).mean(axis=0, dtype=np.float64)
        return np.rint(mean).astype(np.uint8)
    return np.full(channels, GRAY if fill == "gray" else 0, dtype=np.uint8)


def fill_region(image, region, *, fill: str = "mean", blur_sigma: float | None = None):
    """A copy of ``image`` with the pixels of ``region`` replaced by a fill.

    Parameters
    ----------
    image : ndarray of uint8, shape (height, width) or (height, width, channels)
        The image in original pixel space (gray or RGB), before preprocessing.
    region : array_like of bool, shape (height, width)
        The pixels to replace; 0/1 numbers are accepted. An empty region changes nothing.
    fill : {'mean', 'gray', 'black', 'blur'} or sequence of int, optional
        ``'mean'``: the image's own mean colour, per channel, over the *whole* image (the
        region included), rounded to the nearest integer (halves to even, ``numpy.rint``).
        ``'gray'``: 128 in every channel. ``'black'``: 0. ``'blur'``: the same pixels of a
        strong Gaussian blur of the whole image (rounded, channels blurred separately,
        borders reflected). A sequence of integers in 0..255, one per channel (one for a
        gray image): that colour, the same for every image (a dataset's mean colour, say).
    blur_sigma : float, optional
        The blur's standard deviation in pixels; only with ``fill='blur'``. Default
        ``max(height, width) / 16`` (14 px for a 224 px image): strong enough that an
        object's shape does not survive it.

    Returns
    -------
    edited : ndarray of uint8, the shape of ``image``
        A new array; ``image`` is not modified. Pixels outside ``region`` are unchanged.

    Raises
    ------
    ValueError
        If ``image`` is not a uint8 2-D or 3-D array, ``region`` is not a boolean mask of
        its height and width, ``fill`` is unknown, or ``blur_sigma`` is not a positive
        number or is given with another fill.

    Notes
    -----
    No fill is neutral for every model; compare fills when a verdict depends on one.
    ``'blur'`` blurs the whole image, so a blurred region keeps a smeared trace of its own
    colours. ``'mean'`` and ``'blur'`` both keep the colour of whatever covers most of the
    image: when the background does (a small object), :func:`remove_background` fills it
    with roughly the background's own colour, and a model cued by that colour keeps its
    decision. On the project's demo (boxes cover 17% of each image) the background-cued
    model kept every decision without its background under ``'mean'`` and ``'blur'``, so
    ``background_reliance`` was 0.0; ``'gray'`` gave +0.53 (and -0.60 for the shape
    model). A fixed colour (``'gray'``, or a dataset's mean colour as a sequence) does
    not depend on the image and has no such blind spot.

    References
    ----------
    .. [1] Xiao, K., Engstrom, L., Ilyas, A. and Madry, A. "Noise or Signal: The Role of
           Image Backgrounds in Object Recognition", ICLR 2021, arXiv 2006.09994.

    Examples
    --------
    >>> import numpy as np
    >>> image = np.array([[[10, 0, 0], [20, 0, 0]], [[30, 0, 0], [40, 0, 3]]], np.uint8)
    >>> region = np.array([[True, False], [False, False]])
    >>> fill_region(image, region)[0, 0]  # mean of 10, 20, 30, 40 = 25; of 0, 0, 0, 3 = 0.75
    array([25,  0,  1], dtype=uint8)
    >>> fill_region(image, region, fill="gray")[..., 0]
    array([[128,  20],
           [ 30,  40]], dtype=uint8)
    """
    array = check_uint8_image(image)
    mask = check_mask(region, "region", shape=array.shape[:2])
    fill = _check_fill(fill, array)
    sigma = check_sigma(blur_sigma, "blur_sigma")
    if sigma is not None and fill != "blur":
        raise ValueError(
            "blur_sigma is only used with fill='blur'; "
            f"got fill={fill!r}, blur_sigma={blur_sigma!r}"
        )
    edited = array.copy()
    values = _fill_values(array, fill, sigma)
    edited[mask] = values[mask] if values.ndim == array.ndim else values
    return edited


def remove_object(image, mask, *, fill: str = "mean", blur_sigma: float | None = None):
    """The image without its object: the pixels of ``mask`` filled (see :func:`fill_region`).

    Examples
    --------
    >>> import numpy as np
    >>> image = np.array([[0, 100], [100, 200]], np.uint8)
    >>> remove_object(image, np.array([[False, False], [False, True]]), fill="black")
    array([[  0, 100],
           [100,   0]], dtype=uint8)
    """
    return fill_region(image, mask, fill=fill, blur_sigma=blur_sigma)


def remove_background(image, mask, *, fill: str = "mean", blur_sigma: float | None = None):
    """The object alone: every pixel outside ``mask`` filled (see :func:`fill_region`).

    The mean colour is still that of the whole image, object included.

    Examples
    --------
    >>> import numpy as np
    >>> image = np.array([[0, 100], [100, 200]], np.uint8)
    >>> remove_background(image, np.array([[False, False], [False, True]]))  # mean 100
    array([[100, 100],
           [100, 200]], dtype=uint8)
    """
    array = check_uint8_image(image)
    inside = check_mask(mask, "mask", shape=array.shape[:2])
    return fill_region(array, ~inside, fill=fill, blur_sigma=blur_sigma)
