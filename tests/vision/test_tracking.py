"""Region tracking around known faces, with the real tuned Haar detector on moving portraits."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from kiosk.config import Config
from kiosk.vision.detection import build_detector
from kiosk.vision.detection.boxes import iou
from kiosk.vision.detection.tracking import RegionTrackingDetector
from kiosk.camera.synthetic import PORTRAIT_FACE_BOX, load_portrait, place_on_canvas


def portrait_at(offset: tuple[int, int], scale: float = 0.6) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """A 640x480 frame with the portrait moved by ``offset``, and where its face is."""
    frame, used, (x0, y0) = place_on_canvas(load_portrait(), scale=scale, offset=offset)
    x, y, w, h = PORTRAIT_FACE_BOX
    return frame, (int(x0 + x * used), int(y0 + y * used), int(w * used), int(h * used))


def tracker(every: int = 10, name: str = "haar") -> RegionTrackingDetector:
    cfg = dataclasses.replace(Config().detection, detector=name)
    return RegionTrackingDetector(build_detector(cfg), full_scan_every=every)


@pytest.mark.parametrize("name, scale", [("haar", 0.6), ("blazeface", 0.6), ("blazeface", 0.3)])
def test_a_walking_face_is_followed_with_region_scans_between_full_scans(name, scale):
    detector = tracker(every=10, name=name)
    for step in range(20):
        frame, face = portrait_at((step * 4 - 40, step * 2 - 20), scale)
        boxes = detector.detect(frame)
        assert len(boxes) == 1 and iou(boxes[0], face) >= 0.5, (step, boxes, face)
    assert detector.full_scans == 2  # frames 1 and 11; the 18 others only looked around the face
    assert detector.region_scans == 18


def test_a_face_that_leaves_is_dropped_at_once_and_a_newcomer_is_found():
    detector = tracker(every=10)
    frame, _ = portrait_at((0, 0))
    assert len(detector.detect(frame)) == 1
    assert len(detector.detect(frame)) == 1  # found again by a region scan: confirmed
    blank = np.full_like(frame, 90)
    assert detector.detect(blank) == []  # the region came up empty: a full scan confirmed nobody is there
    assert detector.full_scans == 2
    frame, face = portrait_at((60, 10))
    boxes = detector.detect(frame)  # nobody known: every frame is a full scan until someone is found
    assert len(boxes) == 1 and iou(boxes[0], face) >= 0.5


@pytest.mark.parametrize("name, person", [("haar", "unmasked"), ("blazeface", "masked")])
def test_a_tracked_face_keeps_the_size_a_full_scan_gives_it(name, person):
    """Region scans must not let the box grow or shrink frame by frame: a tracked Haar box once
    reached 1.5x the face, and BlazeFace in a tight region shrank to 0.84x; the classifier then
    saw another framing than it learnt. (Haar misses the pale drawn mask in a third of the frames,
    the reason BlazeFace is the default, so its box geometry is checked on the bare face.)"""
    from tools.measure_window import door_frame, sway

    inner = build_detector(dataclasses.replace(Config().detection, detector=name))
    detector = RegionTrackingDetector(inner, full_scan_every=20)
    person = door_frame(person, scale=0.75)
    ratios = []
    for i in range(40):
        frame = sway(person, i)
        tracked, scanned = detector.detect(frame), inner.detect(frame)
        if tracked and scanned:
            ratios.append(tracked[0][2] / scanned[0][2])
    assert len(ratios) >= 35
    assert 0.95 <= float(np.median(ratios)) <= 1.05 and max(ratios) <= 1.3, ratios


def test_tracking_is_what_video_paths_get_and_photos_do_not():
    from kiosk.vision.pipeline import build_analyzer

    cfg = Config()
    live = build_analyzer(cfg, video=True).detector
    assert isinstance(live.inner, RegionTrackingDetector)  # under the motion gate (tests/test_motion_gate.py)
    assert not isinstance(build_analyzer(cfg).detector, RegionTrackingDetector)


class WithFlickeringFalseDetection:
    """The real detector, plus a false box that whole-frame scans report and region scans never
    confirm: the pattern of a Haar false detection on a textured background."""

    name = "haar+flicker"
    FALSE_BOX = (540, 30, 60, 60)

    def __init__(self) -> None:
        self.real = build_detector(dataclasses.replace(Config().detection, detector="haar"))

    def detect(self, frame: np.ndarray) -> list[tuple[int, int, int, int]]:
        boxes = list(self.real.detect(frame))
        if frame.shape[:2] == (480, 640):
            boxes.append(self.FALSE_BOX)
        return boxes


def test_an_unconfirmed_false_detection_is_dropped_without_rescanning_every_frame():
    detector = RegionTrackingDetector(WithFlickeringFalseDetection(), full_scan_every=10)
    false_box_frames = []
    for step in range(20):
        frame, face = portrait_at((step * 2, step))
        boxes = detector.detect(frame)
        assert any(iou(box, face) >= 0.5 for box in boxes), (step, boxes)
        if WithFlickeringFalseDetection.FALSE_BOX in boxes:
            false_box_frames.append(step)
    assert false_box_frames == [0, 10]  # reported by the two periodic full scans only
    assert detector.full_scans == 2 and detector.dropped_unconfirmed == 2


def test_a_blazeface_region_scan_is_one_model_call():
    """Square tiles only pay on large views; in the small region around a known face they
    tripled the cost of every tracked frame."""
    detector = tracker(every=10, name="blazeface")
    calls = []
    invoke = detector.inner._invoke
    detector.inner._invoke = lambda view: calls.append(view.shape) or invoke(view)
    frame, _ = portrait_at((0, 0))
    detector.detect(frame)
    assert len(calls) == 3  # the full scan: the whole 640x480 frame and two 480x480 tiles
    detector.detect(frame)
    assert detector.region_scans == 1 and len(calls) == 4
