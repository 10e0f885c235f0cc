"""Annotation drawing: the right colour in each box, the caption, and the input left alone."""

from __future__ import annotations

import numpy as np

from kiosk.vision.annotate import GREEN, ORANGE, RED, draw_results, label_text
from kiosk.vision.model_spec import WITH_INCORRECT_MASK, WITH_MASK, WITHOUT_MASK
from kiosk.records import FaceResult


def _pixels_of(image: np.ndarray, color: tuple[int, int, int]) -> np.ndarray:
    return np.all(image == np.array(color, np.uint8), axis=-1)


def _box_outline(image: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """The pixels on the box's four edges (where the rectangle is drawn)."""
    x, y, w, h = box
    return np.concatenate([image[y, x : x + w], image[y + h, x : x + w], image[y : y + h, x], image[y : y + h, x + w]])


def test_masked_face_gets_a_green_box_and_unmasked_a_red_one():
    frame = np.full((480, 640, 3), 90, np.uint8)
    masked_box, bare_box = (60, 150, 160, 160), (380, 150, 160, 160)
    results = [
        FaceResult(box=masked_box, label=WITH_MASK, score=0.97, mask_probability=0.97),
        FaceResult(box=bare_box, label=WITHOUT_MASK, score=0.88, mask_probability=0.12),
    ]
    drawn = draw_results(frame, results)

    masked_edge, bare_edge = _box_outline(drawn, masked_box), _box_outline(drawn, bare_box)
    assert _pixels_of(masked_edge[:, None], GREEN).mean() > 0.9
    assert _pixels_of(bare_edge[:, None], RED).mean() > 0.9
    assert not _pixels_of(masked_edge[:, None], RED).any()
    assert not _pixels_of(bare_edge[:, None], GREEN).any()
    # a filled caption sits above each box, in the box colour
    assert _pixels_of(drawn[120:150, 60:220], GREEN).sum() > 500
    assert _pixels_of(drawn[120:150, 380:540], RED).sum() > 500
    # the inside of the faces is not painted over
    assert np.array_equal(drawn[200:300, 100:180], frame[200:300, 100:180])


def test_input_frame_is_left_unchanged():
    frame = np.random.default_rng(1).integers(0, 255, (240, 320, 3), dtype=np.uint8)
    before = frame.copy()
    drawn = draw_results(frame, [FaceResult(box=(10, 5, 100, 100), label=WITHOUT_MASK, score=0.7, mask_probability=0.3)])
    assert np.array_equal(frame, before)
    assert drawn is not frame and drawn.shape == frame.shape
    assert not np.array_equal(drawn, frame)


def test_incorrect_mask_is_orange_and_captions_read_like_the_classic_demos():
    results = [
        FaceResult(box=(10, 40, 80, 80), label=WITH_INCORRECT_MASK, score=0.75, mask_probability=0.2),
    ]
    drawn = draw_results(np.zeros((200, 200, 3), np.uint8), results)
    assert _pixels_of(_box_outline(drawn, results[0].box)[:, None], ORANGE).mean() > 0.9
    assert label_text(FaceResult((0, 0, 1, 1), WITH_MASK, 0.974, 0.974)) == "Mask 97%"
    assert label_text(FaceResult((0, 0, 1, 1), WITHOUT_MASK, 0.88, 0.12)) == "No Mask 88%"


def test_grayscale_frames_are_drawn_in_colour_and_a_face_at_the_top_edge_keeps_its_caption():
    gray = np.full((120, 160), 128, np.uint8)
    drawn = draw_results(gray, [FaceResult(box=(20, 0, 60, 60), label=WITH_MASK, score=0.9, mask_probability=0.9)])
    assert drawn.shape == (120, 160, 3)
    assert _pixels_of(drawn[0:20, 20:80], GREEN).sum() > 100  # caption drawn inside the box, not off-frame
    assert draw_results(gray, []).shape == (120, 160, 3)
