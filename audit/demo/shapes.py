"""A synthetic labelled dataset with bounding boxes whose background can give the class away.

Every image shows one object (a circle, a square, a triangle, ...) of a random colour (always
lighter than its background), at a random position and size, on a darker textured background.
There is one background *style* per class (a colour tint plus a texture: stripes, dots,
noise, ...). With probability ``background_correlation`` an image gets its own class's style,
otherwise a style drawn uniformly at random, so at ``0.0`` the background carries no
information about the class and at ``0.95`` it is an easier cue than the shape: it covers most
of the image and its tint alone separates the styles. Every shape has the same area for a given
size, so only the outline tells the classes apart (not the object's size or brightness: with
equal extents a triangle is the smallest shape, and a background-learner then also learns "a
large bright object means circle or square", which puts its maps on the object). A model
trained on correlated data learns the background; on decorrelated data it then fails where
object and background disagree, and its class activation maps sit on the background
("background fixation").

Output layout (``out_dir``)::

    images/0000.png ...      RGB PNGs
    manifest.csv             image,label,x_min,y_min,x_max,y_max
    dataset.json             the generator's parameters, the class order and the style per image

Boxes are integer pixel-edge coordinates (see :mod:`audit.datasets.types`), tight around the
drawn object: every object pixel lies inside, and each box edge touches an object pixel.
Labels are class names; the model's output index of a class is its position in ``classes``.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import math
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

# Bump when a change to the drawing changes the images: cached demos are then rebuilt.
GENERATOR_VERSION = 2

SHAPES = ("circle", "square", "triangle", "diamond", "cross", "hexagon")

# Background tints, one per style, far apart in hue (the mean colour of an image tells the
# styles apart) and dark enough (luma 70-100) that a lighter object of any hue stands out.
# Past these, further styles get tints spread around the hue circle.
_TINTS = (
    (150, 45, 40),    # red
    (50, 120, 55),    # green
    (45, 65, 160),    # blue
    (120, 105, 30),   # ochre
    (110, 45, 130),   # purple
    (40, 115, 125),   # teal
)
_TEXTURES = ("stripes", "dots", "noise", "checks")
# An object is lighter than its background by at least this many luma levels (0-255).
_MIN_CONTRAST = 80.0
# Texture swing around the tint, in 8-bit levels.
_TEXTURE_AMPLITUDE = 30.0


def _tint(style: int, n_styles: int) -> np.ndarray:
    if style < len(_TINTS) and n_styles <= len(_TINTS):
        return np.asarray(_TINTS[style], dtype=np.float32)
    hue = style / n_styles
    rgb = [0.35 + 0.3 * math.cos(2 * math.pi * (hue - k / 3)) for k in range(3)]
    return np.asarray([255 * c for c in rgb], dtype=np.float32)


@functools.lru_cache(maxsize=8)
def _grid(size: int) -> np.ndarray:
    grid = np.mgrid[0:size, 0:size].astype(np.float32)
    grid.flags.writeable = False
    return grid


def _background(style: int, n_styles: int, size: int, rng: np.random.Generator) -> np.ndarray:
    """A (size, size, 3) float32 background of ``style`` with a random phase and brightness."""
    tint = _tint(style, n_styles) * rng.uniform(0.85, 1.15)
    texture = _TEXTURES[style % len(_TEXTURES)]
    variant = style // len(_TEXTURES)  # tells apart styles sharing a texture
    yy, xx = _grid(size)
    period = max(4.0, size / 9.0) * (1.0 + 0.35 * variant)
    # Soft textures: smooth waves and blobs, no hard edges that could pass for an object's
    # outline. The tint is the strong cue; the texture makes each style look distinct.
    if texture == "stripes":
        angle = rng.uniform(-0.3, 0.3) + variant * math.pi / 2
        phase = rng.uniform(0, 2 * math.pi)
        proj = xx * math.cos(angle) + yy * math.sin(angle)
        pattern = np.sin(2 * math.pi * proj / period + phase)
    elif texture == "dots":
        ox, oy = rng.uniform(0, period, size=2)
        dx = (xx + ox) % period - period / 2
        dy = (yy + oy) % period - period / 2
        pattern = 2.0 * np.exp(-(dx * dx + dy * dy) / (2 * (0.18 * period) ** 2)) - 0.6
    elif texture == "checks":
        ox, oy = rng.uniform(0, 2 * period, size=2)
        pattern = (np.sin(math.pi * (xx + ox) / period) * np.sin(math.pi * (yy + oy) / period))
        pattern = 1.5 * pattern
    else:  # noise: a coarse random field, smoothed by bilinear upsampling
        cells = rng.normal(0.0, 1.0, size=(size // 4 + 2, size // 4 + 2))
        pattern = _bilinear(cells, size, 4.0 + 2 * variant)
    pattern = np.clip(pattern, -1.5, 1.5).astype(np.float32)
    fine = rng.normal(0.0, 4.0, size=(size, size, 3)).astype(np.float32)
    return tint[None, None, :] + _TEXTURE_AMPLITUDE * pattern[:, :, None] + fine


def _bilinear(cells: np.ndarray, size: int, step: float) -> np.ndarray:
    """``cells`` sampled bilinearly every ``1 / step`` cell onto a (size, size) grid."""
    pos = np.arange(size, dtype=np.float64) / step
    i0 = np.minimum(pos.astype(int), cells.shape[0] - 2)
    f = (pos - i0)
    rows = cells[i0] * (1 - f)[:, None] + cells[i0 + 1] * f[:, None]
    return rows[:, i0] * (1 - f)[None, :] + rows[:, i0 + 1] * f[None, :]


# Every shape has the area of a circle of diameter ``extent``, so that the object's size or
# brightness says nothing about its class: only its outline does. Each entry gives the shape's
# outline for unit area (None: a circle) and the radius, per unit of ``extent``, of the circle
# around its centre that holds it at any rotation (its margin from the image's edges).
_UNIT = math.sqrt(math.pi) / 2  # the side of a square of the same area as a unit-diameter circle


def _regular(n: int, start: float) -> list[tuple[float, float]]:
    """A regular n-gon around the origin, scaled to the area of a unit-diameter circle."""
    area_per_r2 = n * math.sin(2 * math.pi / n) / 2
    r = math.sqrt(math.pi / 4 / area_per_r2)
    return [(r * math.cos(start + 2 * math.pi * k / n), r * math.sin(start + 2 * math.pi * k / n))
            for k in range(n)]


def _cross() -> list[tuple[float, float]]:
    # Arms of width L/3 and length L: area 5 L^2 / 9.
    half = math.sqrt(9 * math.pi / 4 / 5) / 2
    w = half / 3
    return [(-w, -half), (w, -half), (w, -w), (half, -w), (half, w), (w, w), (w, half),
            (-w, half), (-w, w), (-half, w), (-half, -w), (-w, -w)]


_OUTLINES: dict[str, list[tuple[float, float]] | None] = {
    "circle": None,
    "square": _regular(4, math.pi / 4),
    "triangle": _regular(3, -math.pi / 2),  # pointing up
    "diamond": _regular(4, 0.0),
    "hexagon": _regular(6, 0.0),
    "cross": _cross(),
}
# How far each shape may turn either way, in radians: a little, never so much that a square
# becomes a diamond.
_TILT = {"circle": 0.0, "square": 0.2, "triangle": 0.2, "diamond": 0.2, "hexagon": 0.5,
         "cross": 0.2}


def _bounding_radius(shape: str) -> float:
    outline = _OUTLINES[shape]
    if outline is None:
        return 0.5
    return max(math.hypot(x, y) for x, y in outline)


def _shape_mask(shape: str, size: int, extent: float, cx: float, cy: float,
                turn: float) -> np.ndarray:
    """A boolean (size, size) mask of ``shape`` with the area of a circle of diameter
    ``extent``, centred at (cx, cy), turned by ``turn`` (from -1 to 1) of its tilt range."""
    img = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(img)
    outline = _OUTLINES[shape]
    if outline is None:
        r = extent / 2.0
        draw.ellipse([cx - r, cy - r, cx + r - 1, cy + r - 1], fill=255)
    else:
        a = turn * _TILT[shape]
        c, s = math.cos(a) * extent, math.sin(a) * extent
        draw.polygon([(cx + x * c - y * s, cy + x * s + y * c) for x, y in outline], fill=255)
    return np.asarray(img) > 0


def _luminance(rgb: np.ndarray) -> float:
    return float(rgb[0] * 0.299 + rgb[1] * 0.587 + rgb[2] * 0.114)


def _object_colour(background_rgb: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A random colour clearly lighter than the background.

    The hue is free, but the object is always lighter than its background by
    ``_MIN_CONTRAST`` luma levels, so its outline is an edge of one polarity in every image.
    With free hues and free brightness a small CNN needs several times more training steps
    to learn the shapes, and the demo would not train in seconds.
    """
    floor = _luminance(background_rgb) + _MIN_CONTRAST
    for _ in range(256):
        colour = rng.uniform(0, 255, size=3)
        if _luminance(colour) >= floor:
            return colour.astype(np.float32)
    return np.full(3, 255.0, dtype=np.float32)


def _png_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array, mode="RGB").save(buf, format="PNG", optimize=False, compress_level=1)
    return buf.getvalue()


def generate_dataset(
    out_dir: str | os.PathLike,
    *,
    n_images: int,
    image_size: int = 64,
    background_correlation: float = 0.0,
    seed: int,
    classes: Sequence[str] = ("circle", "square", "triangle"),
    object_scale: tuple[float, float] = (0.25, 0.45),
    write_masks: bool = False,
) -> Path:
    """Write ``n_images`` labelled images with boxes to ``out_dir``; return the manifest's path.

    ``background_correlation`` is the probability that an image's background has its own class's
    style (otherwise the style is uniformly random, so it may still match by chance: at
    ``0.0`` the background is independent of the class). ``object_scale`` bounds the object's
    size as a fraction of ``image_size``: the size is the diameter of a circle of the same area
    (a triangle of that size is wider, a square narrower). Classes are balanced (cycled, then
    shuffled). The output is a deterministic function of the arguments: the same seed gives
    identical bytes.

    The files are written into a temporary folder beside ``out_dir`` and moved into place at
    the end; an existing ``out_dir`` is replaced. ``write_masks`` also writes each object's
    exact pixel mask as ``masks/NNNN.png`` (mode "L", 255 on the object), for tests and for
    scores that need more than a box; the images are the same with or without it.
    """
    classes = tuple(classes)
    unknown = [c for c in classes if c not in SHAPES]
    if unknown:
        raise ValueError(f"unknown shape class(es) {unknown}; known: {', '.join(SHAPES)}")
    if len(classes) < 2 or len(set(classes)) != len(classes):
        raise ValueError(f"need at least two distinct classes, got {classes}")
    if not 0.0 <= background_correlation <= 1.0:
        raise ValueError(f"background_correlation must be in [0, 1], got {background_correlation}")
    lo, hi = object_scale
    if not 0.0 < lo <= hi <= 0.6:  # a triangle of size 0.6 just fits
        raise ValueError(f"object_scale must satisfy 0 < lo <= hi <= 0.6, got {object_scale}")
    if n_images < 1 or image_size < 16:
        raise ValueError("need n_images >= 1 and image_size >= 16")

    n_classes = len(classes)
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.arange(n_images) % n_classes)
    own_style = rng.random(n_images) < background_correlation
    styles = np.where(own_style, labels, rng.integers(0, n_classes, size=n_images))
    extents = np.maximum(rng.uniform(lo, hi, size=n_images) * image_size, 6.0)
    turns = rng.uniform(-1.0, 1.0, size=n_images)
    margin = 1
    # Centres keep the whole object (and its slight tilt) inside the image.
    radius = np.asarray([_bounding_radius(classes[k]) for k in labels])
    half = extents * radius + margin
    cxs = rng.uniform(half, image_size - half)
    cys = rng.uniform(half, image_size - half)

    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".tmp", dir=out_dir.parent))
    try:
        tmp.chmod(0o755)  # mkdtemp makes it private; the dataset is not
        (tmp / "images").mkdir()
        if write_masks:
            (tmp / "masks").mkdir()
        rows = []
        width = max(4, len(str(n_images - 1)))
        for i in range(n_images):
            img_rng = np.random.default_rng([seed, i])
            background = _background(int(styles[i]), n_classes, image_size, img_rng)
            mask = _shape_mask(classes[labels[i]], image_size, float(extents[i]),
                               float(cxs[i]), float(cys[i]), float(turns[i]))
            colour = _object_colour(background.mean(axis=(0, 1)), img_rng)
            shade = 1.0 + img_rng.normal(0.0, 0.04, size=(image_size, image_size, 1))
            image = np.where(mask[:, :, None], colour[None, None, :] * shade, background)
            image = np.clip(np.rint(image), 0, 255).astype(np.uint8)
            ys, xs = np.nonzero(mask)
            name = f"images/{i:0{width}d}.png"
            (tmp / name).write_bytes(_png_bytes(image))
            if write_masks:
                buf = io.BytesIO()
                Image.fromarray((mask * 255).astype(np.uint8), mode="L").save(buf, format="PNG")
                (tmp / f"masks/{i:0{width}d}.png").write_bytes(buf.getvalue())
            rows.append((name, classes[labels[i]], int(xs.min()), int(ys.min()),
                         int(xs.max()) + 1, int(ys.max()) + 1))
        with open(tmp / "manifest.csv", "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(["image", "label", "x_min", "y_min", "x_max", "y_max"])
            writer.writerows(rows)
        info = {
            "generator": "audit.demo.shapes",
            "version": GENERATOR_VERSION,
            "n_images": n_images,
            "image_size": image_size,
            "background_correlation": background_correlation,
            "seed": seed,
            "classes": list(classes),
            "object_scale": [lo, hi],
            "background_style": [classes[s] for s in styles],
        }
        (tmp / "dataset.json").write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
        if out_dir.exists():
            old = out_dir.with_name(f".{out_dir.name}.old-{os.getpid()}")
            os.replace(out_dir, old)
            os.replace(tmp, out_dir)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir / "manifest.csv"
