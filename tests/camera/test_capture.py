"""The capture thread: latest-frame hand-off, bad frames, a camera that disappears and comes back."""

from __future__ import annotations

import threading
from typing import Optional

import numpy as np
import pytest

from tests.helpers import wait_until
from kiosk.camera.capture import OFFLINE_TEXT, CaptureThread, LatestSlot, as_bgr_frame
from kiosk.camera.demo_feed import DemoFeed
from kiosk.camera.frame_source import FrameSource, SourceUnavailable


class UnpluggableCamera(FrameSource):
    """A device stand-in driven by the test: frames while plugged in, nothing while unplugged,
    and optionally garbage (None, wrong shapes, wrong dtype) like a flaky driver."""

    label = "Camera 7"

    def __init__(self, garbage: tuple = ()) -> None:
        self.plugged = threading.Event()
        self.plugged.set()
        self.opened = False
        self.opens = 0
        self.garbage = list(garbage)
        self.good_frames = 0

    @property
    def is_open(self) -> bool:
        return self.opened

    def open(self) -> None:
        if not self.plugged.is_set():
            raise SourceUnavailable(self.unavailable_text())
        self.opened = True
        self.opens += 1

    def read(self) -> Optional[np.ndarray]:
        threading.Event().wait(0.005)
        if not self.plugged.is_set():
            return None
        if self.garbage:
            return self.garbage.pop(0)
        self.good_frames += 1
        return np.full((48, 64, 3), self.good_frames % 256, np.uint8)

    def close(self) -> None:
        self.opened = False


# --- the one-slot mailbox -------------------------------------------------------------------

def test_slot_keeps_only_the_newest_item_and_counts_what_it_dropped():
    slot: LatestSlot[int] = LatestSlot()
    for i in range(100):
        slot.put(i)
        assert slot.pending() == 1
    assert slot.get(timeout=0) == 99
    assert slot.get(timeout=0) is None
    assert (slot.dropped, slot.delivered) == (99, 1)


def test_slow_consumer_never_sees_a_growing_queue():
    demo = DemoFeed(size=(160, 120))
    slot = LatestSlot()
    capture = CaptureThread(demo, slot, offline_after_s=1.0, reconnect_max_s=1.0, paced=False)
    capture.start()
    received = []
    try:
        for _ in range(10):
            assert slot.pending() <= 1
            item = slot.get(timeout=5)
            assert item is not None
            received.append(item.index)
            threading.Event().wait(0.03)  # a slow analysis step
    finally:
        capture.stop()
    assert received == sorted(received) and len(set(received)) == len(received)
    assert received[-1] - received[0] > len(received)  # it skipped ahead to the newest frames
    assert slot.dropped > 0
    assert capture.frames_read == slot.delivered + slot.dropped + slot.pending()


def test_lossless_mode_hands_over_every_frame():
    demo = DemoFeed(size=(160, 120))
    slot = LatestSlot()
    capture = CaptureThread(demo, slot, offline_after_s=1.0, reconnect_max_s=1.0, lossless=True)
    capture.start()
    try:
        indexes = []
        for _ in range(30):
            indexes.append(slot.get(timeout=5).index)
            threading.Event().wait(0.005)
    finally:
        capture.stop()
    assert indexes == list(range(30)) and slot.dropped == 0


# --- bad frames and lost cameras ------------------------------------------------------------

@pytest.mark.parametrize("bad", [
    None, np.zeros((0, 0, 3), np.uint8), np.zeros((10, 10, 2), np.uint8), np.zeros((10, 10, 3), np.float32),
    "frame", np.zeros(5, np.uint8),
])
def test_malformed_frames_are_rejected(bad):
    assert as_bgr_frame(bad) is None


def test_gray_and_bgra_frames_become_bgr():
    assert as_bgr_frame(np.zeros((4, 5), np.uint8)).shape == (4, 5, 3)
    assert as_bgr_frame(np.zeros((4, 5, 4), np.uint8)).shape == (4, 5, 3)


def test_garbage_frames_never_reach_the_analysis_and_never_stop_capture():
    camera = UnpluggableCamera(garbage=(None, np.zeros((3, 3, 7), np.uint8), np.zeros((4, 4, 3), np.float64), None))
    slot = LatestSlot()
    capture = CaptureThread(camera, slot, offline_after_s=2.0, reconnect_max_s=1.0)
    capture.start()
    try:
        item = slot.get(timeout=5)
        assert item is not None and item.image.shape == (48, 64, 3)
        assert capture.bad_frames == 2  # the two malformed arrays (None is just "no frame yet")
        assert capture.status.state == "live"
    finally:
        capture.stop()


def test_lost_camera_goes_offline_and_reconnects_with_backoff():
    camera = UnpluggableCamera()
    slot = LatestSlot()
    capture = CaptureThread(camera, slot, offline_after_s=0.5, reconnect_max_s=1.0)
    capture.start()
    try:
        assert slot.get(timeout=5) is not None and capture.status.state == "live"
        camera.plugged.clear()
        assert wait_until(lambda: capture.status.state == "offline")
        assert capture.status.text == OFFLINE_TEXT
        assert wait_until(lambda: capture.connect_attempts >= 2)  # it keeps trying while unplugged
        assert capture.status.text == OFFLINE_TEXT
        camera.plugged.set()
        assert wait_until(lambda: capture.status.state == "live")
        assert camera.opens == 2 and capture.reconnects == 1
        slot.get(timeout=0)
        assert slot.get(timeout=5) is not None  # frames flow again
    finally:
        capture.stop()
    assert not camera.opened  # stop releases the device


def test_runtime_tells_the_screen_when_the_camera_is_lost_and_back(model_dir):
    """Through the real runtime and pipeline: offline updates keep coming while no frame does."""
    import dataclasses

    from kiosk.vision.classifier import MaskClassifier
    from kiosk.config import CameraSection, Config
    from kiosk.door.decision import DecisionState
    from kiosk.vision.pipeline import FrameAnalyzer
    from kiosk.vision.detection import build_detector
    from kiosk.door.runtime import KioskRuntime

    cfg = dataclasses.replace(Config(), camera=dataclasses.replace(CameraSection(), offline_after_s=0.5,
                                                                      reconnect_max_s=1.0))
    camera = UnpluggableCamera()
    runtime = KioskRuntime(cfg, FrameAnalyzer(build_detector(cfg.detection), MaskClassifier(model_dir)), [], camera)
    runtime.start()
    seen = []

    def saw(state: str, text: str) -> bool:
        while not runtime.updates.empty():
            seen.append(runtime.updates.get_nowait())
        return any(u.source_state == state and u.status_text == text for u in seen)

    try:
        assert wait_until(lambda: saw("live", ""))
        camera.plugged.clear()
        assert wait_until(lambda: saw("offline", OFFLINE_TEXT))
        offline = [u for u in seen if u.source_state == "offline"]
        assert offline[-1].frame.shape == (48, 64, 3) and offline[-1].state == DecisionState.WAITING
        count = len(offline)
        assert wait_until(lambda: saw("offline", OFFLINE_TEXT) and
                          len([u for u in seen if u.source_state == "offline"]) > count)  # still refreshed
        camera.plugged.set()
        seen.clear()
        assert wait_until(lambda: saw("live", ""))
        assert runtime.running
    finally:
        runtime.stop()
