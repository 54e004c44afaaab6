"""Bounded decoding (audit.datasets.images): the pixel budget read from the header, the formats
opened, and the peak memory of one decoded image, measured in a subprocess."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from audit.datasets.images import ImageReadError, decode_image, read_image

ROOT = Path(__file__).resolve().parents[2]


def write_big_gray_png(path: Path, width: int, height: int) -> None:
    """A ``width`` x ``height`` 8-bit grayscale PNG written row by row (a few hundred KB on
    disk, a few MB of memory to write): the small file that decodes to a large image."""
    def chunk(tag: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + tag + data
                + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF))

    packer = zlib.compressobj(9)
    row = b"\x00" + bytes(range(256)) * (width // 256) + bytes(width % 256)
    body = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body)
                     + chunk(b"IEND", b""))


_MEASURE = """
import json, sys
from audit.datasets.images import ImageReadError, read_image

def rss(key):
    for line in open("/proc/self/status"):
        if line.startswith(key):
            return int(line.split()[1]) * 1024

out = {}
base = rss("VmRSS:")
try:
    read_image(sys.argv[1])
except ImageReadError as exc:
    out["refused"] = exc.reason
out["refusal_peak"] = rss("VmHWM:") - base
pixels = read_image(sys.argv[1], max_pixels=None)
out["shape"] = list(pixels.shape)
out["decode_peak"] = rss("VmHWM:") - base
print(json.dumps(out))
"""


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc (Linux)")
def test_a_small_file_with_a_huge_image_is_refused_before_decoding_and_bounded_when_asked(
        tmp_path):
    path = tmp_path / "huge.png"
    write_big_gray_png(path, 12000, 12000)
    assert path.stat().st_size < 2_000_000
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", _MEASURE, str(path)], capture_output=True,
                          text=True, env=env, check=True, cwd=ROOT)
    out = json.loads(done.stdout.strip().splitlines()[-1])
    pixels = 12000 * 12000
    assert "12000x12000 = 144,000,000 pixels" in out["refused"]
    assert "dataset.max_image_pixels = 50,000,000" in out["refused"]
    assert out["refusal_peak"] < 20 * 2**20  # the header only: nothing decoded
    assert out["shape"] == [12000, 12000, 3]
    # Pillow's image (1 B/px), its bytes (1), the array (1) and the RGB result (3): ~6 B/px,
    # where the float64 conversions took ~90 B/px for RGBA. The bound leaves room for malloc.
    assert out["decode_peak"] / pixels < 10, out


def test_formats_outside_the_list_are_not_opened(tmp_path):
    Image.new("RGB", (8, 8), (10, 20, 30)).save(tmp_path / "a.tif")
    Image.new("RGB", (8, 8), (10, 20, 30)).save(tmp_path / "a.ico")
    (tmp_path / "a.eps").write_bytes(b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 8 8\n")
    for name, known in (("a.tif", "TIFF"), ("a.ico", "ICO"), ("a.eps", "EPS")):
        with pytest.raises(ImageReadError, match=f"is a {known} file .*dataset.image_formats"):
            read_image(str(tmp_path / name))
    # TIFF when asked for
    assert read_image(str(tmp_path / "a.tif"), formats=("PNG", "TIFF"))[0, 0].tolist() == [
        10, 20, 30]


def test_the_pixel_budget_counts_a_jpeg_at_its_reduced_draft_scale(tmp_path):
    Image.new("RGB", (400, 300), (200, 10, 10)).save(tmp_path / "a.jpg", quality=90)
    with pytest.raises(ImageReadError, match="400x300 = 120,000 pixels"):
        decode_image(str(tmp_path / "a.jpg"), max_pixels=50_000)
    pixels, size = decode_image(str(tmp_path / "a.jpg"), max_pixels=50_000, at_least=(32, 32))
    assert size == (300, 400) and pixels.shape[0] < 300  # decoded at 1/4 or 1/8: 1,875 px


def test_integer_conversions_match_the_exact_formulas(tmp_path):
    rng = np.random.default_rng(1)
    rgba = rng.integers(0, 256, (17, 19, 4), dtype=np.uint8)
    Image.fromarray(rgba, mode="RGBA").save(tmp_path / "a.png")
    expected = (rgba[..., :3].astype(np.float64) * (rgba[..., 3:4] / 255.0)).round()
    np.testing.assert_array_equal(read_image(str(tmp_path / "a.png")), expected)
    gray = rng.integers(0, 65536, (5, 7), dtype=np.uint16)
    Image.fromarray(gray).save(tmp_path / "g.png")
    want = np.clip(np.round(gray / 257.0), 0, 255)
    np.testing.assert_array_equal(read_image(str(tmp_path / "g.png"))[..., 0], want)


def test_a_file_name_over_the_file_system_limit_is_reported_as_such(tmp_path):
    with pytest.raises(ImageReadError, match="longer than the file system allows"):
        read_image(str(tmp_path / ("x" * 300 + ".png")))
