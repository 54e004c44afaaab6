"""How alike two maps of the same image are: Spearman rank correlation and SSIM.

The sanity check (:mod:`audit.evidence.sanity`) compares each map with the map of the same
sample after the model's top layers are re-initialised; Adebayo et al. (arXiv 1810.03292)
use both measures. A method whose maps stay alike while the model is destroyed does not
explain the model.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.stats import rankdata
from skimage.metrics import structural_similarity

from audit.validation import check_map

__all__ = ["SSIM_WINDOW", "spearman", "ssim"]

#: The side of SSIM's square window (scikit-image's default); maps must be at least this big.
SSIM_WINDOW = 7


def _check_pair(a, b, *, unit: bool) -> tuple[np.ndarray, np.ndarray]:
    first = check_map(a, "a", unit=unit)
    second = check_map(b, "b", unit=unit)
    if first.shape != second.shape:
        raise ValueError(
            f"a and b must be maps of the same shape; got shapes {first.shape} and {second.shape}"
        )
    return first, second


def spearman(a, b) -> float:
    """Spearman rank correlation of two maps' pixels.

    Parameters
    ----------
    a, b : array_like, shape (height, width)
        Finite maps of the same shape; flattened in row-major order.

    Returns
    -------
    rho : float
        The Pearson correlation of the pixels' ranks, tied pixels given their average rank;
        within [-1, 1]. NaN when either map is constant (no ranking to compare).

    Raises
    ------
    ValueError
        If the maps are not finite 2-D arrays of the same shape.

    References
    ----------
    .. [1] Adebayo, J., Gilmer, J., Muelly, M., Goodfellow, I., Hardt, M. and Kim, B.
           "Sanity Checks for Saliency Maps", NeurIPS 2018, arXiv 1810.03292.

    Examples
    --------
    >>> spearman([[1, 2], [3, 4]], [[1, 3], [2, 4]])  # 1 - 6 (0 + 1 + 1 + 0) / (4 * 15)
    0.8
    >>> spearman([[0, 0], [1, 2]], [[0, 1], [0, 2]])  # ties: ranks 1.5, 1.5, 3, 4
    0.5
    >>> spearman([[1, 1], [1, 1]], [[1, 2], [3, 4]])
    nan
    """
    first, second = _check_pair(a, b, unit=False)
    x = rankdata(first.ravel(), method="average")
    y = rankdata(second.ravel(), method="average")
    x -= x.mean()
    y -= y.mean()
    sx, sy = float(np.dot(x, x)), float(np.dot(y, y))
    if sx == 0.0 or sy == 0.0:
        return math.nan
    rho = float(np.dot(x, y)) / math.sqrt(sx * sy)
    return min(1.0, max(-1.0, rho))


def ssim(a, b) -> float:
    """Structural similarity of two maps scaled to [0, 1] (``data_range=1``).

    ``skimage.metrics.structural_similarity`` with its defaults: a 7 x 7 uniform window,
    sample covariances, ``C1 = (0.01)**2``, ``C2 = (0.03)**2``, averaged over the windows
    that fit inside the map.

    Parameters
    ----------
    a, b : array_like, shape (height, width)
        Maps of the same shape, at least 7 x 7, with values within [0, 1] (scale a map by
        its maximum first, as :func:`audit.cams.postprocess.scale_to_unit` does).

    Returns
    -------
    similarity : float
        1 for equal maps, lower for less alike ones. Always defined, for constant maps too
        (the constants keep every ratio finite): two equal constant maps give 1; all zeros
        against all ones gives ``C1 / (1 + C1)``, about 1e-4; a constant map against a
        structured one scores high only in windows where that one is flat too.

    Raises
    ------
    ValueError
        If the maps differ in shape, are smaller than 7 x 7, or leave [0, 1].

    References
    ----------
    .. [1] Wang, Z., Bovik, A. C., Sheikh, H. R. and Simoncelli, E. P. "Image quality
           assessment: From error visibility to structural similarity", IEEE Transactions
           on Image Processing 13(4), 2004.
    .. [2] Adebayo, J. et al. "Sanity Checks for Saliency Maps", arXiv 1810.03292.

    Examples
    --------
    >>> import numpy as np
    >>> ssim(np.zeros((7, 7)), np.zeros((7, 7)))
    1.0
    >>> round(ssim(np.zeros((7, 7)), np.ones((7, 7))), 8)  # C1 / (0 + 1 + C1), C1 = 1e-4
    9.999e-05
    """
    first, second = _check_pair(a, b, unit=True)
    if min(first.shape) < SSIM_WINDOW:
        raise ValueError(
            f"a and b must be at least {SSIM_WINDOW} x {SSIM_WINDOW} pixels for SSIM's "
            f"{SSIM_WINDOW} x {SSIM_WINDOW} window; got shape {first.shape}"
        )
    return float(
        structural_similarity(first, second, win_size=SSIM_WINDOW, data_range=1.0)
    )
