"""Fixed-shape micro-batching: every model call has the same number of rows.

The kernels TensorFlow picks on the CPU depend on the batch size and round differently, so a
sample's result would depend on how the caller batched the data. Cutting every call to
``micro_batch`` rows (the last chunk padded with its last row) makes records bit-identical
whatever ``cams.batch_size`` is (``docs/architecture.md``, Invariants).
"""

from __future__ import annotations

import tensorflow as tf


def pad_rows(tensor: tf.Tensor, rows: int) -> tf.Tensor:
    """``tensor`` with its last row repeated until it has ``rows`` rows."""
    missing = rows - int(tensor.shape[0])
    if missing <= 0:
        return tensor
    return tf.concat([tensor, tf.repeat(tensor[-1:], missing, axis=0)], axis=0)


def in_chunks(fn, size: int | None, n: int, *batched, pad: bool = True):
    """Call ``fn`` on row chunks of ``size`` rows and join the results.

    With ``pad``, every chunk has exactly ``size`` rows (the last one padded), so every call
    has the same shape and a sample's result does not depend on how the caller batched the
    data: the kernels TensorFlow picks on the CPU depend on the batch size and round
    differently. ``size=None`` calls ``fn`` once on everything.
    """
    if n == 0 or size is None or (n <= size and not pad):
        return fn(*batched)
    parts = []
    for start in range(0, n, size):
        chunk = [t[start:start + size] for t in batched]
        rows = int(chunk[0].shape[0])
        out = fn(*[pad_rows(t, size) if pad else t for t in chunk])
        parts.append(tf.nest.map_structure(lambda x, rows=rows: x[:rows], out))
    if len(parts) == 1:
        return parts[0]
    return tf.nest.map_structure(lambda *xs: tf.concat(xs, axis=0), *parts)
