"""Preprocessing: a ``uint8`` batch as the ``float32`` input the model expects.

The model's input channels first (:func:`to_channels`: grayscale for a one-channel model), then
either an affine map of the 0..255 values or a function named by a dotted path
(:class:`Preprocessor`, built from the configuration's ``preprocessing`` block).
"""

from __future__ import annotations

import importlib
import inspect
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

#: Keys accepted in the configuration's ``preprocessing`` block.
PREPROCESSING_KEYS = ("rescale", "offset", "function", "channels")


def to_channels(batch: np.ndarray, channels: int) -> np.ndarray:
    """Convert a ``uint8`` batch ``(N, H, W, C)`` to ``channels`` (1 or 3) channels.

    RGB -> gray uses Pillow's ``convert("L")`` luma (ITU-R 601-2, rounded), the same as
    ``keras.utils.load_img(color_mode="grayscale")``; gray -> RGB repeats the channel.
    A batch that already has ``channels`` channels is returned unchanged.
    """
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 or 3, got {channels!r}")
    arr = np.asarray(batch)
    if arr.ndim != 4 or arr.shape[-1] not in (1, 3):
        raise ValueError(f"expected a batch of shape (N, H, W, 1 or 3), got shape {arr.shape}")
    have = arr.shape[-1]
    if have == channels:
        return arr
    if channels == 3:
        return np.repeat(arr, 3, axis=-1)
    rgb = arr.astype(np.uint32)
    luma = (rgb[..., 0] * 19595 + rgb[..., 1] * 38470 + rgb[..., 2] * 7471 + 0x8000) >> 16
    return luma.astype(np.uint8)[..., np.newaxis]


def resolve_function(dotted: str) -> Callable[[np.ndarray], Any]:
    """Import the function a dotted path names (``"package.module.function"``).

    The longest importable module prefix is imported and the rest looked up as attributes,
    so ``"keras.applications.mobilenet_v2.preprocess_input"`` and ``"numpy.sqrt"`` both work.

    Raises
    ------
    ValueError
        The path does not name an importable callable; the message names the path.
    """
    if not isinstance(dotted, str) or not dotted.strip() or "." not in dotted:
        raise ValueError(
            f"preprocessing function {dotted!r} is not a dotted path like "
            "'keras.applications.mobilenet_v2.preprocess_input'"
        )
    parts = dotted.strip().split(".")
    failures: list[str] = []
    for split in range(len(parts) - 1, 0, -1):
        module_name = ".".join(parts[:split])
        try:
            obj: Any = importlib.import_module(module_name)
        except ImportError as exc:
            failures.append(f"{module_name}: {exc}")
            continue
        try:
            for attr in parts[split:]:
                obj = getattr(obj, attr)
        except AttributeError:
            raise ValueError(
                f"preprocessing function {dotted!r}: module {module_name!r} has no "
                f"attribute {'.'.join(parts[split:])!r}"
            ) from None
        if not callable(obj):
            raise ValueError(f"preprocessing function {dotted!r} is not callable")
        return obj
    raise ValueError(
        f"preprocessing function {dotted!r} cannot be imported ({'; '.join(failures[-1:])})"
    )


@dataclass(frozen=True)
class Preprocessor:
    """Turns a ``uint8`` batch into the ``float32`` input the model expects.

    Either ``x * rescale + offset`` on float32 pixel values 0..255, or ``function`` (a dotted
    path, imported lazily on first use) applied to the float32 batch. The batch is first
    converted to ``channels`` channels (grayscale when the model has one input channel).

    Parameters
    ----------
    rescale, offset : float
        Affine map of 0..255 values (ignored when ``function`` is set).
    function : str or None
        Dotted path of a preprocessing function, e.g.
        ``"keras.applications.mobilenet_v2.preprocess_input"``.
    channels : int
        1 or 3.
    """

    rescale: float = 1.0
    offset: float = 0.0
    function: str | None = None
    channels: int = 3

    def __post_init__(self) -> None:
        for name in ("rescale", "offset"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"preprocessing {name} must be a number, got {value!r}")
            if not math.isfinite(value):
                raise ValueError(f"preprocessing {name} must be finite, got {value!r}")
        if self.channels not in (1, 3) or isinstance(self.channels, bool):
            raise ValueError(f"preprocessing channels must be 1 or 3, got {self.channels!r}")
        if self.function is not None and (
            not isinstance(self.function, str) or not self.function.strip()
        ):
            raise ValueError(
                f"preprocessing function must be a dotted path string, got {self.function!r}"
            )

    @classmethod
    def from_config(cls, block: Mapping[str, Any] | None, *, channels: int | None = None
                    ) -> Preprocessor:
        """Build from the configuration's ``preprocessing`` block.

        Parameters
        ----------
        block : mapping or None
            ``{"rescale": float, "offset": float}`` or ``{"function": "dotted.path"}``,
            optionally with ``"channels"``. ``None`` or ``{}`` is the identity.
        channels : int, optional
            The model's input channels; overrides ``block["channels"]``.

        Raises
        ------
        ValueError
            Unknown keys, both ``function`` and ``rescale``/``offset``, or bad values.
        """
        block = dict(block or {})
        unknown = sorted(set(block) - set(PREPROCESSING_KEYS))
        if unknown:
            raise ValueError(
                f"preprocessing: unknown key(s) {', '.join(map(repr, unknown))}; "
                f"allowed keys are {', '.join(PREPROCESSING_KEYS)}"
            )
        if block.get("function") is not None and (
            block.get("rescale") is not None or block.get("offset") is not None
        ):
            raise ValueError(
                "preprocessing: give either 'function' or 'rescale'/'offset', not both "
                f"(got {block!r})"
            )
        n_channels = channels if channels is not None else block.get("channels", 3)
        return cls(
            rescale=1.0 if block.get("rescale") is None else block["rescale"],
            offset=0.0 if block.get("offset") is None else block["offset"],
            function=block.get("function"),
            channels=n_channels,
        )

    def resolve(self) -> Callable[[np.ndarray], Any] | None:
        """Import the preprocessing function now (``None`` for rescale/offset).

        Raises
        ------
        ValueError
            The dotted path cannot be imported; the message names it.
        """
        return None if self.function is None else resolve_function(self.function)

    def check(self, size: tuple[int, int]) -> None:
        """Call the preprocessing once on a black batch of one ``size`` image: a function
        with the wrong signature or output is a configuration error before any batch runs.

        Raises
        ------
        ValueError
            The function cannot be called with one batch, raises, or changes the shape.
        """
        func = self.resolve()
        if func is None:
            return
        try:
            inspect.signature(func).bind(np.zeros((1, 1, 1, self.channels), np.float32))
        except TypeError as exc:
            raise ValueError(f"function {self.function!r} must take one argument, the float32 "
                             f"batch (N, H, W, C); its signature does not ({exc})") from None
        except ValueError:  # a builtin without a signature: the call below decides
            pass
        height, width = (int(v) for v in size)
        batch = np.zeros((1, height, width, self.channels), np.float32)
        try:
            out = np.asarray(func(batch), dtype=np.float32)
        except Exception as exc:  # noqa: BLE001 - the user's function, whatever it raises
            raise ValueError(
                f"function {self.function!r} must map a float32 batch (N, H, W, C) to an "
                f"array of the same shape; calling it on one {height}x{width}x{self.channels} "
                f"batch raised {type(exc).__name__}: {str(exc)[:200]}") from None
        if out.shape != batch.shape:
            raise ValueError(f"preprocessing function {self.function!r} changed the batch shape "
                             f"from {batch.shape} to {out.shape}")

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        """Preprocess a ``uint8`` batch ``(N, H, W, C)`` into ``float32 (N, H, W, channels)``."""
        arr = np.asarray(batch)
        if arr.dtype != np.uint8:
            raise ValueError(f"Preprocessor expects a uint8 batch, got dtype {arr.dtype}")
        x = to_channels(arr, self.channels).astype(np.float32)
        func = self.resolve()
        if func is None:
            return x * np.float32(self.rescale) + np.float32(self.offset)
        out = np.asarray(func(x), dtype=np.float32)
        if out.shape != x.shape:
            raise ValueError(
                f"preprocessing function {self.function!r} changed the batch shape from "
                f"{x.shape} to {out.shape}"
            )
        return out
