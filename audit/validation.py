"""The package's shared input checks: each is called first, once, by its caller (the metrics,
the evidence functions, the aggregate and the comparison of two runs).

Every error names the argument, what is allowed and what it got, in the package's one
grammar (docs/architecture.md, "Errors"): ``"<name> must be <what is allowed>; got <value>"``.
Shared at the top of the package, beside ``errors`` and ``io``: it imports nothing of the
audit, so every layer may use it.

>>> check_int(3, "n_resamples", minimum=1)
3
>>> check_shape((4, 5))
(4, 5)
>>> check_int(0, "n_resamples", minimum=1)
Traceback (most recent call last):
    ...
ValueError: n_resamples must be an integer >= 1; got n_resamples=0
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from numbers import Integral, Real

import numpy as np

__all__ = ["check_choice", "check_float_image", "check_int", "check_map", "check_mask",
           "check_same_length", "check_seed", "check_sequence", "check_shape", "check_sigma",
           "check_uint8_image", "check_vector", "echo", "must_phrase", "real_array"]


def real_array(values, name: str) -> np.ndarray:
    """``values`` as an array of real numbers (bool allowed), or a ValueError."""
    try:
        array = np.asarray(values)
    except (TypeError, ValueError):
        raise ValueError(
            f"{name} must be an array of numbers; got {type(values).__name__}"
        ) from None
    if (
        array.dtype == object
        or not (np.issubdtype(array.dtype, np.number) or array.dtype == bool)
        or np.issubdtype(array.dtype, np.complexfloating)
    ):
        raise ValueError(f"{name} must hold real numbers; got dtype {array.dtype}")
    return array


def check_choice(value, name: str, allowed: tuple[str, ...]) -> str:
    """``value`` when it is one of ``allowed``, else a ValueError listing them."""
    if not isinstance(value, str) or value not in allowed:
        raise ValueError(f"{name} must be one of {allowed}; got {name}={value!r}")
    return value


def check_int(value, name: str, *, minimum: int) -> int:
    """``value`` as an int when it is an integer >= ``minimum`` (not a bool)."""
    if isinstance(value, bool) or not isinstance(value, Integral) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}; got {name}={value!r}")
    return int(value)


def check_seed(seed) -> int:
    """A seed for ``numpy.random.default_rng``: an integer >= 0."""
    return check_int(seed, "seed", minimum=0)


def check_sigma(sigma, name: str) -> float | None:
    """``None``, or ``sigma`` as a float when it is a finite number > 0."""
    if sigma is None:
        return None
    if (
        isinstance(sigma, bool)
        or not isinstance(sigma, Real)
        or not math.isfinite(sigma)
        or sigma <= 0
    ):
        raise ValueError(
            f"{name} must be None or a finite number of pixels > 0; got {name}={sigma!r}"
        )
    return float(sigma)


def check_shape(shape, name: str = "shape") -> tuple[int, int]:
    """``shape`` as ``(height, width)`` of positive ints."""
    try:
        height, width = shape
    except (TypeError, ValueError):
        raise ValueError(
            f"{name} must be (height, width), two positive integers; got {name}={shape!r}"
        ) from None
    for value in (height, width):
        if isinstance(value, bool) or not isinstance(value, Integral) or value < 1:
            raise ValueError(
                f"{name} must be (height, width), two positive integers; got {name}={shape!r}"
            )
    return int(height), int(width)


def check_uint8_image(image, name: str = "image") -> np.ndarray:
    """A uint8 image, ``(height, width)`` gray or ``(height, width, channels)``."""
    array = np.asarray(image)
    if array.dtype != np.uint8:
        raise ValueError(
            f"{name} must be a uint8 image in original pixel space (0..255); "
            f"got dtype {array.dtype}"
        )
    if array.ndim not in (2, 3) or array.size == 0:
        raise ValueError(
            f"{name} must have shape (height, width) or (height, width, channels) with at "
            f"least one pixel; got shape {array.shape}"
        )
    return array


def check_float_image(image, name: str = "image") -> np.ndarray:
    """A finite floating-point ``(height, width, channels)`` model input."""
    array = real_array(image, name)
    if not np.issubdtype(array.dtype, np.floating):
        raise ValueError(
            f"{name} must be a floating-point model input (already preprocessed); "
            f"got dtype {array.dtype}"
        )
    if array.ndim != 3 or array.size == 0:
        raise ValueError(
            f"{name} must have shape (height, width, channels) with at least one pixel; "
            f"got shape {array.shape}"
        )
    if not np.all(np.isfinite(array)):
        count = int(np.count_nonzero(~np.isfinite(array)))
        raise ValueError(f"{name} must be finite; got {count} NaN or infinite value(s)")
    return array


def check_map(values, name: str, *, shape=None, unit: bool = False) -> np.ndarray:
    """A finite 2-D float64 map (of ``shape`` when given; within [0, 1] when ``unit``)."""
    array = real_array(values, name)
    if array.ndim != 2 or array.size == 0:
        raise ValueError(
            f"{name} must be a 2-D (height, width) map with at least one pixel; "
            f"got shape {array.shape}"
        )
    if shape is not None and array.shape != tuple(shape):
        raise ValueError(
            f"{name} must have the image's height and width {tuple(shape)}; "
            f"got shape {array.shape}"
        )
    array = array.astype(np.float64, copy=False)
    if not np.all(np.isfinite(array)):
        count = int(np.count_nonzero(~np.isfinite(array)))
        raise ValueError(f"{name} must be finite; got {count} NaN or infinite value(s)")
    if unit and (array.min() < 0 or array.max() > 1):
        raise ValueError(
            f"{name} must lie within [0, 1] (scale the map first); got values from "
            f"{float(array.min())!r} to {float(array.max())!r}"
        )
    return array


def check_mask(mask, name: str, *, shape) -> np.ndarray:
    """A 2-D boolean mask of ``shape`` (numeric arrays must hold only 0 and 1)."""
    array = real_array(mask, name)
    if array.dtype != bool:
        if not np.all((array == 0) | (array == 1)):
            raise ValueError(
                f"{name} must be boolean (or hold only 0 and 1); got dtype {array.dtype} "
                "with other values"
            )
        array = array.astype(bool)
    if array.ndim != 2 or array.shape != tuple(shape):
        raise ValueError(
            f"{name} must be a boolean (height, width) mask of the image's shape "
            f"{tuple(shape)}; got shape {array.shape}"
        )
    return array


def check_vector(values, name: str, *, low=None, high=None, binary: bool = False) -> np.ndarray:
    """A 1-D float64 vector; NaN marks undefined; defined values within [low, high].

    ``binary`` allows only 0, 1 (or False, True) besides NaN.
    """
    array = real_array(values, name)
    if array.ndim != 1:
        raise ValueError(f"{name} must be 1-D; got {array.ndim}-D shape {array.shape}")
    array = array.astype(np.float64)
    defined = array[~np.isnan(array)]
    if binary and not np.all((defined == 0) | (defined == 1)):
        bad = defined[(defined != 0) & (defined != 1)][0]
        raise ValueError(f"{name} must hold only 0, 1 or NaN; got a value {float(bad)!r}")
    if np.any(np.isinf(defined)):
        raise ValueError(f"{name} must be finite or NaN; got an infinite value")
    if (low is not None and np.any(defined < low)) or (high is not None and np.any(defined > high)):
        raise ValueError(
            f"{name} must lie within [{low}, {high}] (or be NaN); got values from "
            f"{float(defined.min())!r} to {float(defined.max())!r}"
        )
    return array


def check_same_length(**vectors: np.ndarray) -> None:
    """Vectors that pair up sample by sample must have the same length."""
    lengths = {name: len(v) for name, v in vectors.items()}
    if len(set(lengths.values())) > 1:
        listing = ", ".join(f"{name}={n}" for name, n in lengths.items())
        raise ValueError(
            f"the inputs pair up sample by sample and need the same length; got {listing}"
        )


def check_sequence(values, name: str) -> Sequence:
    """A sequence (not a string), for inputs read element by element."""
    if isinstance(values, str | bytes) or not isinstance(values, Sequence | np.ndarray):
        raise ValueError(f"{name} must be a sequence; got {type(values).__name__}")
    return values


def echo(value, limit: int = 200) -> str:
    """``repr(value)`` for the ``got`` part of a message, cut to ``limit`` characters.

    >>> echo("x" * 300, limit=10)
    "'xxxxxx..."
    """
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def must_phrase(key: str, message: str) -> str:
    """``key`` and what a validator (pydantic's, or one of ours) says of it, as the first half
    of ``"<what> must be <expected>; got <value>"``.

    >>> must_phrase("cams.batch_size", "Input should be greater than or equal to 1")
    'cams.batch_size must be greater than or equal to 1'
    >>> must_phrase("model.imports.0", "Value error, must be a module name like 'acme'.")
    "model.imports.0 must be a module name like 'acme'"
    >>> must_phrase("slices", "Value error, slices[0] names no column.")
    'slices: slices[0] names no column'
    """
    message = message.removeprefix("Value error, ").rstrip(".")
    if message.startswith("Input should "):
        return f"{key} must {message.removeprefix('Input should ')}"
    if message.startswith("must "):
        return f"{key} {message}"
    return f"{key}: {message}"
