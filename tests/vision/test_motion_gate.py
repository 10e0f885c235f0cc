"""The motion gate of live video: an empty, unchanging doorway is not rescanned every frame,
and a person who steps in is still scanned on the very first frame they appear in."""

from __future__ import annotations

import numpy as np

from kiosk.config import Config, load_config
from kiosk.vision.detection import build_detector
from kiosk.vision.detection.motion import MotionGatedDetector
from kiosk.vision.detection.tracking import RegionTrackingDetector
from kiosk.vision.pipeline import build_analyzer
from tools.bench import textured_background
from kiosk.camera.synthetic import camera_noise, load_portrait, place_on_canvas
from tools.measure_window import sway


class CountingDetector:
    """The real tuned Haar detector, counting the frames it was asked to scan."""

    def __init__(self) -> None:
        self.detector = build_detector(Config().detection)
        self.name = self.detector.name
        self.calls = 0

    def detect(self, frame):
        self.calls += 1
        return self.detector.detect(frame)


def test_an_empty_noisy_doorway_is_scanned_every_nth_frame_only():
    inner, rng = CountingDetector(), np.random.default_rng(0)
    gate = MotionGatedDetector(inner, rescan_every=5)
    base = textured_background()
    assert all(gate.detect(camera_noise(base, rng)) == [] for _ in range(50))
    assert inner.calls == 10  # frames 1, 6, 11, ...: camera noise alone never counts as a change
    assert gate.skipped_frames == 40


def test_a_person_stepping_in_is_scanned_and_found_on_the_first_frame():
    inner, rng = CountingDetector(), np.random.default_rng(0)
    gate = MotionGatedDetector(inner, rescan_every=30)
    base = textured_background()
    for _ in range(7):
        gate.detect(camera_noise(base, rng))
    assert inner.calls == 1
    person, _, _ = place_on_canvas(load_portrait(), scale=0.6)
    assert len(gate.detect(camera_noise(person, rng))) == 1
    assert inner.calls == 2


def test_every_frame_is_scanned_while_someone_is_in_view():
    inner = CountingDetector()
    gate = MotionGatedDetector(inner, rescan_every=30)
    person, _, _ = place_on_canvas(load_portrait(), scale=0.6)
    found = [len(gate.detect(sway(person, i))) for i in range(12)]
    assert found == [1] * 12
    assert inner.calls == 12


def test_a_change_of_light_is_a_change():
    inner, rng = CountingDetector(), np.random.default_rng(0)
    gate = MotionGatedDetector(inner, rescan_every=30)
    base = textured_background()
    gate.detect(camera_noise(base, rng))
    gate.detect(camera_noise(base, rng))
    gate.detect(camera_noise(base.astype(np.float32) + 25, rng))  # the lights come on
    assert inner.calls == 2


def test_the_live_kiosk_gets_the_gate_unless_the_config_turns_it_off(tmp_path):
    live = build_analyzer(Config(), video=True).detector
    assert isinstance(live, MotionGatedDetector) and live.rescan_every == 10
    assert not isinstance(build_analyzer(Config()).detector, MotionGatedDetector)  # photos
    config = tmp_path / "kiosk.toml"
    config.write_text("[detection]\nidle_rescan_every = 1\n")
    assert isinstance(build_analyzer(load_config(config), video=True).detector, RegionTrackingDetector)


class RegionScansNeverConfirm:
    """The real detector on whole 640x480 frames, and nothing in the smaller region views: a real
    face that region scans cannot confirm (BlazeFace does this to about 1 face in 30 of held-out
    door views, found by the whole-frame scan at a score it does not reach in the region)."""

    def __init__(self) -> None:
        self.real = CountingDetector()
        self.name = "blazeface+unconfirmable"

    def detect(self, frame):
        return self.real.detect(frame) if frame.shape[:2] == (480, 640) else []


def test_a_face_the_region_scans_cannot_confirm_is_not_gated_away_on_a_still_picture():
    """The tracker drops such a face after each whole-frame scan; the gate must not take that
    empty answer for an empty doorway, or the face is seen once every ``rescan_every`` frames,
    too rarely for a decision before the visitor counts as gone."""
    gate = MotionGatedDetector(RegionTrackingDetector(RegionScansNeverConfirm(), full_scan_every=20), rescan_every=10)
    person, _, _ = place_on_canvas(load_portrait(), scale=0.6)
    found = [len(gate.detect(person)) for _ in range(20)]
    assert found == [1, 0] * 10  # a whole-frame scan on every other frame finds the face again
