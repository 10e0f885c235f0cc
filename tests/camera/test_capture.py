"""The capture thread: latest-frame hand-off, bad frames, a camera that disappears and comes back."""

from __future__ import annotations

import socket
import sys
import threading
from typing import Optional

import numpy as np
import pytest

from tests.helpers import wait_until
from kiosk.camera.capture import OFFLINE_TEXT, CaptureThread, LatestSlot, as_bgr_frame
from kiosk.camera.demo_feed import DemoFeed
from kiosk.camera.frame_source import FrameSource, SourceEnded, SourceUnavailable


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


class SilentCamera(UnpluggableCamera):
    """Opens fine but sends no frame while ``silent`` is set: a frozen camera or stream."""

    def __init__(self) -> None:
        super().__init__()
        self.silent = threading.Event()

    def read(self) -> Optional[np.ndarray]:
        if self.silent.is_set():
            threading.Event().wait(0.005)
            return None
        return super().read()


def test_a_camera_that_opens_but_sends_nothing_stays_offline_until_a_frame_comes():
    camera = SilentCamera()
    slot = LatestSlot()
    capture = CaptureThread(camera, slot, offline_after_s=0.3, reconnect_max_s=1.0)
    capture.start()
    try:
        assert slot.get(timeout=5) is not None and capture.status.state == "live"
        camera.silent.set()
        assert wait_until(lambda: capture.status.state == "offline")
        opens = camera.opens
        states = set()
        assert not wait_until(lambda: states.add(capture.status.state) or False, timeout=1.5)
        assert camera.opens > opens  # it reopened the camera, and did not call that live
        assert states == {"offline"} and capture.status.text == OFFLINE_TEXT
        camera.silent.clear()
        assert wait_until(lambda: capture.status.state == "live")
    finally:
        capture.stop()


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


# --- long outages, played in simulated time ---------------------------------------------------

class SimulatedTime:
    """A clock that only moves when the capture thread waits (or a frame takes its time)."""

    def __init__(self) -> None:
        self.now = 0.0
        self.waits = 0

    def clock(self) -> float:
        return self.now

    def wait(self, seconds: float) -> bool:
        self.waits += 1
        self.now += max(0.0, seconds)
        return False  # never stopped: the source ends the run


class CameraWithOutage(FrameSource):
    """A live camera at 30 fps that stops answering from ``lost_at`` until ``back_at`` (simulated
    seconds). ``cheap_probe``: it can tell it is gone without being opened (a device node, a
    closed port); otherwise it has the default probe and can only be told by opening it."""

    label = "Camera 9"
    frame_s = 1 / 30

    def __init__(self, time: SimulatedTime, lost_at: float, back_at: float, cheap_probe: bool) -> None:
        self.time, self.lost_at, self.back_at = time, lost_at, back_at
        self.cheap_probe = cheap_probe
        self.opened = False
        self.opens: list[float] = []  # when each open was tried
        self.first_frame_back: Optional[float] = None

    def answers(self) -> bool:
        return not self.lost_at <= self.time.now < self.back_at

    @property
    def is_open(self) -> bool:
        return self.opened

    def open(self) -> None:
        self.opens.append(self.time.now)
        if not self.answers():
            raise SourceUnavailable(self.unavailable_text())
        self.opened = True

    def read(self) -> Optional[np.ndarray]:
        if self.first_frame_back is not None:
            raise SourceEnded("measured")  # ends the capture thread's run
        self.time.now += self.frame_s  # a camera hands out a frame per frame period
        if not self.answers():
            return None
        if self.time.now >= self.back_at:
            self.first_frame_back = self.time.now
        return np.zeros((48, 64, 3), np.uint8)

    def probe(self) -> bool:
        return self.answers() if self.cheap_probe else super().probe()

    def close(self) -> None:
        self.opened = False


def play_outage(outage_s: float, cheap_probe: bool) -> tuple[CameraWithOutage, CaptureThread, SimulatedTime]:
    time = SimulatedTime()
    camera = CameraWithOutage(time, lost_at=5.0, back_at=5.0 + outage_s, cheap_probe=cheap_probe)
    capture = CaptureThread(camera, LatestSlot(), offline_after_s=3.0, reconnect_max_s=30.0,
                            clock=time.clock, wait=time.wait)
    capture.start()
    capture._thread.join(10)
    assert capture.finished and camera.first_frame_back is not None
    return camera, capture, time


@pytest.mark.parametrize("cheap_probe", [True, False], ids=["cheap-probe", "default-probe"])
@pytest.mark.parametrize("outage_s", [10, 90, 600])
def test_frames_flow_within_10_s_of_the_camera_return_whatever_the_outage(outage_s, cheap_probe):
    camera, capture, time = play_outage(outage_s, cheap_probe)
    back_after = camera.first_frame_back - camera.back_at
    assert back_after <= 10.0, f"first frame {back_after:.1f} s after the camera came back"
    assert capture.status.state == "ended" and capture.reconnects == 1
    # never a spin: one wait at most every 2 s while the camera is closed
    opens_in_outage = [t for t in camera.opens if camera.lost_at <= t < camera.back_at]
    assert capture.probes <= outage_s / 2 + 1
    if cheap_probe:  # it is opened only on the doubling backoff (capped at 30 s) until it answers a probe
        assert len(opens_in_outage) <= 7 + outage_s / 30
        assert back_after <= 2.5
    else:  # it is opened every 2 s at most
        assert len(opens_in_outage) <= outage_s / 2 + 2
        gaps = [b - a for a, b in zip(opens_in_outage, opens_in_outage[1:])]
        assert min(gaps) >= 0.5 and max(gaps) <= 2.0 + 1e-9


def test_a_failing_probe_counts_as_not_back_yet():
    time = SimulatedTime()
    camera = CameraWithOutage(time, lost_at=5.0, back_at=95.0, cheap_probe=True)
    camera.probe = lambda: (_ for _ in ()).throw(OSError("probe broke"))  # type: ignore[method-assign]
    capture = CaptureThread(camera, LatestSlot(), offline_after_s=3.0, reconnect_max_s=30.0,
                            clock=time.clock, wait=time.wait)
    capture.start()
    capture._thread.join(10)
    assert camera.first_frame_back is not None  # the backoff alone still brings it back (within 30 s)
    assert camera.first_frame_back - camera.back_at <= 30.0 + 1


# --- the cheap signs of life of real sources ----------------------------------------------

def test_a_stream_is_probed_by_connecting_to_its_port():
    from kiosk.camera.sources import StreamSource
    from tools.loopback_smtp import free_port

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        assert StreamSource(f"rtsp://user:secret@127.0.0.1:{port}/door").probe()
        assert StreamSource(f"http://127.0.0.1:{port}/stream.mjpg").probe()
    assert not StreamSource(f"http://127.0.0.1:{free_port()}/stream.mjpg").probe()  # nobody listens
    assert StreamSource("udp://127.0.0.1:5000").probe()  # cannot tell: try opening it
    assert StreamSource("rtsp://127.0.0.1:notaport/x").probe()


def test_a_camera_without_its_device_node_is_certainly_not_back():
    from kiosk.camera.sources import CameraSource

    if not sys.platform.startswith("linux"):
        pytest.skip("device nodes are a Linux thing")
    assert not CameraSource(99, 640, 480).probe()
