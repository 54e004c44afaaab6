"""Batches as pure descriptions (batch_specs, BatchSpec) and loading them (BatchLoader)."""

from __future__ import annotations

import pickle
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from audit.datasets import (
    Batch,
    BatchLoader,
    BatchSpec,
    Box,
    Preprocessor,
    Sample,
    SkippedSample,
    StreamStats,
    batch_specs,
    iter_batches,
    n_batches,
    read_image,
)

INPUT = {"input_size": (8, 16), "channels": 3, "preprocess": Preprocessor(rescale=1 / 255)}


def fake_samples(n: int) -> list[Sample]:
    return [Sample(f"s{i}.png", f"s{i}.png", f"/data/s{i}.png", i % 3, "abc"[i % 3])
            for i in range(n)]


def fake_skipped(n: int) -> list[SkippedSample]:
    return [SkippedSample(f"x{i}.png", f"x{i}.png", f"line {i + 2}: no label is given")
            for i in range(n)]


def real_samples(tmp_path) -> list[Sample]:
    """Seven samples of 40x30 PNGs: two unreadable, one clipped box, one box outside."""
    boxes = {0: (Box(1, 1, 10, 10),), 2: (Box(30, 20, 50, 40),), 4: (Box(45, 1, 50, 5),),
             5: (Box(-3, 0, 5, 5), Box(1, 1, 2, 2))}
    samples = []
    for i in range(7):
        path = tmp_path / f"s{i}.png"
        if i == 1:
            path.write_bytes(b"\x89PNG\r\n\x1a\nbroken")
        elif i != 3:
            Image.new("RGB", (40, 30), (i * 30, 50, 100)).save(path)
        samples.append(Sample(f"s{i}.png", f"s{i}.png", str(path), i % 3, "abc"[i % 3],
                              boxes.get(i, ())))
    return samples


def same_batch(a: Batch, b: Batch) -> None:
    assert a.index == b.index
    assert a.samples == b.samples
    assert a.skipped == b.skipped
    assert a.original_sizes == b.original_sizes
    assert a.n_boxes_clipped == b.n_boxes_clipped
    np.testing.assert_array_equal(a.images, b.images)
    np.testing.assert_array_equal(a.display, b.display)
    assert a.images.dtype == b.images.dtype and a.display.dtype == b.display.dtype


# ===== batch_specs ===========================================================================


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 40), st.integers(1, 9), st.integers(0, 3))
def test_specs_cut_samples_as_before(n, batch_size, n_skipped):
    samples, skipped = fake_samples(n), fake_skipped(n_skipped)
    specs = batch_specs(samples, batch_size=batch_size, skipped=skipped)
    if n == 0:
        assert specs == ([BatchSpec(0, (), tuple(skipped))] if skipped else [])
        return
    assert len(specs) == n_batches(n, batch_size)
    assert [spec.index for spec in specs] == list(range(len(specs)))
    for i, spec in enumerate(specs):
        assert spec.samples == tuple(samples[i * batch_size:(i + 1) * batch_size])
        assert spec.skipped == (tuple(skipped) if i == 0 else ())
    assert [s for spec in specs for s in spec.samples] == samples


def test_manifest_skipped_ride_on_batch_zero_only():
    skipped = fake_skipped(2)
    first, second = batch_specs(fake_samples(3), batch_size=2, skipped=skipped)
    assert first.skipped == tuple(skipped) and len(first) == 2
    assert second.skipped == () and len(second) == 1
    assert batch_specs(fake_samples(3), batch_size=2) == [
        BatchSpec(0, tuple(fake_samples(3)[:2])), BatchSpec(1, tuple(fake_samples(3)[2:]))]


def test_no_samples_but_skipped_gives_one_empty_batch(tmp_path):
    skipped = fake_skipped(3)
    (spec,) = batch_specs([], batch_size=4, skipped=skipped)
    assert spec == BatchSpec(0, (), tuple(skipped))
    batch = BatchLoader(**INPUT)(spec)
    assert batch.index == 0 and len(batch) == 0 and batch.skipped == skipped
    assert batch.images.shape == (0, 8, 16, 3) and batch.display.shape == (0, 8, 16, 3)
    assert batch.n_boxes_clipped == 0
    assert batch_specs([], batch_size=4) == []


@pytest.mark.parametrize("batch_size", [0, -1, True, 2.0, "4"])
def test_specs_reject_bad_batch_size(batch_size):
    with pytest.raises(ValueError, match=f"batch_size must be a positive integer, got "
                                         f"{batch_size!r}"):
        batch_specs(fake_samples(3), batch_size=batch_size)


# ===== BatchLoader ===========================================================================


def test_loader_gives_what_iter_batches_gives(tmp_path):
    samples = real_samples(tmp_path)
    stats = StreamStats()
    streamed = list(iter_batches(samples, batch_size=3, stats=stats, **INPUT))
    load = BatchLoader(**INPUT)
    specs = batch_specs(samples, batch_size=3)
    assert len(specs) == len(streamed) == 3
    for spec, batch in zip(specs, streamed, strict=True):
        same_batch(load(spec), batch)
    # in reverse order, and from threads: the same batches
    for spec, batch in zip(reversed(specs), reversed(streamed), strict=True):
        same_batch(load(spec), batch)
    with ThreadPoolExecutor(2) as pool:
        for loaded, batch in zip(pool.map(load, specs), streamed, strict=True):
            same_batch(loaded, batch)
    assert [b.n_boxes_clipped for b in streamed] == [1, 1, 0]
    assert stats.n_boxes_clipped == 2 and stats.n_images_read == 5


def test_loader_reasons_and_clipping(tmp_path):
    samples = real_samples(tmp_path)
    carried = tuple(fake_skipped(2))
    first, second, third = (BatchLoader(**INPUT)(spec) for spec in
                            batch_specs(samples, batch_size=3, skipped=carried))
    assert [s.sample_id for s in first.samples] == ["s0.png", "s2.png"]
    assert first.skipped[:2] == list(carried)
    assert first.skipped[2] == SkippedSample("s1.png", "s1.png", (
        f"image could not be read: image file {samples[1].path} is not in an image format "
        "Pillow can read"))
    assert first.samples[1].boxes == (Box(30, 20, 40, 30),) and first.n_boxes_clipped == 1
    assert second.skipped == [
        SkippedSample("s3.png", "s3.png", f"image could not be read: image file not found: "
                                          f"{samples[3].path}"),
        SkippedSample("s4.png", "s4.png", (
            "box 1: box (45, 1, 50, 5) lies entirely outside the 40x30 (width x height) image; "
            "the image may not be the one annotated, or the coordinates refer to another size "
            "(no box is left; a sample with a broken box is skipped as a whole)")),
    ]
    assert [s.sample_id for s in second.samples] == ["s5.png"]
    assert second.samples[0].boxes == (Box(0, 0, 5, 5), Box(1, 1, 2, 2))
    assert second.n_boxes_clipped == 1 and second.original_sizes == [(30, 40)]
    assert [s.sample_id for s in third.samples] == ["s6.png"] and third.skipped == []


def test_spec_and_loader_pickle(tmp_path):
    samples = real_samples(tmp_path)
    specs = batch_specs(samples, batch_size=4, skipped=fake_skipped(1))
    for preprocess in (Preprocessor(rescale=1 / 127.5, offset=-1.0),
                       Preprocessor(function="numpy.sqrt", channels=1)):
        assert pickle.loads(pickle.dumps(preprocess)) == preprocess
        load = BatchLoader((8, 16), preprocess.channels, preprocess)
        copy = pickle.loads(pickle.dumps(load))
        assert copy == load and copy.reader is read_image
        for spec in specs:
            spec_copy = pickle.loads(pickle.dumps(spec))
            assert spec_copy == spec and hash(spec_copy) == hash(spec)
            same_batch(copy(spec_copy), load(spec))


def test_loader_checks_its_arguments():
    assert BatchLoader(("8", 16.0), 3, Preprocessor()).input_size == (8, 16)
    with pytest.raises(ValueError, match="channels must be 1 or 3, got 2"):
        BatchLoader((8, 8), 2, Preprocessor())
    with pytest.raises(ValueError, match=r"input_size must be two positive integers"):
        BatchLoader((0, 8), 3, Preprocessor())
    with pytest.raises(ValueError, match=r"input_size must be \(height, width\), got 'big'"):
        BatchLoader("big", 3, Preprocessor())
