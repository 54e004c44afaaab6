"""Small models of the kinds people ship, shared by the tests: a vision transformer and a
classifier with an auxiliary output. Random weights, built in well under a second."""

from __future__ import annotations

import keras

L = keras.layers


@keras.saving.register_keras_serializable(package="cam_audit_tests")
class ClassToken(L.Layer):
    """Prepend a learned class token to the patch tokens and add learned position embeddings
    (ViT, Dosovitskiy et al. 2020): ``(N, T, C)`` -> ``(N, T + 1, C)``."""

    def build(self, input_shape):
        channels = input_shape[-1]
        self.token = self.add_weight(shape=(1, 1, channels), initializer="random_normal",
                                     name="token")
        self.position = self.add_weight(shape=(1, input_shape[1] + 1, channels),
                                        initializer="random_normal", name="position")

    def call(self, patches):
        batch = keras.ops.shape(patches)[0]
        token = keras.ops.broadcast_to(keras.ops.cast(self.token, patches.dtype),
                                       (batch, 1, patches.shape[-1]))
        return keras.ops.concatenate([token, patches], axis=1) + keras.ops.cast(
            self.position, patches.dtype)


def tiny_vit(*, size=(32, 32), patch=8, dim=16, blocks=2, pool="token", classes=3, seed=0):
    """A ViT: patch embedding by a ``Conv2D`` with stride = patch size, a class token and
    position embeddings, ``blocks`` pre-norm transformer blocks (``blockN_norm1`` ->
    ``blockN_attn`` (MultiHeadAttention) -> ``blockN_add1`` -> ``blockN_norm2`` -> MLP ->
    ``blockN_add2``), ``final_norm``, then the class token (``pool="token"``) or the mean of
    all tokens (``pool="mean"``) into a softmax ``head``. 32x32 with patch 8: a 4x4 grid,
    17 tokens."""
    keras.utils.set_random_seed(seed)
    grid = (size[0] // patch, size[1] // patch)
    inputs = keras.Input((*size, 3))
    x = L.Conv2D(dim, patch, strides=patch, name="patch_embed")(inputs)
    x = L.Reshape((grid[0] * grid[1], dim), name="patches")(x)
    x = ClassToken(name="class_token")(x)
    for b in range(1, blocks + 1):
        h = L.LayerNormalization(epsilon=1e-6, name=f"block{b}_norm1")(x)
        h = L.MultiHeadAttention(num_heads=2, key_dim=dim // 2, name=f"block{b}_attn")(h, h)
        x = L.Add(name=f"block{b}_add1")([x, h])
        h = L.LayerNormalization(epsilon=1e-6, name=f"block{b}_norm2")(x)
        h = L.Dense(2 * dim, activation="gelu", name=f"block{b}_mlp1")(h)
        h = L.Dense(dim, name=f"block{b}_mlp2")(h)
        x = L.Add(name=f"block{b}_add2")([x, h])
    x = L.LayerNormalization(epsilon=1e-6, name="final_norm")(x)
    x = x[:, 0] if pool == "token" else L.GlobalAveragePooling1D(name="mean_tokens")(x)
    outputs = L.Dense(classes, activation="softmax", name="head")(x)
    return keras.Model(inputs, outputs, name=f"tiny_vit_{pool}")


def two_headed(*, size=(32, 32), classes=3, seed=0, as_dict=False):
    """A CNN with a softmax class head ``cls`` on its last convolution ``conv2``, and an
    auxiliary box regressor ``box`` (4 linear units) on a branch of its own (``aux_conv``).

    Returns the model and the same network with the class output alone (same layers, so
    same weights)."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((*size, 3))
    x = L.Conv2D(8, 3, activation="relu", name="conv1")(inputs)
    x = L.MaxPooling2D(name="pool1")(x)
    x = L.Conv2D(16, 3, activation="relu", name="conv2")(x)
    label = L.Dense(classes, activation="softmax", name="cls")(
        L.GlobalAveragePooling2D(name="gap")(x))
    aux = L.Conv2D(8, 3, activation="relu", name="aux_conv")(x)
    box = L.Dense(4, name="box")(L.GlobalAveragePooling2D(name="aux_gap")(aux))
    outputs = {"label": label, "bbox": box} if as_dict else [label, box]
    model = keras.Model(inputs, outputs, name="two_headed")
    return model, keras.Model(inputs, label, name="class_only")
