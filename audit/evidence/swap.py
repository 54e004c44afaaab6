"""Background swap: an object pasted onto another image's background (ImageNet-9).

Xiao et al. (arXiv 2006.09994) test whether a classifier's decision follows the object or its
background by pasting each image's object onto the background of another image of the *same*
class (Mixed-Same) and of a *different* class (Mixed-Rand). The donor's own object is removed
first: ImageNet-9 fills its bounding box with tiles of the donor's own background ("Only-BG-T"),
and so does :func:`tile_hole` here (no inpainting), so the donor's hole carries the donor's
background texture and colour rather than a fill colour chosen by us. No fill colour enters the
test, so a model cued by the background's colour cannot keep its decision by it.

``BG-Gap = acc(Mixed-Same) - acc(Mixed-Rand)``: how much accuracy the *class* of the background
is worth once the object is held fixed. Published for orientation (ImageNet-9, ResNet-50):
Mixed-Same 86.2%, Mixed-Rand 78.9%, BG-Gap 7.3 points.

The edits are made on uint8 images of one size (the model's input size, before
preprocessing); the donors are chosen by :func:`choose_donors`, a pure function of the seed and
the sample ids, so a run's donors do not depend on its batch size or engine.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np

from audit.evidence._checks import check_mask, check_seed, check_uint8_image

__all__ = ["choose_donors", "paste_object", "swap_background", "swap_decision", "tile_hole"]


def _strips(region: np.ndarray) -> list[tuple[int, int, int, int]]:
    """The background bands beside the region's bounding box, as ``(top, left, bottom, right)``
    (exclusive ends): full-width above and below it, full-height left and right of it."""
    height, width = region.shape
    rows, cols = np.flatnonzero(region.any(axis=1)), np.flatnonzero(region.any(axis=0))
    top, bottom, left, right = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    return [(0, 0, top, width), (bottom, 0, height, width),
            (0, 0, height, left), (0, right, height, width)]


def tile_hole(image, region):
    """A copy of ``image`` whose ``region`` is filled with tiles of its own background.

    The largest band of background beside the region's bounding box (the full-width band
    above or below it, or the full-height band left or right of it; the first of these on
    ties) is repeated over the image, anchored at the band's own corner, and its pixels
    replace those of ``region``: ImageNet-9's "Only-BG-T" tiling. When the region's bounding
    box spans the whole image (no band), the region gets the mean colour of the image's
    remaining background pixels (rounded, halves to even).

    Parameters
    ----------
    image : ndarray of uint8, shape (height, width) or (height, width, channels)
        The donor image.
    region : array_like of bool, shape (height, width)
        The donor's object. An empty region changes nothing.

    Returns
    -------
    ndarray of uint8, the shape of ``image``
        A new array; pixels outside ``region`` are unchanged.

    Raises
    ------
    ValueError
        If ``image`` is not a uint8 image, ``region`` is not a mask of its size, or the region
        covers the whole image (no background to tile from).

    Examples
    --------
    >>> import numpy as np
    >>> image = np.array([[1, 2, 3], [4, 5, 6], [7, 8, 9]], np.uint8)
    >>> region = np.zeros((3, 3), bool); region[1:, 1:] = True
    >>> tile_hole(image, region)  # the band above (row 0) is tiled down
    array([[1, 2, 3],
           [4, 2, 3],
           [7, 2, 3]], dtype=uint8)
    """
    array = check_uint8_image(image)
    mask = check_mask(region, "region", shape=array.shape[:2])
    if not mask.any():
        return array.copy()
    if mask.all():
        raise ValueError("region must leave some background to tile from; got a region "
                         "covering the whole image")
    edited = array.copy()
    height, width = mask.shape
    top, left, bottom, right = max(_strips(mask), key=lambda s: (s[2] - s[0]) * (s[3] - s[1]))
    if (bottom - top) * (right - left) == 0:
        mean = array[~mask].mean(axis=0, dtype=np.float64)
        edited[mask] = np.rint(mean).astype(np.uint8)
        return edited
    band = array[top:bottom, left:right]
    rows = (np.arange(height) - top) % band.shape[0]
    cols = (np.arange(width) - left) % band.shape[1]
    tiled = band[rows[:, None], cols[None, :]]
    edited[mask] = tiled[mask]
    return edited


def paste_object(image, region, background):
    """``background`` with the pixels of ``region`` taken from ``image``.

    Examples
    --------
    >>> import numpy as np
    >>> paste_object(np.full((2, 2), 9, np.uint8), np.eye(2, dtype=bool),
    ...              np.zeros((2, 2), np.uint8))
    array([[9, 0],
           [0, 9]], dtype=uint8)
    """
    array = check_uint8_image(image)
    mask = check_mask(region, "region", shape=array.shape[:2])
    base = check_uint8_image(background)
    if base.shape != array.shape:
        raise ValueError(f"background must have the shape of image {array.shape}; got "
                         f"background.shape={base.shape}")
    out = base.copy()
    out[mask] = array[mask]
    return out


def swap_background(image, region, donor, donor_region):
    """The object of ``image`` on the background of ``donor`` (ImageNet-9's Mixed images).

    The donor's own object (``donor_region``) is first filled by :func:`tile_hole`, then the
    pixels of ``region`` are copied from ``image`` onto it (:func:`paste_object`).

    Examples
    --------
    >>> import numpy as np
    >>> image = np.full((3, 3), 50, np.uint8)
    >>> region = np.zeros((3, 3), bool); region[1, 1] = True
    >>> donor = np.array([[1, 2, 3], [4, 5, 6], [7, 8, 9]], np.uint8)
    >>> donor_region = np.zeros((3, 3), bool); donor_region[1:, 1:] = True
    >>> swap_background(image, region, donor, donor_region)
    array([[ 1,  2,  3],
           [ 4, 50,  3],
           [ 7,  2,  3]], dtype=uint8)
    """
    return paste_object(image, region, tile_hole(donor, donor_region))


def _draw(seed: int, sample_id: str, what: str) -> np.random.Generator:
    """A generator seeded by ``(seed, sample_id, what)`` alone."""
    digest = hashlib.sha256(f"{seed}\x00{what}\x00{sample_id}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def choose_donors(sample_ids: Sequence[str], labels: Sequence[int], *, seed: int,
                  candidates: Sequence[int] | None = None,
                  positions: Sequence[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per sample, the index of its Mixed-Same and of its Mixed-Rand background donor.

    Parameters
    ----------
    sample_ids : sequence of str
        The dataset's samples (unique ids), in the manifest's order.
    labels : sequence of int
        Their true classes.
    seed : int
        The run's seed.
    candidates : sequence of int, optional
        The positions of the samples that may give a background (those with a region);
        default all.
    positions : sequence of int, optional
        The samples to draw donors for (a batch's); default all.

    Returns
    -------
    same, rand : ndarray of int, shape (len(positions),)
        ``same[i]``: a candidate of sample ``i``'s class other than ``i`` itself, uniformly;
        ``rand[i]``: first a class other than sample ``i``'s, uniformly among the classes that
        have a candidate, then one of its candidates, uniformly (ImageNet-9: "a random
        background of a random class"). ``-1`` where there is none. Each draw depends only on
        ``seed`` and the sample's id (and the candidates): the same whatever the batch size,
        engine or the order samples are processed in.

    Examples
    --------
    >>> same, rand = choose_donors(["a", "b", "c", "d"], [0, 0, 1, 1], seed=0)
    >>> [int(same[i]) for i in range(4)]  # the only other sample of each class
    [1, 0, 3, 2]
    >>> all(int(rand[i]) in ((2, 3) if i < 2 else (0, 1)) for i in range(4))
    True
    """
    seed = check_seed(seed)
    labels = np.asarray(labels, dtype=np.int64)
    if len(sample_ids) != len(labels):
        raise ValueError(f"sample_ids and labels must have the same length; got "
                         f"{len(sample_ids)} and {len(labels)}")
    pool = np.arange(len(labels)) if candidates is None else np.asarray(candidates, np.int64)
    by_class = {int(c): pool[labels[pool] == c] for c in np.unique(labels[pool])}
    wanted = range(len(labels)) if positions is None else [int(p) for p in positions]
    same = np.full(len(wanted), -1, np.int64)
    rand = np.full(len(wanted), -1, np.int64)
    classes = sorted(by_class)
    for j, i in enumerate(wanted):
        sample_id, label = sample_ids[i], int(labels[i])
        own = by_class.get(label, np.zeros(0, np.int64))
        own = own[own != i]
        if own.size:
            same[j] = own[_draw(seed, sample_id, "same").integers(own.size)]
        others = [c for c in classes if c != label]
        if others:
            rng = _draw(seed, sample_id, "rand")
            chosen = by_class[others[rng.integers(len(others))]]
            rand[j] = chosen[rng.integers(chosen.size)]
    return same, rand


def swap_decision(correct: bool, predicted_mixed_rand: int, donor_class: int) -> float:
    """Whether a misclassified sample's decision rests on the background, by the swap.

    Parameters
    ----------
    correct : bool
        Whether the sample was classified correctly.
    predicted_mixed_rand : int
        The class given to its object pasted on the Mixed-Rand donor's background.
    donor_class : int
        The class of that background: the model's decision on the donor's background alone
        (its object tiled over, ImageNet-9's Only-BG-T), -1 when unknown.

    Returns
    -------
    float
        For a misclassified sample: 1.0 when its object on the other background is given the
        *background's* class (the decision moved with the background), else 0.0; NaN for a
        correct sample or without a donor (``donor_class < 0``). The swap's counterpart of
        :func:`audit.evidence.behaviour.background_decision`, with no fill involved.

    Examples
    --------
    >>> swap_decision(False, 2, 2)  # called the donor background's class
    1.0
    >>> swap_decision(False, 0, 2)
    0.0
    >>> swap_decision(True, 2, 2)
    nan
    """
    if correct or donor_class < 0:
        return float("nan")
    return 1.0 if int(predicted_mixed_rand) == int(donor_class) else 0.0
