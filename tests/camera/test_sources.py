"""Frame sources with real files, a camera index that does not exist, and the demo feed."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import cv2
import numpy as np
import pytest

from kiosk.camera.capture import ENDED_TEXT, CaptureThread, LatestSlot
from kiosk.config import CameraSection, Config
from kiosk.camera.demo_feed import LOOP_SECONDS, PHASES, DemoFeed
from kiosk.errors import KioskError
from kiosk.records import SOURCE_KINDS
from kiosk.vision.model_spec import WITH_MASK, WITHOUT_MASK
from kiosk.camera.sources import (
    DEMO_FALLBACK_TEXT,
    IMAGE_GAP_S,
    IMAGE_SLIDE_S,
    CameraSource,
    ImageFolderSource,
    SourceEnded,
    SourceUnavailable,
    StreamSource,
    VideoFileSource,
    make_source,
    open_source,
    parse_source,
)
from kiosk.camera.video_io import VideoWriter
from tests.helpers import wait_until

MISSING_CAMERA = 99


def config(**camera) -> Config:
    return dataclasses.replace(Config(), camera=dataclasses.replace(CameraSection(), **camera))


def write_video(path: Path, frames: list[np.ndarray], fps: float = 25.0) -> Path:
    with VideoWriter(path, fps) as writer:
        for frame in frames:
            writer.write(frame)
        return writer.path


def numbered_frames(count: int) -> list[np.ndarray]:
    """Frames whose brightness says which one they are (survives lossy compression)."""
    return [np.full((120, 160, 3), 20 + 8 * i, np.uint8) for i in range(count)]


# --- video files ----------------------------------------------------------------------------

def test_video_file_plays_every_frame_then_ends_without_crashing(tmp_path):
    path = write_video(tmp_path / "clip.mp4", numbered_frames(20))
    source = open_source(config(source=str(path)))
    assert isinstance(source, VideoFileSource) and source.fps == pytest.approx(25.0)
    slot = LatestSlot()
    capture = CaptureThread(source, slot, offline_after_s=1.0, reconnect_max_s=1.0, lossless=True)
    capture.start()
    seen = []
    while len(seen) < 20:
        item = slot.get(timeout=5)
        assert item is not None, f"stalled after {len(seen)} frames"
        seen.append(item)
    assert wait_until(lambda: capture.finished)
    assert capture.status.state == "ended" and capture.status.text == ENDED_TEXT
    assert [item.index for item in seen] == list(range(20))
    assert [item.timestamp for item in seen] == pytest.approx([i / 25.0 for i in range(20)])
    brightness = [int(item.image.mean()) for item in seen]
    assert brightness == sorted(brightness)  # in order, none skipped twice
    capture.stop()


def test_looping_video_starts_again(tmp_path):
    path = write_video(tmp_path / "clip.mp4", numbered_frames(5))
    source = VideoFileSource(path, loop=True)
    source.open()
    frames = [source.read() for _ in range(12)]
    assert all(f is not None for f in frames)
    assert abs(int(frames[5].mean()) - int(frames[0].mean())) <= 2
    source.close()


def test_video_file_without_loop_raises_ended(tmp_path):
    source = VideoFileSource(write_video(tmp_path / "clip.mp4", numbered_frames(3)), loop=False)
    source.open()
    for _ in range(3):
        assert source.read() is not None
    with pytest.raises(SourceEnded):
        source.read()


def test_missing_or_broken_video_file_is_a_one_line_error(tmp_path):
    with pytest.raises(KioskError, match="no such file"):
        open_source(config(source=str(tmp_path / "nope.mp4")))
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"this is not a video" * 100)
    with pytest.raises(KioskError) as info:
        open_source(config(source=str(broken)))
    assert "broken.mp4" in str(info.value) and "\n" not in str(info.value)


# --- cameras and streams --------------------------------------------------------------------

def test_missing_camera_index_goes_offline_and_keeps_retrying():
    source = open_source(config(source=MISSING_CAMERA))
    assert isinstance(source, CameraSource) and not source.is_open
    capture = CaptureThread(source, LatestSlot(), offline_after_s=0.5, reconnect_max_s=1.0)
    capture.start()
    try:
        assert wait_until(lambda: capture.connect_attempts >= 3)  # 0.5 s, then 1 s backoff
        assert capture.status.state == "offline"
        assert capture.status.text == f"Camera {MISSING_CAMERA} not available — retrying"
        assert not capture.finished
    finally:
        capture.stop()


def test_missing_default_camera_falls_back_to_the_demo_and_says_so():
    camera = CameraSource(0, 640, 480)
    try:
        camera.open()
        camera.close()
        pytest.skip("this machine has a camera 0")
    except SourceUnavailable:
        pass
    source = open_source(config(source=0, width=320, height=240))
    assert isinstance(source, DemoFeed)
    assert source.status_text == DEMO_FALLBACK_TEXT and source.live_state == "demo"
    assert source.read().shape == (240, 320, 3)
    # asked for explicitly, or with the fallback off: offline and retrying instead
    assert isinstance(open_source(config(source=0), explicit=True), CameraSource)
    assert isinstance(open_source(config(source=0, fallback_to_demo=False)), CameraSource)


def test_unreachable_stream_is_offline_and_hides_credentials():
    source = open_source(config(source="rtsp://admin:secret@127.0.0.1:9/stream"))
    assert isinstance(source, StreamSource) and not source.is_open
    assert source.label == "rtsp://127.0.0.1:9/stream"
    assert "secret" not in source.unavailable_text()


def test_command_line_numbers_are_camera_indexes():
    assert parse_source("2") == 2 and parse_source(" 0 ") == 0
    assert parse_source("demo") == "demo" and parse_source("clip.mp4") == "clip.mp4"


def test_every_source_says_what_kind_it_is(tmp_path):
    """The kind each event records: a demo is never taken for a real door, a replay never for a camera."""
    (tmp_path / "pictures").mkdir()
    video = write_video(tmp_path / "clip.mp4", numbered_frames(3))
    kinds = {value: make_source(value, Config()).kind
             for value in (3, "rtsp://cam.example/live", str(video), str(tmp_path / "pictures"), "demo", "DEMO")}
    assert kinds == {3: "camera", "rtsp://cam.example/live": "stream", str(video): "file",
                     str(tmp_path / "pictures"): "folder", "demo": "demo", "DEMO": "demo"}
    assert set(kinds.values()) == set(SOURCE_KINDS)
    fallback = open_source(config(source=MISSING_CAMERA, fallback_to_demo=True))
    assert fallback.kind == "camera"  # a named camera that is missing stays the camera, never the demo


# --- image folders --------------------------------------------------------------------------

def test_image_folder_is_a_slideshow_that_skips_unreadable_pictures(tmp_path, portrait, masked_portrait):
    folder = tmp_path / "pictures"
    (folder / "sub").mkdir(parents=True)
    cv2.imwrite(str(folder / "a.png"), portrait)
    (folder / "b.jpg").write_bytes(b"not a jpeg")
    cv2.imwrite(str(folder / "sub" / "c.png"), masked_portrait)
    source = open_source(config(source=str(folder)))
    assert isinstance(source, ImageFolderSource)
    shown, gap = round(IMAGE_SLIDE_S * source.fps), round(IMAGE_GAP_S * source.fps)
    per_picture = shown + gap
    frames = []
    with pytest.raises(SourceEnded):
        while True:
            frames.append(source.read())
    assert len(frames) == 3 * per_picture
    assert all(np.array_equal(f, portrait) for f in frames[:shown])
    # then nobody for a moment: the next picture is the next person
    assert all(f.shape == portrait.shape and f.std() == 0 for f in frames[shown:per_picture])
    # the broken one: the empty frame, so the picture before is not seen (and decided) twice
    assert all(f.shape == portrait.shape and f.std() == 0 for f in frames[per_picture: 2 * per_picture])
    assert all(np.array_equal(f, masked_portrait) for f in frames[2 * per_picture: 2 * per_picture + shown])


def test_empty_image_folder_is_a_one_line_error(tmp_path):
    with pytest.raises(KioskError, match="has no images"):
        open_source(config(source=str(tmp_path)))


# --- the demo feed --------------------------------------------------------------------------

def test_demo_feed_frames_have_the_configured_size_and_loop():
    demo = open_source(config(source="demo", width=640, height=480))
    assert isinstance(demo, DemoFeed) and demo.live_state == "demo"
    first = demo.read()
    assert first.shape == (480, 640, 3) and first.dtype == np.uint8
    loop_frames = round(LOOP_SECONDS * demo.fps)
    assert np.array_equal(demo.frame_at(loop_frames), demo.frame_at(0))
    assert np.array_equal(demo.frame_at(7), demo.frame_at(7))  # reproducible


def iou(a, b) -> float:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    w = max(0, min(ax + aw, bx + bw) - max(ax, bx))
    h = max(0, min(ay + ah, by + bh) - max(ay, by))
    return w * h / float(aw * ah + bw * bh - w * h)


def test_demo_feed_shows_the_person_unmasked_then_masked(model_dir):
    """The kiosk's real pipeline (default detector, trained model) on the demo: no mask first, then a mask."""
    from kiosk.vision.classifier import MaskClassifier
    from kiosk.vision.pipeline import FrameAnalyzer
    from kiosk.vision.detection import build_detector

    demo = DemoFeed(size=(640, 480))
    analyzer = FrameAnalyzer(build_detector(Config().detection), MaskClassifier(model_dir))
    seen: dict[str, list[str]] = {}
    for index in range(0, round(LOOP_SECONDS * demo.fps), 10):
        phase, box = demo.layout(index)
        if box is None:
            assert phase.name == "empty" and analyzer.analyze(demo.frame_at(index)) == []
            continue
        assert box[2] >= 180, "the face should be large, like at a door"
        if phase.name in ("unmasked", "masked"):
            (face,) = analyzer.analyze(demo.frame_at(index))
            assert iou(face.box, box) > 0.5
            seen.setdefault(phase.name, []).append(face.label)
    assert set(seen) == {"unmasked", "masked"}
    assert set(seen["unmasked"]) == {WITHOUT_MASK}
    assert set(seen["masked"]) == {WITH_MASK}
    assert PHASES[0].name == "empty"  # the loop starts with nobody there (WAITING)
