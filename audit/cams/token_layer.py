"""Which token layer of a vision transformer the explainer explains when none is named.

A transformer that classifies from its class token reads, after its last attention, only that
token, so the layers after it give all-zero gradient maps: the automatic choice probes the
model once to find the last token layer whose patch tokens the class scores depend on.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf

from audit.cams.head import Head
from audit.cams.layers import ExplainedLayer, explainable_layers
from audit.cams.taps import single, tap
from audit.cams.tokens import TokenGrid


def trailing_token_layers(network, *, tokens: TokenGrid, image_size) -> list[ExplainedLayer]:
    """The token layers after the last 4-D layer, in order: where the automatic choice
    for a vision transformer is made."""
    found = explainable_layers(network, tokens=tokens, image_size=image_size)
    trailing: list[ExplainedLayer] = []
    for candidate in reversed(found):
        if candidate.tokens is None:
            break
        trailing.insert(0, candidate)
    return trailing


def patch_tokens_reach_score(network, head: Head, candidates: list[ExplainedLayer],
                             input_shape: tuple, dtype) -> ExplainedLayer:
    """The last of ``candidates`` (token layers) whose patch tokens the class scores depend on.

    A vision transformer that classifies from its class token alone reads, after its last
    attention, only that token: the patch tokens of its last block's output and final norm get
    no gradient, and every gradient map of them would be zero. One forward and backward pass
    on a seeded random image, with every candidate tapped, finds the last layer whose patch
    tokens get a non-zero gradient of the sum of the logits: there, the input of the last
    attention (the last block's first LayerNormalization, pytorch-grad-cam's advice for
    ViTs). A model that pools every token (GlobalAveragePooling1D, Flatten) keeps its last
    token layer. When none qualifies (or the input size is not fixed), the last candidate.
    """
    if any(d is None for d in input_shape):
        return candidates[-1]
    image = np.random.default_rng(0).random((1, *input_shape))
    images = tf.convert_to_tensor(image, dtype=dtype)
    with tf.GradientTape(watch_accessed_variables=False) as tape:
        with tap([c.layer for c in candidates], head, on_activation=tape.watch) as record:
            network(images, training=False)
        logits = single(record.logits, "output layer", head.layer.name)
        score = tf.reduce_sum(tf.cast(logits, tf.float32))
    ran = [i for i, outputs in enumerate(record.outputs) if len(outputs) == 1]
    grads = tape.gradient(score, [record.outputs[i][0] for i in ran])
    for i, grad in sorted(zip(ran, grads, strict=True), key=lambda pair: -pair[0]):
        if grad is not None and bool(tf.reduce_any(candidates[i].tokens.to_grid(grad) != 0)):
            return candidates[i]
    return candidates[-1]

