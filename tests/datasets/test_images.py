"""Reading every image mode and resizing (audit.datasets.images), and preprocessing
(audit.datasets.preprocessing)."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from audit.datasets.images import (
    IMAGE_FORMATS,
    ImageReadError,
    read_image,
    resize_image,
)
from audit.datasets.preprocessing import Preprocessor, resolve_function, to_channels
from audit.errors import AuditError


def _write_png16_rgb(path, array: np.ndarray) -> None:
    """Write a 16-bit RGB PNG by hand (Pillow cannot write one)."""
    height, width, _ = array.shape
    raw = b"".join(b"\x00" + array[y].astype(">u2").tobytes() for y in range(height))

    def chunk(tag: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + tag + data
                + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF))

    header = struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
                     + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


_WITH_TIFF = (*IMAGE_FORMATS, "TIFF")  # 32-bit integer and float images come in TIFF only


def _check_rgb(arr: np.ndarray, shape: tuple[int, int]) -> None:
    assert arr.dtype == np.uint8
    assert arr.shape == (*shape, 3)


# --- reading --------------------------------------------------------------------------------


def test_rgb_png_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    data = rng.integers(0, 256, (7, 11, 3), dtype=np.uint8)
    Image.fromarray(data).save(tmp_path / "a.png")
    arr = read_image(str(tmp_path / "a.png"))
    _check_rgb(arr, (7, 11))
    np.testing.assert_array_equal(arr, data)


@pytest.mark.parametrize("mode", ["L", "1"])
def test_grayscale_8bit_and_bilevel(tmp_path, mode):
    img = Image.new(mode, (5, 4), 255)
    img.putpixel((0, 0), 0)
    img.save(tmp_path / "g.png")
    arr = read_image(str(tmp_path / "g.png"))
    _check_rgb(arr, (4, 5))
    assert arr[0, 0].tolist() == [0, 0, 0]
    assert arr[1, 1].tolist() == [255, 255, 255]


def test_grayscale_16bit_png_is_scaled_not_clipped(tmp_path):
    values = np.array([[0, 257, 32896, 65535]], dtype=np.uint16)
    Image.fromarray(values).save(tmp_path / "g16.png")
    assert Image.open(tmp_path / "g16.png").mode.startswith("I;16")
    arr = read_image(str(tmp_path / "g16.png"))
    _check_rgb(arr, (1, 4))
    assert arr[0, :, 0].tolist() == [0, 1, 128, 255]
    assert (arr[..., 0] == arr[..., 2]).all()


def test_rgb_16bit_png(tmp_path):
    data = np.zeros((3, 4, 3), dtype=np.uint16)
    data[..., 0] = 65535
    data[..., 1] = 32768
    _write_png16_rgb(tmp_path / "c16.png", data)
    arr = read_image(str(tmp_path / "c16.png"))
    _check_rgb(arr, (3, 4))
    assert arr[0, 0].tolist() == [255, 128, 0]


def test_int32_mode_i_with_16bit_range(tmp_path):
    values = np.array([[0, 65535], [257, 1000]], dtype=np.int32)
    Image.fromarray(values, mode="I").save(tmp_path / "i.tif")
    arr = read_image(str(tmp_path / "i.tif"), formats=_WITH_TIFF)
    _check_rgb(arr, (2, 2))
    assert arr[..., 0].tolist() == [[0, 255], [1, 4]]


def test_int32_mode_i_with_8bit_range(tmp_path):
    values = np.array([[0, 200]], dtype=np.int32)
    Image.fromarray(values, mode="I").save(tmp_path / "i8.tif")
    assert read_image(str(tmp_path / "i8.tif"), formats=_WITH_TIFF)[..., 0].tolist() == [[0, 200]]


@pytest.mark.parametrize(("values", "expected"), [
    ([[0.0, 0.5, 1.0]], [[0, 128, 255]]),      # 0..1 floats
    ([[0.0, 100.0, 300.0]], [[0, 100, 255]]),  # 0..255 floats, clipped above
])
def test_float_mode_f(tmp_path, values, expected):
    Image.fromarray(np.array(values, dtype=np.float32), mode="F").save(tmp_path / "f.tif")
    arr = read_image(str(tmp_path / "f.tif"), formats=_WITH_TIFF)
    _check_rgb(arr, (1, 3))
    assert arr[..., 1].tolist() == expected


def test_rgba_composited_on_black(tmp_path):
    data = np.zeros((2, 3, 4), dtype=np.uint8)
    data[..., :3] = [200, 100, 50]
    data[0, 0, 3] = 255   # opaque: colour kept
    data[0, 1, 3] = 0     # transparent: black
    data[0, 2, 3] = 128   # half: darkened
    data[1, :, 3] = 255
    Image.fromarray(data, mode="RGBA").save(tmp_path / "a.png")
    arr = read_image(str(tmp_path / "a.png"))
    _check_rgb(arr, (2, 3))
    assert arr[0, 0].tolist() == [200, 100, 50]
    assert arr[0, 1].tolist() == [0, 0, 0]
    assert arr[0, 2].tolist() == [100, 50, 25]


def test_la_composited_on_black(tmp_path):
    img = Image.new("LA", (2, 1), (180, 255))
    img.putpixel((1, 0), (180, 0))
    img.save(tmp_path / "la.png")
    arr = read_image(str(tmp_path / "la.png"))
    assert arr[0, 0].tolist() == [180, 180, 180]
    assert arr[0, 1].tolist() == [0, 0, 0]


def test_palette_with_and_without_transparency(tmp_path):
    img = Image.new("P", (3, 2), 1)
    img.putpalette([0, 0, 0, 10, 200, 30] + [0] * (254 * 3))
    img.putpixel((0, 0), 0)
    img.save(tmp_path / "p.png")
    arr = read_image(str(tmp_path / "p.png"))
    _check_rgb(arr, (2, 3))
    assert arr[1, 1].tolist() == [10, 200, 30]
    img.info["transparency"] = 1
    img.save(tmp_path / "pt.png", transparency=1)
    arr = read_image(str(tmp_path / "pt.png"))
    assert arr[1, 1].tolist() == [0, 0, 0]  # transparent palette colour composited on black


def test_cmyk_jpeg(tmp_path):
    Image.new("CMYK", (8, 8), (0, 255, 255, 0)).save(tmp_path / "c.jpg", quality=95)
    arr = read_image(str(tmp_path / "c.jpg"))
    _check_rgb(arr, (8, 8))
    red, green, blue = arr[4, 4].astype(int)
    assert red > 200 and green < 60 and blue < 60


def test_exif_rotated_jpeg_is_shown_upright(tmp_path):
    # Stored 40 wide x 20 high, with a bright block on the stored left; orientation 6
    # means "rotate 90 degrees clockwise to display": displayed 20 wide x 40 high, block on top.
    data = np.zeros((20, 40, 3), dtype=np.uint8)
    data[:, :10] = 255
    img = Image.fromarray(data)
    exif = Image.Exif()
    exif[0x0112] = 6
    img.save(tmp_path / "r.jpg", exif=exif, quality=95)
    arr = read_image(str(tmp_path / "r.jpg"))
    _check_rgb(arr, (40, 20))
    assert arr[:8].mean() > 200
    assert arr[-20:].mean() < 30


def test_gif_first_frame(tmp_path):
    frames = [Image.new("RGB", (4, 4), c) for c in ((255, 0, 0), (0, 0, 255))]
    frames[0].save(tmp_path / "a.gif", save_all=True, append_images=frames[1:])
    arr = read_image(str(tmp_path / "a.gif"))
    _check_rgb(arr, (4, 4))
    assert arr[0, 0, 0] > 200 and arr[0, 0, 2] < 50


def test_missing_file(tmp_path):
    with pytest.raises(ImageReadError, match="not found") as info:
        read_image(str(tmp_path / "nope.png"))
    assert "nope.png" in info.value.reason
    assert not isinstance(info.value, AuditError)


def test_folder_instead_of_file(tmp_path):
    with pytest.raises(ImageReadError, match="folder"):
        read_image(str(tmp_path))


def test_not_an_image(tmp_path):
    (tmp_path / "x.png").write_text("hello, not a png")
    with pytest.raises(ImageReadError, match="x.png"):
        read_image(str(tmp_path / "x.png"))


@pytest.mark.parametrize("suffix", ["jpg", "png"])
def test_truncated_file(tmp_path, suffix):
    rng = np.random.default_rng(1)
    Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)).save(
        tmp_path / f"t.{suffix}")
    data = (tmp_path / f"t.{suffix}").read_bytes()
    (tmp_path / f"t.{suffix}").write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageReadError, match="truncated or corrupt"):
        read_image(str(tmp_path / f"t.{suffix}"))


def test_corrupt_png_data(tmp_path):
    Image.new("RGB", (16, 16), (9, 9, 9)).save(tmp_path / "c.png")
    data = bytearray((tmp_path / "c.png").read_bytes())
    start = data.index(b"IDAT") + 4
    data[start:start + 8] = b"\xff" * 8
    (tmp_path / "c.png").write_bytes(bytes(data))
    with pytest.raises(ImageReadError):
        read_image(str(tmp_path / "c.png"))


# --- resizing and channels ------------------------------------------------------------------


def test_resize_image_shape_and_constant():
    img = np.full((30, 50, 3), 77, dtype=np.uint8)
    out = resize_image(img, (8, 12))
    assert out.shape == (8, 12, 3) and out.dtype == np.uint8
    assert (out == 77).all()
    same = resize_image(img, (30, 50))
    assert same is not img and (same == img).all()


def test_resize_image_keeps_single_channel():
    assert resize_image(np.zeros((10, 10, 1), np.uint8), (5, 4)).shape == (5, 4, 1)


def test_resize_image_rejects_float():
    with pytest.raises(ValueError, match="uint8"):
        resize_image(np.zeros((4, 4, 3), np.float32), (2, 2))


def test_to_channels_matches_pillow_luma():
    rng = np.random.default_rng(3)
    rgb = rng.integers(0, 256, (1, 6, 7, 3), dtype=np.uint8)
    gray = to_channels(rgb, 1)
    expected = np.asarray(Image.fromarray(rgb[0]).convert("L"))
    assert gray.shape == (1, 6, 7, 1)
    np.testing.assert_array_equal(gray[0, ..., 0], expected)
    assert to_channels(gray, 3).shape == (1, 6, 7, 3)


# --- preprocessing --------------------------------------------------------------------------


def test_preprocessor_rescale_offset():
    pre = Preprocessor.from_config({"rescale": 1 / 127.5, "offset": -1.0})
    batch = np.array([0, 255], dtype=np.uint8).reshape(1, 1, 2, 1).repeat(3, axis=-1)
    out = pre(batch)
    assert out.dtype == np.float32 and out.shape == (1, 1, 2, 3)
    np.testing.assert_allclose(out[0, 0, :, 0], [-1.0, 1.0], atol=1e-6)


def test_preprocessor_identity_and_grayscale():
    pre = Preprocessor.from_config(None, channels=1)
    batch = np.full((2, 3, 3, 3), 100, dtype=np.uint8)
    out = pre(batch)
    assert out.shape == (2, 3, 3, 1) and out.dtype == np.float32
    assert np.allclose(out, 100.0)


def test_preprocessor_function_dotted_path():
    pre = Preprocessor.from_config({"function": "numpy.sqrt"})
    out = pre(np.full((1, 2, 2, 3), 16, dtype=np.uint8))
    assert out.dtype == np.float32 and np.allclose(out, 4.0)


@pytest.mark.parametrize("path", ["no_such_module_xyz.preprocess", "numpy.no_such_function",
                                  "notdotted"])
def test_preprocessor_unknown_function_names_the_path(path):
    pre = Preprocessor.from_config({"function": path})
    with pytest.raises(ValueError, match=path) as info:
        pre(np.zeros((1, 2, 2, 3), np.uint8))
    assert not isinstance(info.value, AuditError)
    with pytest.raises(ValueError, match=path):
        resolve_function(path)


@pytest.mark.parametrize("block", [
    {"function": "numpy.sqrt", "rescale": 2.0},
    {"scale": 2.0},
    {"rescale": "big"},
    {"channels": 2},
])
def test_preprocessor_rejects_bad_blocks(block):
    with pytest.raises(ValueError):
        Preprocessor.from_config(block)


def test_preprocessor_is_frozen():
    pre = Preprocessor()
    with pytest.raises(AttributeError):
        pre.rescale = 2.0  # type: ignore[misc]


def test_large_jpegs_decode_at_a_reduced_scale_with_their_full_size(tmp_path):
    from audit.datasets.images import decode_image

    rng = np.random.default_rng(0)
    big = tmp_path / "big.jpg"
    Image.fromarray(rng.integers(0, 255, (1200, 1600, 3), dtype=np.uint8)).save(big)
    pixels, size = decode_image(str(big), at_least=(224, 224))
    assert size == (1200, 1600)
    # 1/4 scale (300 x 400) is the smallest draft still at least 224 x 224.
    assert pixels.shape == (300, 400, 3)
    full, size_full = decode_image(str(big))
    assert full.shape == (1200, 1600, 3) and size_full == (1200, 1600)
    # Less than twice the wanted size: decoded in full.
    assert decode_image(str(big), at_least=(700, 700))[0].shape == (1200, 1600, 3)
    # EXIF orientation 6 (rotated 90°): the displayed size is the transposed one.
    exif = Image.Exif()
    exif[0x0112] = 6
    rotated = tmp_path / "rotated.jpg"
    Image.fromarray(rng.integers(0, 255, (1200, 1600, 3), dtype=np.uint8)).save(rotated,
                                                                                exif=exif)
    pixels, size = decode_image(str(rotated), at_least=(224, 224))
    assert size == (1600, 1200) and pixels.shape == (400, 300, 3)
    # PNG files are never drafted.
    png = tmp_path / "big.png"
    Image.fromarray(full).save(png)
    assert decode_image(str(png), at_least=(224, 224))[0].shape == (1200, 1600, 3)


def test_a_preprocessing_function_with_the_wrong_signature_is_refused_on_check():
    with pytest.raises(ValueError, match="must map a float32 batch .* raised ValueError"):
        Preprocessor(function="os.path.relpath").check((4, 4))  # binds, but needs a str
    with pytest.raises(ValueError, match="must take one argument"):
        Preprocessor(function="shutil.copyfile").check((4, 4))  # two arguments
    with pytest.raises(ValueError, match="changed the batch shape"):
        Preprocessor(function="numpy.ravel").check((4, 4))
    Preprocessor(function="numpy.sqrt").check((4, 4))
