"""Face detectors on the public-domain portrait: real cascades, real BlazeFace weights, real model."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from kiosk.config import ConfigError, Config, build_config
from kiosk.vision.detection import DETECTOR_NAMES, build_detector
from kiosk.vision.detection.boxes import BoxFit, iou, match_boxes, non_max_suppression
from kiosk.vision.model_spec import WITH_MASK
from kiosk.vision.pipeline import FrameAnalyzer
from kiosk.vision.classifier import MaskClassifier
from kiosk.camera.synthetic import PORTRAIT_FACE_BOX, place_on_canvas


def detector(name: str):
    return build_detector(dataclasses.replace(Config().detection, detector=name))


def best_iou(boxes, truth) -> float:
    return max((iou(tuple(b), truth) for b in boxes), default=0.0)


def canvas_box(scale: float, origin: tuple[int, int]) -> tuple[int, int, int, int]:
    x, y, w, h = PORTRAIT_FACE_BOX
    return (int(x * scale + origin[0]), int(y * scale + origin[1]), int(w * scale), int(h * scale))


@pytest.fixture(scope="module", params=DETECTOR_NAMES)
def any_detector(request):
    return detector(request.param)


def test_every_detector_finds_the_portrait_face(any_detector, portrait):
    boxes = any_detector.detect(portrait)
    assert len(boxes) == 1, boxes
    assert best_iou(boxes, PORTRAIT_FACE_BOX) >= 0.5


@pytest.mark.parametrize("scale, offset", [(0.8, (0, 0)), (0.5, (-120, 40))])
def test_every_detector_finds_the_portrait_on_a_640x480_frame(any_detector, portrait, scale, offset):
    frame, used_scale, origin = place_on_canvas(portrait, (640, 480), scale, offset)
    boxes = any_detector.detect(frame)
    assert len(boxes) == 1, boxes
    assert best_iou(boxes, canvas_box(used_scale, origin)) >= 0.5


def test_every_detector_sees_nothing_in_blank_and_noise_frames(any_detector):
    rng = np.random.default_rng(7)
    blank = np.full((480, 640, 3), 128, np.uint8)
    noise = rng.integers(0, 256, (480, 640, 3), dtype=np.uint8)
    assert any_detector.detect(blank) == []
    assert any_detector.detect(noise) == []


def test_detectors_accept_grayscale_frames(any_detector, portrait):
    gray = portrait.mean(axis=2).astype(np.uint8)
    assert best_iou(any_detector.detect(gray), PORTRAIT_FACE_BOX) >= 0.5


def test_blazeface_is_the_default_and_finds_the_masked_portrait_the_stock_cascade_misses(masked_portrait):
    assert Config().detection.detector == "blazeface"  # Haar misses most masked faces in real photos
    assert detector("haar-stock").detect(masked_portrait) == []  # the baseline's blind spot
    for name in ("blazeface", "haar"):  # the design card's tuned cascades find it too
        boxes = detector(name).detect(masked_portrait)
        assert len(boxes) == 1, (name, boxes)
        assert best_iou(boxes, PORTRAIT_FACE_BOX) >= 0.5, name


def test_masked_portrait_is_found_and_classified_masked_by_the_real_model(masked_portrait, portrait, model_dir):
    analyzer = FrameAnalyzer(detector("haar"), MaskClassifier(model_dir))
    masked = analyzer.analyze(masked_portrait)
    bare = analyzer.analyze(portrait)
    assert [r.label for r in masked] == [WITH_MASK]
    assert len(bare) == 1 and bare[0].label != WITH_MASK
    assert masked[0].mask_probability > bare[0].mask_probability


def zoomed_blazeface():
    return build_detector(build_config({"detection": {"detector": "blazeface", "zoom_tiles": True}}).detection)


@pytest.mark.parametrize("offset", [(-200, -120), (200, -100)])
def test_zoom_tiles_find_a_small_masked_face_the_plain_blazeface_misses(masked_portrait, offset):
    frame, scale, origin = place_on_canvas(masked_portrait, (640, 480), 0.25, offset)  # a 55 px face
    assert detector("blazeface").detect(frame) == []
    boxes = zoomed_blazeface().detect(frame)
    assert len(boxes) == 1, boxes
    assert best_iou(boxes, canvas_box(scale, origin)) >= 0.5


@pytest.mark.parametrize("scale, offset", [(0.5, (200, -60)), (0.6, (150, 0)), (0.7, (200, 0)), (0.8, (0, 0))])
def test_zoom_tiles_report_a_face_cut_by_their_edges_once(portrait, scale, offset):
    """A face larger than a tile's overlap is cut by some zoom tile; that part must not become a
    second face (in the first three placements BlazeFace reports the cut part as a face)."""
    frame, used_scale, origin = place_on_canvas(portrait, (640, 480), scale, offset)
    boxes = zoomed_blazeface().detect(frame)
    assert len(boxes) == 1, boxes
    assert best_iou(boxes, canvas_box(used_scale, origin)) >= 0.5


def test_zoom_tiles_see_nothing_in_blank_and_noise_frames():
    noise = np.random.default_rng(7).integers(0, 256, (480, 640, 3), dtype=np.uint8)
    zoomed = zoomed_blazeface()
    assert zoomed.detect(np.full((480, 640, 3), 128, np.uint8)) == [] and zoomed.detect(noise) == []


def test_config_names_the_detectors_and_rejects_others():
    for name in DETECTOR_NAMES:
        assert build_config({"detection": {"detector": name}}).detection.detector == name
    with pytest.raises(ConfigError, match=r"\[detection\] detector = \"yolo\""):
        build_config({"detection": {"detector": "yolo"}})


def test_non_max_suppression_keeps_the_best_of_overlapping_and_nested_boxes():
    boxes = [(100, 100, 100, 100), (105, 102, 98, 100), (120, 120, 40, 40), (400, 100, 80, 80)]
    kept = non_max_suppression(boxes, [5.0, 9.0, 3.0, 4.0])
    assert kept == [1, 3]


def test_matching_is_one_to_one_and_needs_iou_0_3():
    truth = [(0, 0, 100, 100), (300, 0, 100, 100)]
    found = [(5, 5, 100, 100), (10, 0, 100, 100), (300, 60, 100, 100)]  # the last overlaps 0.25
    assert match_boxes(truth, found, 0.3) == {0: 0}


def test_box_fit_narrows_and_lowers_a_box_about_its_centre():
    assert BoxFit().apply((10, 20, 100, 100)) == (10, 20, 100, 100)
    # 100x100 at (0, 0): centre (50, 50) moves down 5 px; 78 wide, 95 tall around it
    assert BoxFit(width=0.78, height=0.95, shift_y=0.05).apply((0, 0, 100, 100)) == (11, 8, 78, 95)


def test_the_default_haar_box_frames_the_portrait_face_like_an_annotated_box(portrait):
    """Annotated face boxes are taller than wide; the square cascade window is not."""
    frame, _, _ = place_on_canvas(portrait, (640, 480), scale=0.75)
    (box,) = build_detector(Config().detection).detect(frame)
    assert box[3] > box[2] * 1.1
