"""kiosk.vision.preprocessing: the one crop -> grayscale -> resize -> normalise path."""

from __future__ import annotations

import numpy as np
import pytest

from kiosk.vision.model_spec import ModelSpec
from kiosk.vision.preprocessing import crop_face, expand_box, prepare_batch, to_grayscale, to_model_input


def test_expand_box_widens_by_margin_on_every_side():
    assert expand_box((100, 100, 50, 40), 0.1, (480, 640, 3)) == (95, 96, 60, 48)


def test_expand_box_is_clipped_to_the_frame():
    assert expand_box((0, 5, 50, 50), 0.2, (40, 45)) == (0, 0, 45, 40)


def test_crop_face_returns_the_widened_region(portrait):
    crop = crop_face(portrait, (155, 105, 222, 222), 0.1)
    assert crop.shape == (266, 266, 3)
    assert np.array_equal(crop, portrait[83:349, 133:399])


def test_crop_face_outside_the_frame_is_an_error():
    frame = np.zeros((100, 100, 3), np.uint8)
    with pytest.raises(ValueError, match="outside"):
        crop_face(frame, (200, 200, 30, 30), 0.1)


@pytest.mark.parametrize("shape", [(30, 20), (30, 20, 1), (30, 20, 3), (30, 20, 4)])
def test_to_grayscale_accepts_common_layouts(shape):
    assert to_grayscale(np.full(shape, 7, np.uint8)).shape == (30, 20)


def test_to_grayscale_uses_bgr_order():
    blue = np.zeros((2, 2, 3), np.uint8)
    blue[..., 0] = 255  # pure blue in BGR is dark in luminance, pure red would be brighter
    red = np.zeros((2, 2, 3), np.uint8)
    red[..., 2] = 255
    assert to_grayscale(blue)[0, 0] < to_grayscale(red)[0, 0]


def test_to_model_input_shape_dtype_and_range():
    spec = ModelSpec(input_size=48)
    face = np.random.default_rng(0).integers(0, 256, (123, 77, 3), dtype=np.uint8)
    tensor = to_model_input(face, spec)
    assert tensor.shape == (48, 48, 1) and tensor.dtype == np.float32
    assert 0.0 <= tensor.min() and tensor.max() <= 1.0


def test_to_model_input_applies_mean_and_std():
    spec = ModelSpec(input_size=16, norm_mean=0.5, norm_std=0.25)
    white = np.full((20, 20), 255, np.uint8)
    black = np.zeros((20, 20), np.uint8)
    assert np.allclose(to_model_input(white, spec), 2.0)
    assert np.allclose(to_model_input(black, spec), -2.0)


def test_to_model_input_colour_spec_gets_three_channels_from_gray():
    spec = ModelSpec(input_size=16, grayscale=False)
    assert to_model_input(np.zeros((20, 20), np.uint8), spec).shape == (16, 16, 3)


@pytest.mark.parametrize("face, message", [
    (np.zeros((0, 10, 3), np.uint8), "empty"),
    (np.zeros((10, 10, 3), np.float32), "uint8"),
    (np.zeros((10, 10, 2), np.uint8), "unsupported"),
])
def test_to_model_input_rejects_bad_input(face, message):
    with pytest.raises(ValueError, match=message):
        to_model_input(face, ModelSpec())


def test_prepare_batch_stacks_and_handles_empty():
    spec = ModelSpec(input_size=32)
    faces = [np.zeros((40, 30, 3), np.uint8), np.full((10, 50), 200, np.uint8)]
    batch = prepare_batch(faces, spec)
    assert batch.shape == (2, 32, 32, 1)
    assert np.allclose(batch[1], 200 / 255)
    assert prepare_batch([], spec).shape == (0, 32, 32, 1)
