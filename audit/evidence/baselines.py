"""Maps that explain nothing, to score the methods against: a random map and a centre prior.

A deletion or insertion area means little alone: it depends on the model, the substrate and
the data. :mod:`audit.evidence.outcomes` asks whether a method beats :func:`random_map` on
the same samples, image by image; :func:`centre_map` shows how far "the object is in
the middle" goes on its own.
"""

from __future__ import annotations

import math
from numbers import Real

import numpy as np
from scipy import ndimage

from audit.validation import check_seed, check_shape

__all__ = ["RANDOM_SMOOTH_DIVISOR", "centre_map", "random_map"]

#: The random map's default smoothing sigma is ``max(height, width) / RANDOM_SMOOTH_DIVISOR``.
RANDOM_SMOOTH_DIVISOR = 16


def _check_smooth(smooth) -> float | None:
    if smooth is None:
        return None
    if isinstance(smooth, bool) or not isinstance(smooth, Real) or not math.isfinite(smooth) or (
        smooth < 0
    ):
        raise ValueError(
            f"smooth must be None or a finite number of pixels >= 0; got smooth={smooth!r}"
        )
    return float(smooth)


def random_map(shape, *, seed: int, smooth: float | None = None) -> np.ndarray:
    """Seeded uniform noise, smoothed with a Gaussian and scaled to [0, 1].

    Parameters
    ----------
    shape : tuple of int
        ``(height, width)`` of the map (the model input's).
    seed : int
        Seed of ``numpy.random.default_rng``; the same seed and shape give the same map. Use
        a different seed per sample (its index, say) so the maps differ across samples.
    smooth : float, optional
        The Gaussian's sigma in pixels (borders reflected); 0 leaves the noise as drawn.
        Default ``max(height, width) / 16`` (14 px at 224 px): blobs about the size of an
        upsampled 7 x 7 CAM's cells, so that deleting by the random map removes regions,
        as deleting by a CAM does, not scattered pixels.

    Returns
    -------
    map : ndarray of float64, shape (height, width)
        Min-max scaled to [0, 1]; all zeros in the degenerate case of a constant field (a
        single pixel).

    Examples
    --------
    >>> m = random_map((8, 8), seed=0)
    >>> float(m.min()), float(m.max())
    (0.0, 1.0)
    >>> bool(np.array_equal(m, random_map((8, 8), seed=0)))
    True
    """
    height, width = check_shape(shape)
    rng = np.random.default_rng(check_seed(seed))
    sigma = _check_smooth(smooth)
    if sigma is None:
        sigma = max(height, width) / RANDOM_SMOOTH_DIVISOR
    noise = rng.uniform(size=(height, width))
    if sigma > 0:
        noise = ndimage.gaussian_filter(noise, sigma, mode="reflect")
    low, high = float(noise.min()), float(noise.max())
    if high == low:
        return np.zeros((height, width))
    return (noise - low) / (high - low)


def centre_map(shape) -> np.ndarray:
    """A Gaussian centred on the image, sigma a quarter of each side, peaking at 1.

    ``exp(-(dy**2 / (2 (H/4)**2) + dx**2 / (2 (W/4)**2)))`` with ``dy``, ``dx`` the distance
    of each pixel's centre from the image's centre ``((H - 1) / 2, (W - 1) / 2)``, divided by
    its maximum (below 1 for an even side, whose centre falls between pixels).

    Parameters
    ----------
    shape : tuple of int
        ``(height, width)`` of the map.

    Returns
    -------
    map : ndarray of float64, shape (height, width)
        Within (0, 1], 1 at the centre pixel(s).

    Examples
    --------
    >>> centre_map((3, 3)).round(4)  # sigma 0.75: exp(-1/1.125), exp(-2/1.125)
    array([[0.169 , 0.4111, 0.169 ],
           [0.4111, 1.    , 0.4111],
           [0.169 , 0.4111, 0.169 ]])
    """
    height, width = check_shape(shape)
    dy = np.arange(height) - (height - 1) / 2
    dx = np.arange(width) - (width - 1) / 2
    gy = np.exp(-(dy**2) / (2 * (height / 4) ** 2))
    gx = np.exp(-(dx**2) / (2 * (width / 4) ** 2))
    field = np.outer(gy, gx)
    return field / field.max()
