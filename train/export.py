"""Keras -> TFLite export with a dynamic batch dimension, checked with the kiosk's own loader."""

from __future__ import annotations

import contextlib
import io
import logging
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from kiosk.vision.model_spec import ModelSpec

log = logging.getLogger(__name__)


def export_tflite(model: keras.Model, spec: ModelSpec, path: Path) -> Path:
    """Write a float32 TFLite model whose input is (None, size, size, channels).

    A None batch lets the kiosk classify all faces of a frame in one interpreter call after
    ``resize_tensor_input``. Float32 (not quantised): the file is already far below 2 MB and
    it keeps TFLite outputs equal to Keras outputs.
    """
    if tuple(model.input_shape[1:]) != (spec.input_size, spec.input_size, spec.channels):
        raise ValueError(f"model input {model.input_shape} does not match the spec")
    converter = tf.lite.TFLiteConverter.from_keras_model(model)  # keeps the model's None batch
    with contextlib.redirect_stdout(io.StringIO()):  # the converter prints its whole signature
        data = converter.convert()
    path = Path(path)
    path.write_bytes(data)
    log.info("wrote %s (%.0f KB)", path, len(data) / 1024)
    return path


def save_keras_for_inference(model: keras.Model, path: Path) -> Path:
    """Save weights and architecture without the optimizer state: Adam's two moment copies
    would triple the file for nothing the kiosk or a later evaluation uses."""
    clean = keras.Model.from_config(model.get_config())  # clone_model would keep the compiled optimizer
    clean.set_weights(model.get_weights())
    path = Path(path)
    clean.save(path)
    log.info("wrote %s (%.0f KB)", path, path.stat().st_size / 1024)
    return path


def max_abs_difference(model: keras.Model, classifier, batch: np.ndarray) -> float:
    """Largest difference between Keras and TFLite probabilities on ``batch`` (should be ~1e-6)."""
    expected = model.predict(batch, verbose=0)
    difference = float(np.max(np.abs(expected - classifier.predict_batch(batch))))
    if not difference <= 1e-3:  # also catches NaN
        raise RuntimeError(f"TFLite export disagrees with the Keras model (max difference {difference})")
    return difference
