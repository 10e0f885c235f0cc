"""A Keras model survives save/load unchanged, and its TFLite export gives the same answers
through the kiosk's own loader (MaskClassifier), for any batch size."""

from __future__ import annotations

import json

import keras
import numpy as np
import pytest

from kiosk.vision.classifier import MaskClassifier, ModelLoadError
from kiosk.vision.model_spec import KERAS_MODEL_NAME, MODEL_CARD_NAME, TFLITE_MODEL_NAME, ModelSpec
from train.export import export_tflite, max_abs_difference, save_keras_for_inference
from train.model import build_model


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """An untrained but randomly initialised tiny model, saved the way training saves it."""
    keras.utils.set_random_seed(5)
    spec = ModelSpec(input_size=32, mask_threshold=0.4)
    model = build_model(spec, width=4)
    folder = tmp_path_factory.mktemp("tiny_model")
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    save_keras_for_inference(model, folder / KERAS_MODEL_NAME)
    export_tflite(model, spec, folder / TFLITE_MODEL_NAME)
    card = {"spec": spec.to_card_section(), "files": {"keras": KERAS_MODEL_NAME, "tflite": TFLITE_MODEL_NAME}}
    (folder / MODEL_CARD_NAME).write_text(json.dumps(card))
    batch = np.random.default_rng(3).random((7, 32, 32, 1), dtype=np.float32)
    return model, spec, folder, batch


def test_keras_save_load_gives_identical_predictions(tiny):
    model, _, folder, batch = tiny
    loaded = keras.models.load_model(folder / KERAS_MODEL_NAME)
    assert getattr(loaded, "optimizer", None) is None  # saved for inference: no optimizer state in the file
    assert np.array_equal(model.predict(batch, verbose=0), loaded.predict(batch, verbose=0))


def test_tflite_export_matches_keras_for_any_batch_size(tiny):
    model, spec, folder, batch = tiny
    classifier = MaskClassifier(folder)
    assert classifier.spec == spec
    expected = model.predict(batch, verbose=0)
    for n in (1, 7, 3):  # resize_tensor_input up and down
        assert np.allclose(classifier.predict_batch(batch[:n]), expected[:n], atol=1e-5)
    assert max_abs_difference(model, classifier, batch) < 1e-5
    assert classifier.predict_batch(batch[:0]).shape == (0, 3)


def test_tflite_gives_distinct_outputs_per_input(tiny):
    _, _, folder, batch = tiny
    out = MaskClassifier(folder).predict_batch(batch)
    assert np.allclose(out.sum(axis=1), 1.0, atol=1e-5)
    assert not np.allclose(out[0], out[1])  # a broken export (e.g. lost weights) gives constants or NaN


def test_corrupt_tflite_is_a_load_error(tiny, tmp_path):
    _, _, folder, _ = tiny
    (tmp_path / MODEL_CARD_NAME).write_text((folder / MODEL_CARD_NAME).read_text())
    (tmp_path / TFLITE_MODEL_NAME).write_bytes(b"\x00garbage" * 100)
    with pytest.raises(ModelLoadError, match="not a valid TFLite model"):
        MaskClassifier(tmp_path)


def test_a_card_with_a_malformed_files_section_is_a_load_error(tiny, tmp_path):
    _, _, folder, _ = tiny
    card = json.loads((folder / MODEL_CARD_NAME).read_text())
    card["files"] = ["mask_classifier.tflite"]  # a list where a mapping belongs
    (tmp_path / MODEL_CARD_NAME).write_text(json.dumps(card))
    (tmp_path / TFLITE_MODEL_NAME).write_bytes((folder / TFLITE_MODEL_NAME).read_bytes())
    with pytest.raises(ModelLoadError, match="malformed 'files' section"):
        MaskClassifier(tmp_path)
