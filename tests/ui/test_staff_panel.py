"""Staff alerts on real denials: a list of recent denials beside the visitor's area, newest
first, each with its own face, time and label; dismissed one by one or all at once by real
(generated) mouse clicks. Real window under Xvfb, real model and runtime, a generated video of
two different people without a mask as the camera."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import cv2
import numpy as np
import pytest
from tests.helpers.ui import kiosk, pump, screenshot, toplevels, xdotool  # noqa: F401  (kiosk is a fixture)

from kiosk.camera.synthetic import load_portrait, place_on_canvas
from kiosk.camera.video_io import VideoWriter
from kiosk.door.decision import NO_FACE
from kiosk.records import DecisionEvent
from kiosk.ui.staff_panel import MAX_DENIALS, face_crop, square_thumbnail
from tools.measure_window import CLEAN_FPS, door_frame, write_door_video

STRANGERS_DEADLINE_S = 20.0


def second_stranger() -> np.ndarray:
    """Someone else at the door: the portrait mirrored, in black and white, nearer the camera and
    to the left. Its thumbnail looks nothing like the first visitor's."""
    gray = cv2.cvtColor(cv2.flip(load_portrait(), 1), cv2.COLOR_BGR2GRAY)
    frame, _, _ = place_on_canvas(cv2.cvtColor(gray, cv2.COLOR_GRAY2BGR), scale=0.85, offset=(-90, 0), background=140)
    return frame


def write_two_strangers_video(path: Path, masked_visit_s: float = 0.0) -> Path:
    """Nobody, stranger one (no mask), nobody, stranger two (no mask), nobody[, a masked visitor]."""
    segments = [(door_frame("empty"), 1.0), (door_frame("unmasked"), 1.6), (door_frame("empty"), 2.4),
                (second_stranger(), 1.6), (door_frame("empty"), 2.4)]
    if masked_visit_s:
        segments.append((door_frame("masked"), masked_visit_s))
    with VideoWriter(path, fps=CLEAN_FPS) as writer:
        for frame, seconds in segments:
            for _ in range(round(seconds * CLEAN_FPS)):
                writer.write(frame)
    return writer.path


def click(widget) -> None:
    x = widget.winfo_rootx() + widget.winfo_width() // 2
    y = widget.winfo_rooty() + widget.winfo_height() // 2
    xdotool("mousemove", str(x), str(y), "click", "1")


def thumbnail_pixels(row) -> np.ndarray:
    from PIL import ImageTk

    return np.asarray(ImageTk.getimage(row.photo).convert("RGB")).astype(int)


def rectangle(widget) -> tuple[int, int, int, int]:
    left, top = widget.winfo_rootx(), widget.winfo_rooty()
    return left, top, left + widget.winfo_width(), top + widget.winfo_height()


def assert_beside_not_over(panel, *visitor_widgets) -> None:
    """The panel lies to the right of the live view and the banner; no rectangle intersects."""
    pl, pt, pr, pb = rectangle(panel)
    for widget in visitor_widgets:
        left, top, right, bottom = rectangle(widget)
        assert right <= pl, f"{widget} ({left}-{right}) reaches under the staff panel ({pl}-{pr})"
        assert widget.winfo_ismapped() and widget.winfo_width() > 100


def test_two_denials_two_faces_dismiss_one_then_all(kiosk, tmp_path, artifacts_dir):
    video = write_two_strangers_video(tmp_path / "two_strangers.mp4")
    window = kiosk(str(video), **{"camera.loop": False})
    root, panel = window.root, window.staff
    assert panel is not None and panel.window is None  # the default: a panel in the main window

    assert pump(root, lambda: len(panel.denials) >= 2, STRANGERS_DEADLINE_S), \
        f"{window.decisions_seen} decisions, {len(panel.denials)} listed"
    root.update()
    newest, oldest = panel.denials[:2]
    assert newest.time >= oldest.time and newest.id > oldest.id  # newest first
    for denial in (newest, oldest):
        assert denial.decision in ("denied", "uncertain") and denial.face is not None
    assert panel.title_text == "⚠ 2 denials"
    # each row shows its own face: the black-and-white second visitor, the colour first one
    top, second = thumbnail_pixels(panel.row(0)), thumbnail_pixels(panel.row(1))
    assert top.shape == second.shape and top.shape[0] >= 64
    middle = slice(top.shape[0] // 4, top.shape[0] * 3 // 4)  # the face, not the square's padding
    colourfulness = [float(np.abs(t[middle, middle, 0] - t[middle, middle, 2]).mean()) for t in (top, second)]
    assert colourfulness[0] < 3 < colourfulness[1], colourfulness
    assert float(np.abs(top - second).mean()) > 20
    for index, denial in enumerate((newest, oldest)):
        row = panel.row(index)
        assert row.time_label.cget("text") == denial.time.strftime("%H:%M:%S")
        assert "No Mask" in row.text_label.cget("text") or "UNCERTAIN" in row.text_label.cget("text")
    # the visitor's area is never covered: no window over it, the panel beside it
    assert toplevels(root) == []
    assert_beside_not_over(panel, window.video.canvas, window.banner)
    screenshot(artifacts_dir / "kiosk_staff_panel_two_denials.png")

    click(panel.row(1).dismiss_button)  # the older one
    assert pump(root, lambda: len(panel.denials) == 1, 5.0), "the click did not dismiss the row"
    assert panel.denials[0].id == newest.id and panel.title_text == "⚠ 1 denial"
    click(panel.dismiss_all_button)
    assert pump(root, lambda: panel.denials == [], 5.0), "Dismiss all did not clear the list"
    assert panel.title_text == "Staff · denials" and panel.empty_label.winfo_ismapped()
    assert str(panel.dismiss_all_button.cget("state")) == "disabled"
    assert not window.closed and not window.fullscreen  # the clicks went to the panel, not the kiosk's keys


def denial(frame: np.ndarray, box, decision: str = "denied", second: int = 0) -> DecisionEvent:
    return DecisionEvent(time=datetime(2026, 11, 30, 9, 15, second).astimezone(), kiosk_id="front-door",
                         decision=decision, label="without_mask", score=0.97, faces=1, box=box, frame=frame)


def test_privacy_mode_lists_denials_without_faces(kiosk):
    window = kiosk("demo", **{"storage.privacy": True})
    frame = door_frame("unmasked")
    window.handle_decision(denial(frame, (250, 120, 140, 140)))
    window.handle_decision(denial(frame, (250, 120, 140, 140), "uncertain", 5))
    window.root.update()
    panel = window.staff
    assert [d.decision for d in panel.denials] == ["uncertain", "denied"]
    assert all(d.face is None for d in panel.denials)  # no face kept, not even in memory
    row = panel.row(0)
    assert row.thumbnail.cget("text") == "privacy"
    pixels = np.asarray(row.photo.get(row.photo.width() // 2, row.photo.height() // 2))
    assert tuple(int(v) for v in pixels) == (0x45, 0x5a, 0x64)  # a plain square, nobody's face
    assert "UNCERTAIN" in row.text_label.cget("text")


def test_a_visitor_whose_face_is_never_found_is_asked_to_look_then_listed_as_no_face_seen(kiosk, tmp_path,
                                                                                          artifacts_dir):
    """A person carrying a parcel before the face (a video OpenCV wrote): the banner asks them to
    look at the camera, then says the mask was not confirmed, and the staff see the whole picture."""
    video = write_door_video(tmp_path / "parcel.mp4", [("empty", 1.0), ("faceless", 6.0)], swaying=True)
    window = kiosk(str(video), **{"camera.loop": False})
    root, panel = window.root, window.staff
    seen = []
    assert pump(root, lambda: window.banner.state == "uncertain", 15.0,
                every=lambda: seen.append(window.banner.text)), window.banner.text
    assert any("Please look at the camera" in text for text in seen), set(seen)  # asked first, while checking
    root.update()
    assert [d.decision for d in panel.denials] == ["uncertain"] and panel.denials[0].label == NO_FACE
    row = panel.row(0)
    assert row.text_label.cget("text").splitlines()[-1] == "No face seen"  # no made-up score
    face = panel.denials[0].face
    assert face is not None and face.shape[1] / face.shape[0] == pytest.approx(640 / 480, abs=0.02)  # the whole view
    screenshot(artifacts_dir / "kiosk_no_face_seen.png")


def test_staff_display_window_lists_denials_in_a_window_of_its_own(kiosk):
    window = kiosk("demo", **{"ui.staff_display": "window", "ui.staff_window_geometry": "420x600+850+0"})
    root, panel = window.root, window.staff
    assert panel is not None and panel.window is not None
    assert toplevels(root) == [panel.window]
    assert panel.window.title() == "Staff — denials at front-door"
    window.handle_decision(denial(door_frame("unmasked"), (250, 120, 140, 140)))
    assert pump(root, lambda: panel.window.winfo_ismapped() and panel.window.winfo_x() >= 850, 3.0), \
        panel.window.geometry()
    assert len(panel.denials) == 1 and panel.row(0).photo is not None
    assert window.video.canvas.winfo_width() + window.banner.winfo_width() > 0
    assert root.winfo_width() == window.banner.winfo_width()  # the visitor's area has the whole main window
    window.close()  # the staff window goes with the kiosk
    assert window.closed


@pytest.mark.parametrize("overrides", [{"ui.staff_display": "off"}, {"ui.popup": False}])
def test_staff_alerts_can_be_turned_off(kiosk, tmp_path, overrides):
    video = write_door_video_one_visit(tmp_path)
    window = kiosk(str(video), **overrides)
    assert pump(window.root, lambda: window.banner.state == "denied", 10.0), window.banner.text
    window.root.update()
    assert window.staff is None and toplevels(window.root) == []
    assert window.decisions_seen == 1
    assert window.banner.winfo_width() == window.root.winfo_width()  # no panel: the visitor's area is the window


def write_door_video_one_visit(tmp_path: Path) -> Path:
    from tools.measure_window import write_door_video

    return write_door_video(tmp_path / "visit.mp4", [("unmasked", 2.0)])


def test_the_list_keeps_the_newest_and_scrolls(kiosk):
    window = kiosk("demo")
    panel = window.staff
    frame = door_frame("unmasked")
    for i in range(MAX_DENIALS + 3):
        window.handle_decision(denial(frame, (250, 120, 140, 140), second=i % 60))
    window.root.update()
    assert len(panel.denials) == MAX_DENIALS
    assert panel.denials[0].id == MAX_DENIALS + 3  # the newest on top, the three oldest left the list
    assert panel._scrollbar.winfo_ismapped()  # fifty rows do not fit: they scroll
    assert toplevels(window.root) == []


def test_thumbnail_is_the_face_of_the_event_in_a_square():
    frame = door_frame("unmasked")
    event = denial(frame, (250, 120, 140, 140))
    face = face_crop(event)
    assert face is not None and max(face.shape[:2]) <= 160
    square = square_thumbnail(face, 90)
    assert square.shape == (90, 90, 3)
    assert face_crop(denial(None, (0, 0, 10, 10))) is None  # no frame (privacy, a health event): no face
    assert face_crop(denial(frame, (5000, 5000, 10, 10))) is None  # a box outside the frame
