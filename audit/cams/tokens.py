"""Token layers: the ``(N, tokens, C)`` output of a vision transformer read as an image.

A vision transformer cuts the image into patches and carries one token per patch (plus
leading extra tokens: the class token, distillation or register tokens) through its blocks.
Such a layer has no spatial axes, but its patch tokens *are* a grid: dropping the ``skip``
leading tokens and reshaping the ``h * w`` others gives ``(N, h, w, C)``, which every CAM
method explains like a convolution's output. This is pytorch-grad-cam's ``reshape_transform``;
the engine applies it inside its graph, to the activations and to their gradients (the
gradient of a slice and a reshape is the slice and the reshape of the gradient).

How the tokens form a grid (:class:`TokenGrid`, ``model.tokens`` in the configuration):

- ``grid: [h, w]`` and ``skip``: exactly as given; ``h * w + skip`` must be the layer's
  token count.
- ``grid`` alone: ``skip`` is the count of tokens before the grid, ``tokens - h * w``.
- neither, or ``skip`` alone (inferred): the patch tokens number ``n = tokens - skip``, and the
  grid has the image's aspect ratio: ``h * W == w * H`` for an ``H x W`` input, a perfect square
  ``sqrt(n) x sqrt(n)`` for a square one. Without ``skip``, it is 1 (one class token) when
  ``tokens - 1`` fits, else 0 when ``tokens`` fits; otherwise the layer is not a token layer
  until ``model.tokens`` says how.

Examples
--------
>>> TokenGrid().layout(17, (32, 32))
TokenLayout(height=4, width=4, skip=1)
>>> TokenGrid().layout(16, (32, 32))
TokenLayout(height=4, width=4, skip=0)
>>> TokenGrid().layout(25, (32, 32))  # 24 is no square, 25 is: no class token
TokenLayout(height=5, width=5, skip=0)
>>> TokenGrid().layout(20, (32, 32)) is None
True
>>> TokenGrid().layout(25, (64, 96))  # 24 tokens at 2:3
TokenLayout(height=4, width=6, skip=1)
>>> TokenGrid(grid=(4, 4)).layout(18, (32, 32))  # two leading tokens (a distilled ViT)
TokenLayout(height=4, width=4, skip=2)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from audit.errors import ModelError


@dataclass(frozen=True)
class TokenLayout:
    """Where the patch tokens of one layer are: after ``skip`` tokens, ``height x width`` of
    them in row-major order."""

    height: int
    width: int
    skip: int

    @property
    def grid(self) -> tuple[int, int]:
        return (self.height, self.width)

    @property
    def tokens(self) -> int:
        """The token count of a layer with this layout."""
        return self.skip + self.height * self.width

    def to_grid(self, tensor):
        """``(N, tokens, C)`` -> ``(N, height, width, C)``: the leading ``skip`` tokens
        dropped, the others reshaped (differentiable; graph ops)."""
        import tensorflow as tf

        patches = tensor[:, self.skip:self.skip + self.height * self.width]
        return tf.reshape(patches, (-1, self.height, self.width, int(tensor.shape[-1])))


def _fit(patches: int, image_size) -> tuple[int, int] | None:
    """``(h, w)`` with ``h * w == patches`` and the image's aspect ratio, when one exists and
    is larger than 1x1; a square grid when the image size is unknown."""
    if patches < 2:
        return None
    height, width = image_size if image_size is not None else (None, None)
    if not height or not width:
        side = math.isqrt(patches)
        return (side, side) if side > 1 and side * side == patches else None
    # h / w == H / W and h * w == n  =>  h^2 == n * H / W
    side = math.isqrt(patches * height // width)
    for h in (side, side + 1):
        if h > 0 and patches % h == 0 and h * width == (patches // h) * height:
            return (h, patches // h)
    return None


@dataclass(frozen=True)
class TokenGrid:
    """How token layers become grids: the request (``model.tokens``), resolved per layer.

    Parameters
    ----------
    grid : (int, int) or None
        ``(h, w)`` of the patch tokens; ``None`` infers it from the token count and the
        image's aspect ratio.
    skip : int or None
        Leading tokens that are not patches (1 for a class token); ``None``: ``tokens - h*w``
        with a grid, else 1 when ``tokens - 1`` fits a grid and 0 when ``tokens`` does.
    """

    grid: tuple[int, int] | None = None
    skip: int | None = None

    def __post_init__(self):
        if self.grid is not None:
            grid = tuple(self.grid)
            if len(grid) != 2 or any(isinstance(v, bool) or not isinstance(v, int) or v < 1
                                     for v in grid) or grid[0] * grid[1] < 2:
                raise ValueError(f"tokens grid must be two positive integers [h, w] with "
                                 f"h * w > 1; got grid={list(grid)!r}.")
            object.__setattr__(self, "grid", grid)
        if self.skip is not None and (isinstance(self.skip, bool) or not isinstance(
                self.skip, int) or self.skip < 0):
            raise ValueError(f"tokens skip must be a non-negative integer; got "
                             f"skip={self.skip!r}.")

    @classmethod
    def coerce(cls, value) -> TokenGrid:
        """A :class:`TokenGrid` from ``None`` (infer), a mapping ``{grid, skip}`` or itself."""
        if value is None:
            return cls()
        if isinstance(value, cls):
            return value
        if isinstance(value, Mapping):
            unknown = sorted(set(value) - {"grid", "skip"}, key=str)
            if unknown:
                raise ValueError(f"tokens takes the keys grid and skip; got {unknown}.")
            grid = value.get("grid")
            return cls(grid=None if grid is None else tuple(grid), skip=value.get("skip"))
        raise ValueError(f"tokens must be None, a TokenGrid or a mapping {{grid: [h, w], "
                         f"skip: n}}; got {value!r}.")

    @property
    def explicit(self) -> bool:
        """A grid or a skip was given (else everything is inferred)."""
        return self.grid is not None or self.skip is not None

    def describe(self) -> str:
        """``"grid [4, 4] and skip 1"`` for messages."""
        parts = []
        if self.grid is not None:
            parts.append(f"grid {list(self.grid)}")
        if self.skip is not None:
            parts.append(f"skip {self.skip}")
        return " and ".join(parts) or "no grid"

    def layout(self, tokens: int | None, image_size=None) -> TokenLayout | None:
        """The layout of a layer with ``tokens`` tokens, or ``None`` when they do not form a
        grid as asked (``image_size``: the model's input ``(H, W)``, for the aspect ratio)."""
        if tokens is None:
            return None
        if self.grid is not None:
            h, w = self.grid
            skip = tokens - h * w if self.skip is None else self.skip
            return TokenLayout(h, w, skip) if skip >= 0 and skip + h * w == tokens else None
        for skip in ((1, 0) if self.skip is None else (self.skip,)):
            fit = _fit(tokens - skip, image_size)
            if fit is not None:
                return TokenLayout(*fit, skip)
        return None

    def check(self, tokens: int | None, image_size, *, layer: str) -> TokenLayout:
        """:meth:`layout`, or a ModelError that names the numbers."""
        found = self.layout(tokens, image_size)
        if found is not None:
            return found
        if tokens is None:
            raise ModelError(f"Layer '{layer}' outputs a varying number of tokens; cam-audit "
                             "reads tokens as a grid only when their count is fixed.")
        if self.grid is not None:
            h, w = self.grid
            skip = "" if self.skip is None else f" + skip {self.skip} = {h * w + self.skip}"
            raise ModelError(
                f"Layer '{layer}' outputs {tokens} tokens, which model.tokens does not fit: "
                f"grid {list(self.grid)} has h * w = {h * w} patch tokens{skip}. Set "
                f"model.tokens so that h * w + skip = {tokens} (skip: the leading tokens that "
                "are not patches, such as a class token).")
        size = "" if not image_size or None in tuple(image_size) else (
            f" with the input's aspect ratio {image_size[0]}:{image_size[1]}")
        skips = "1 or 0" if self.skip is None else str(self.skip)
        raise ModelError(
            f"Layer '{layer}' outputs {tokens} tokens, which form no grid: {tokens} minus skip "
            f"{skips} is no h * w{size} (a perfect square for a square input). Set "
            "model.tokens: {grid: [h, w], skip: n} with h * w + skip = "
            f"{tokens}.")
