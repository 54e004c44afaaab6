"""Stage ``background_swap`` (per batch): each object on another image's background, no fill
involved (ImageNet-9's Mixed-Same and Mixed-Rand, Xiao et al., arXiv 2006.09994).

For every sample of the batch with a region (its mask, else its boxes;
:mod:`audit.datasets.regions`), two donors are drawn from the dataset itself by
:func:`audit.evidence.swap.choose_donors`: a sample of the same class (Mixed-Same) and one of
another class (Mixed-Rand), each a pure function of the run's seed and the sample's id, so the
donors are the same whatever the batch size or engine. The donors are read again from the
manifest as the stream reads images, their own object filled with tiles of their own
background (:func:`audit.evidence.swap.tile_hole`, as ImageNet-9 does; not inpainted), and the
sample's object pasted on. The Mixed-Rand donor's background alone (its hole tiled, no object:
ImageNet-9's Only-BG-T) goes through the model too: the class the model reads into that
background is the class a background-led decision would follow, whether or not the audit set's
backgrounds go with their labels (a decorrelated audit set's do not). Cost: three forward passes
and two image reads per sample with a region, in the explainer's fixed-shape micro-batches.

Its output ``swaps`` lives for one batch: the ``behaviour`` stage merges it into the rows of
``samples.csv`` (so it is collected and resumed with them) and takes the sample's
``background_decision`` from it, the strongest behavioural evidence, where it can be made.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from audit.cams import CamExplainer
from audit.datasets import Batch, BatchLoader, BatchSpec, DatasetManifest
from audit.datasets.preprocessing import to_channels
from audit.datasets.regions import region_mask, resize_region
from audit.evidence import choose_donors, swap_background, tile_hole
from audit.stages.cost import RunShape
from audit.stages.load_model import ModelInfo

__all__ = ["SwapResult", "background_swap"]

#: How many times a sample's donor that cannot be used (unreadable, or all object) is drawn
#: again before the sample goes without that swap.
_REDRAWS = 3


@dataclass(frozen=True)
class SwapResult:
    """What the model decides on one sample's object on its two donors' backgrounds
    (class indices; ``-1`` where no donor could be had)."""

    donor_same: str
    donor_rand: str
    donor_rand_class: int
    predicted_mixed_same: int
    predicted_mixed_rand: int
    background_class: int  # the model's decision on the Mixed-Rand donor's background alone


def _has_region(sample) -> bool:
    return bool(sample.boxes or sample.masks)


def _regions(batch: Batch) -> list[np.ndarray]:
    """Each sample's region at the batch's display size."""
    size = batch.display.shape[1:3]
    return [resize_region(region_mask(s, batch.masks[i], batch.original_sizes[i]), size)
            for i, s in enumerate(batch.samples)]


def background_swap(seed: int, explainer: CamExplainer, batch: Batch, model_info: ModelInfo,
                    manifest: DatasetManifest) -> dict[str, SwapResult]:
    """``{sample_id: SwapResult}`` for the samples of the batch with a region and at least
    one donor that could be read (a pure function of model, batch, manifest and seed).

    A donor whose image cannot be read, or whose region leaves no background to tile from,
    is drawn again (up to three times) for the samples that drew it; a sample still without a
    donor has that Mixed figure undefined (NaN in ``samples.csv``).
    """
    samples = manifest.samples
    index = {s.sample_id: i for i, s in enumerate(samples)}
    regions = _regions(batch)
    rows = [i for i, s in enumerate(batch.samples)
            if regions[i].any() and s.sample_id in index]
    if not rows:
        return {}
    ids, labels = [s.sample_id for s in samples], [s.label for s in samples]
    pool = [i for i, s in enumerate(samples) if _has_region(s)]
    positions = [index[batch.samples[i].sample_id] for i in rows]
    same, rand = choose_donors(ids, labels, seed=seed, candidates=pool, positions=positions)
    load = BatchLoader(model_info.input_size, model_info.channels, model_info.preprocessor)
    usable: dict[int, tuple[np.ndarray, np.ndarray]] = {}  # donor -> (pixels, region)
    tried: set[int] = set()
    excluded: list[set[int]] = [set() for _ in rows]
    for attempt in range(_REDRAWS + 1):
        wanted = sorted({int(d) for d in np.concatenate([same, rand]) if d >= 0} - tried)
        if wanted:
            tried.update(wanted)
            donors = load(BatchSpec(0, tuple(samples[d] for d in wanted)))
            for k, (sample, region) in enumerate(zip(donors.samples, _regions(donors),
                                                     strict=True)):
                if not region.all():  # a donor with no background to tile from is unusable
                    usable[index[sample.sample_id]] = (donors.display[k], region)
        # A donor that could not be read (or has no background) is replaced by a new draw
        # for the samples that drew it, from their own candidates less the donors they lost:
        # each sample's donors still depend only on the seed, its id and the data.
        lost = [j for j in range(len(rows))
                if any(d >= 0 and d not in usable for d in (same[j], rand[j]))]
        if not lost or attempt == _REDRAWS:
            break
        for j in lost:
            excluded[j].update(int(d) for d in (same[j], rand[j]) if d >= 0 and d not in usable)
            again = choose_donors(ids, labels, seed=seed, positions=[positions[j]],
                                  candidates=[p for p in pool if p not in excluded[j]])
            for kind, drawn in zip((same, rand), again, strict=True):
                if kind[j] >= 0 and kind[j] not in usable:
                    kind[j] = drawn[0]

    images, where = [], []  # where: (row, "same" | "rand" | "background")
    for j, i in enumerate(rows):
        for kind, donor in (("same", same[j]), ("rand", rand[j])):
            if donor not in usable:
                continue
            pixels, region = usable[donor]
            images.append(swap_background(batch.display[i], regions[i], pixels, region))
            where.append((j, kind))
            if kind == "rand":  # the class the model reads into the donor's background
                images.append(tile_hole(pixels, region))
                where.append((j, "background"))
    predicted: dict[tuple[int, str], int] = {}
    if images:
        inputs = model_info.preprocessor(to_channels(np.stack(images), model_info.channels))
        probs = explainer.predict(np.asarray(inputs, np.float32)).probabilities
        predicted = {key: int(np.argmax(p)) for key, p in zip(where, probs, strict=True)}
    out = {}
    for j, i in enumerate(rows):
        got_same, got_rand = (j, "same") in predicted, (j, "rand") in predicted
        if not (got_same or got_rand):
            continue
        out[batch.samples[i].sample_id] = SwapResult(
            donor_same=samples[same[j]].sample_id if got_same else "",
            donor_rand=samples[rand[j]].sample_id if got_rand else "",
            donor_rand_class=int(samples[rand[j]].label) if got_rand else -1,
            predicted_mixed_same=predicted.get((j, "same"), -1),
            predicted_mixed_rand=predicted.get((j, "rand"), -1),
            background_class=predicted.get((j, "background"), -1))
    return out


def background_swap_cost(shape: RunShape) -> tuple[float, str]:
    """Three passes per image: Mixed-Same, Mixed-Rand and the donor's background."""
    return 3.0 * shape.n, ("Mixed-Same, Mixed-Rand and the donor's background per image "
                           "(+ 2 image reads)")
