"""Deletion and insertion: does removing what a map ranks first change the decision first?

RISE (Petsiuk et al., arXiv 1806.07421, section 4.2): rank the input's pixels by the map,
then delete them, most salient first, in ``N`` equal steps (or insert them into a blank
substrate), scoring the explained class's probability at every step. A faithful map makes
the deletion curve fall fast (low area) and the insertion curve rise fast (high area). The
areas mean little alone; compare them with a random map's on the same samples
(:mod:`audit.evidence.baselines`), paired image by image (:mod:`audit.evidence.outcomes`).

Everything here works on the *model input* (the preprocessed float image) and a map at input
resolution. Cost: the two ladders of a map hold ``2 (N + 1)`` images, ``2 N + 1`` forward
passes with Average Drop's explanation-map input. Fewer are new: deletion's first and
insertion's last image are the input itself (its score is the audit's own prediction), and
deletion's last and insertion's first are the substrate (one pass per sample, shared by all
its maps), so each map needs ``2 (N - 1)`` passes (``at=range(1, N)``) plus one for the
explanation-map input; the random baseline map costs as much as a method. With RISE's
``N = 224`` at 224 px a full ladder is 135 MB in float32: :func:`ladder_batches` cuts the
ladders of a batch of samples into model batches of a fixed size, so memory stays bounded
and the model always sees one input shape.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from scipy import ndimage

from audit.validation import (
    check_choice,
    check_float_image,
    check_int,
    check_map,
    check_sigma,
)

__all__ = [
    "BLUR_SIGMA_AT_224",
    "MODES",
    "SUBSTRATES",
    "auc",
    "ladder_batches",
    "perturbation_ladder",
    "pixel_order",
    "step_counts",
    "substrate",
]

#: How a ladder perturbs the image.
MODES = ("deletion", "insertion")

#: What replaces the deleted pixels (or what pixels are inserted into).
SUBSTRATES = ("blur", "mean", "zero")

#: The blur substrate's sigma for a 224 px input; it scales with the input size.
BLUR_SIGMA_AT_224 = 5.0


def substrate(image, *, kind: str = "blur", sigma: float | None = None) -> np.ndarray:
    """The blank that deletion writes into the image and insertion starts from.

    Parameters
    ----------
    image : ndarray of float, shape (height, width, channels)
        The model input (already preprocessed).
    kind : {'blur', 'mean', 'zero'}, optional
        ``'blur'``: a Gaussian blur of the image, channels separately, borders reflected
        (RISE's substrate for insertion). ``'mean'``: every pixel the image's per-channel
        mean. ``'zero'``: zeros, i.e. whatever 0 means after preprocessing (mid-grey for
        inputs scaled to [-1, 1], the mean colour for mean-subtracted inputs, black for
        [0, 1] inputs).
    sigma : float, optional
        The blur's standard deviation in pixels; only with ``kind='blur'``. Default
        ``5 * max(height, width) / 224``: RISE's 5 px at 224 px, scaled with the input.

    Returns
    -------
    blank : ndarray, shape and dtype of ``image``

    Raises
    ------
    ValueError
        If ``image`` is not a finite float ``(height, width, channels)`` array, ``kind`` is
        unknown, or ``sigma`` is not a positive number or is given with another kind.

    Notes
    -----
    RISE's code blurs with an 11-tap kernel of sigma 5 and zero padding; this uses SciPy's
    full Gaussian (truncated at 4 sigma) with reflected borders, so the edges of the blank
    do not darken towards 0.

    Examples
    --------
    >>> import numpy as np
    >>> image = np.array([[[0.0, 1.0], [2.0, 1.0]]])  # 1 x 2 pixels, 2 channels
    >>> substrate(image, kind="mean")
    array([[[1., 1.],
            [1., 1.]]])
    >>> substrate(np.ones((4, 4, 3)), kind="blur")[0, 0]
    array([1., 1., 1.])
    """
    array = check_float_image(image)
    check_choice(kind, "kind", SUBSTRATES)
    blur_sigma = check_sigma(sigma, "sigma")
    if blur_sigma is not None and kind != "blur":
        raise ValueError(f"sigma is only used with kind='blur'; got kind={kind!r}, sigma={sigma!r}")
    if kind == "zero":
        return np.zeros_like(array)
    if kind == "mean":
        mean = array.mean(axis=(0, 1), dtype=np.float64)
        return np.broadcast_to(mean, array.shape).astype(array.dtype)
    if blur_sigma is None:
        blur_sigma = BLUR_SIGMA_AT_224 * max(array.shape[:2]) / 224
    blurred = ndimage.gaussian_filter(
        array.astype(np.float64), (blur_sigma, blur_sigma, 0.0), mode="reflect"
    )
    return blurred.astype(array.dtype)


def pixel_order(saliency) -> np.ndarray:
    """The map's pixels, most salient first, as flat (row-major) indices.

    Ties keep row-major order (a stable sort of the negated map), so a constant map gives
    ``0, 1, 2, ...``.

    Examples
    --------
    >>> pixel_order([[0.5, 0.9], [0.5, 0.1]])
    array([1, 0, 2, 3])
    """
    values = check_map(saliency, "saliency")
    return np.argsort(-values.ravel(), kind="stable")


def step_counts(n_pixels: int, *, steps: int) -> np.ndarray:
    """How many pixels are replaced after each step: ``round(k * n_pixels / steps)``.

    Rounded half up, in exact integer arithmetic: ``(2 k n_pixels + steps) // (2 steps)``,
    for ``k = 0 .. steps``; so step 0 replaces none and step ``steps`` replaces all.

    Examples
    --------
    >>> step_counts(10, steps=4)  # 0, 2.5, 5, 7.5, 10 rounded half up
    array([ 0,  3,  5,  8, 10])
    """
    n = check_int(n_pixels, "n_pixels", minimum=1)
    count = check_int(steps, "steps", minimum=1)
    k = np.arange(count + 1, dtype=np.int64)
    return (2 * k * n + count) // (2 * count)


def _check_at(at, steps: int) -> np.ndarray:
    if at is None:
        return np.arange(steps + 1)
    indices = np.asarray(at)
    if indices.ndim == 1 and indices.size == 0:
        return indices.astype(np.intp)
    if (
        indices.ndim != 1
        or indices.dtype == bool
        or not np.issubdtype(indices.dtype, np.integer)
        or indices.min() < 0
        or indices.max() > steps
    ):
        raise ValueError(
            f"at must be a 1-D sequence of step indices in [0, {steps}]; got at={at!r}"
        )
    return indices.astype(np.intp)


def perturbation_ladder(image, saliency, substrate, *, steps: int, mode: str, at=None):
    """The images of a deletion or insertion curve, one per step.

    Parameters
    ----------
    image : ndarray of float, shape (height, width, channels)
        The model input (already preprocessed).
    saliency : array_like, shape (height, width)
        The map at input resolution; only its ranking of the pixels matters (see
        :func:`pixel_order`: descending, ties in row-major order).
    substrate : ndarray, shape of ``image``
        The blank (see :func:`substrate`).
    steps : int
        Number of equal steps ``N``; step ``k`` has replaced the ``round(k * H * W / N)``
        (half up, :func:`step_counts`) top-ranked pixels, all channels of each.
    mode : {'deletion', 'insertion'}
        ``'deletion'`` starts from the image and writes the substrate into the top pixels;
        ``'insertion'`` starts from the substrate and restores the top pixels of the image.
    at : sequence of int, optional
        Only these steps, in this order (default ``0 .. N``): a caller can skip the ends,
        whose scores it knows, or build a long ladder in parts.

    Returns
    -------
    ladder : ndarray, shape (len(at), height, width, channels), dtype of ``image``
        Step 0 is the untouched start, step ``N`` fully replaced (deletion) or restored
        (insertion). Memory grows with the number of steps; see :func:`ladder_batches`.

    Raises
    ------
    ValueError
        If the shapes do not match, an input is not finite, ``steps`` is not a positive
        integer, ``mode`` is unknown, or a step in ``at`` is outside ``[0, steps]``.

    References
    ----------
    .. [1] Petsiuk, V., Das, A. and Saenko, K. "RISE: Randomized Input Sampling for
           Explanation of Black-box Models", BMVC 2018, arXiv 1806.07421.

    Examples
    --------
    >>> import numpy as np
    >>> image = np.array([[[1.0], [2.0]], [[3.0], [4.0]]])  # 2 x 2 pixels, 1 channel
    >>> saliency = [[0.1, 0.9], [0.5, 0.0]]  # order: (0, 1), (1, 0), (0, 0), (1, 1)
    >>> ladder = perturbation_ladder(image, saliency, np.zeros_like(image), steps=2,
    ...                              mode="deletion")
    >>> ladder[..., 0]  # 0, then 2, then 4 pixels replaced
    array([[[1., 2.],
            [3., 4.]],
    <BLANKLINE>
           [[1., 0.],
            [0., 4.]],
    <BLANKLINE>
           [[0., 0.],
            [0., 0.]]])
    >>> perturbation_ladder(image, saliency, np.zeros_like(image), steps=2,
    ...                     mode="insertion", at=[1])[..., 0]
    array([[[0., 2.],
            [3., 0.]]])
    """
    array = check_float_image(image)
    order = pixel_order(check_map(saliency, "saliency", shape=array.shape[:2]))
    blank = check_float_image(substrate, "substrate")
    if blank.shape != array.shape:
        raise ValueError(
            f"substrate must have the image's shape {array.shape}; got shape {blank.shape}"
        )
    count = check_int(steps, "steps", minimum=1)
    check_choice(mode, "mode", MODES)
    indices = _check_at(at, count)
    height, width, channels = array.shape
    counts = step_counts(height * width, steps=count)
    start, end = (array, blank) if mode == "deletion" else (blank, array)
    start = start.reshape(height * width, channels).astype(array.dtype)
    end = end.reshape(height * width, channels).astype(array.dtype)
    ladder = np.empty((indices.size, height * width, channels), dtype=array.dtype)
    for row, k in enumerate(indices):
        ladder[row] = start
        top = order[: counts[k]]
        ladder[row, top] = end[top]
    return ladder.reshape(indices.size, height, width, channels)


def ladder_batches(
    images, saliencies, substrates, *, steps: int, mode: str, batch_size: int, at=None
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """The ladders of several samples, in model batches of ``batch_size`` images.

    Parameters
    ----------
    images : ndarray of float, shape (n, height, width, channels)
        Model inputs.
    saliencies : array_like, shape (n, height, width)
        One map per image.
    substrates : ndarray, shape (n, height, width, channels)
        One blank per image.
    steps, mode, at
        As in :func:`perturbation_ladder`; ``at`` applies to every sample.
    batch_size : int
        Images per yielded batch; every batch but the last is full.

    Yields
    ------
    rows : ndarray of int, shape (b, 2)
        ``(sample, step)`` of each image of the batch, samples in order, steps in the order
        of ``at``.
    batch : ndarray, shape (b, height, width, channels)
        The images; ``scores[rows[:, 0], rows[:, 1]] = model(batch)[:, class]`` fills an
        ``(n, steps + 1)`` table for :func:`auc`.

    Examples
    --------
    >>> import numpy as np
    >>> images = np.ones((2, 2, 2, 1))
    >>> maps = np.zeros((2, 2, 2))
    >>> blanks = np.zeros_like(images)
    >>> for rows, batch in ladder_batches(images, maps, blanks, steps=2, mode="deletion",
    ...                                   batch_size=4):
    ...     print(rows.tolist(), batch.shape)
    [[0, 0], [0, 1], [0, 2], [1, 0]] (4, 2, 2, 1)
    [[1, 1], [1, 2]] (2, 2, 2, 1)
    """
    inputs = np.asarray(images)
    maps = np.asarray(saliencies)
    blanks = np.asarray(substrates)
    if inputs.ndim != 4 or maps.shape != inputs.shape[:3] or blanks.shape != inputs.shape:
        raise ValueError(
            "images, saliencies and substrates must have shapes (n, height, width, channels), "
            f"(n, height, width) and (n, height, width, channels); got {inputs.shape}, "
            f"{maps.shape} and {blanks.shape}"
        )
    size = check_int(batch_size, "batch_size", minimum=1)
    indices = _check_at(at, check_int(steps, "steps", minimum=1))
    rows = np.array([(i, k) for i in range(inputs.shape[0]) for k in indices], dtype=np.intp)
    for first in range(0, len(rows), size):
        chunk = rows[first : first + size]
        batch = np.empty((len(chunk), *inputs.shape[1:]), dtype=inputs.dtype)
        for sample in np.unique(chunk[:, 0]):
            where = chunk[:, 0] == sample
            batch[where] = perturbation_ladder(
                inputs[sample], maps[sample], blanks[sample],
                steps=steps, mode=mode, at=chunk[where, 1],
            )
        yield chunk, batch


def auc(scores):
    """Area under a deletion or insertion curve, as RISE computes it.

    ``(sum(s) - s[0] / 2 - s[N] / 2) / N`` for scores ``s[0] .. s[N]`` over ``N`` equal steps:
    the trapezoid rule on ``[0, 1]``, so scores within [0, 1] give an area within [0, 1].

    Parameters
    ----------
    scores : array_like, shape (N + 1,) or (..., N + 1)
        Finite scores (the explained class's probability) at steps ``0 .. N``, ``N >= 1``;
        a table gives one area per row.

    Returns
    -------
    area : float or ndarray
        Lower is better for deletion, higher for insertion.

    References
    ----------
    .. [1] Petsiuk, V., Das, A. and Saenko, K. "RISE: Randomized Input Sampling for
           Explanation of Black-box Models", BMVC 2018, arXiv 1806.07421.

    Examples
    --------
    >>> auc([1.0, 0.5, 0.25, 0.0])  # (1.75 - 0.5 - 0) / 3
    0.4166666666666667
    >>> auc([[1.0, 1.0], [0.0, 1.0]])
    array([1. , 0.5])
    """
    values = np.asarray(scores, dtype=np.float64)
    if values.ndim < 1 or values.shape[-1] < 2:
        raise ValueError(
            "scores must hold N + 1 >= 2 values per curve (steps 0 .. N); "
            f"got shape {values.shape}"
        )
    if not np.all(np.isfinite(values)):
        raise ValueError("scores must be finite; got a NaN or infinite score")
    n = values.shape[-1] - 1
    area = (values.sum(axis=-1) - values[..., 0] / 2 - values[..., -1] / 2) / n
    return float(area) if values.ndim == 1 else area
