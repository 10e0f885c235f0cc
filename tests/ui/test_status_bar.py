"""The status bar in a real kiosk window under Xvfb: a clock with the date, long source names
shortened so no field overlaps or clips another, email fields only when email is on, and fonts
that grow with the window."""

from __future__ import annotations

import time
from datetime import datetime

import pytest
from tests.helpers.ui import kiosk, pump  # noqa: F401  (kiosk is a fixture)

from kiosk.ui.status_bar import ELLIPSIS, StatusBar, StatusInfo, elide
from tools.measure_window import write_door_video

LONG_NAME = "rtsp://camera-" + "x" * 153 + "/entrance/stream-main-door-42.sdp"  # 200 characters


def settle(root, seconds: float = 0.3) -> None:
    pump(root, lambda: False, seconds)


def shown_widgets(bar: StatusBar) -> dict[str, object]:
    return {"state": bar._state_chip, "clock": bar.clock, "date": bar.date,
            **{name: bar.labels[name] for name in bar.FIELDS if bar.is_shown(name)}}


def assert_no_overlap_or_clipping(bar: StatusBar) -> None:
    """Every shown label has the width its text asks for, lies inside the bar, and no two
    labels' rectangles (window coordinates, from winfo_rootx/rooty/width/height) intersect."""
    boxes = {}
    for name, label in shown_widgets(bar).items():
        assert label.winfo_width() >= label.winfo_reqwidth(), f"{name} is clipped: {label.cget('text')!r}"
        left, top = label.winfo_rootx(), label.winfo_rooty()
        boxes[name] = (left, top, left + label.winfo_width(), top + label.winfo_height())
        assert bar.winfo_rootx() <= left and boxes[name][2] <= bar.winfo_rootx() + bar.winfo_width(), \
            f"{name} runs off the bar"
    names = sorted(boxes)
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            (al, at, ar, ab), (bl, bt, br, bb) = boxes[a], boxes[b]
            assert ar <= bl or br <= al or ab <= bt or bb <= at, f"{a} {boxes[a]} overlaps {b} {boxes[b]}"


def test_clock_shows_the_time_and_date_and_ticks(kiosk):
    window = kiosk("demo")
    bar, root = window.status_bar, window.root
    settle(root)
    assert bar.text_of("clock") == datetime.now().strftime("%H:%M:%S") or \
        pump(root, lambda: bar.text_of("clock") == datetime.now().strftime("%H:%M:%S"), 1.5)
    assert bar.text_of("date") == datetime.now().strftime("%Y-%m-%d")
    first = bar.text_of("clock")
    assert pump(root, lambda: bar.text_of("clock") != first, 2.5), "the clock did not tick"
    assert bar.clock.winfo_ismapped() and bar.date.winfo_ismapped()


@pytest.mark.parametrize("geometry", ["800x480", "1920x1080", "520x600"])
def test_a_200_character_source_name_is_shortened_and_no_field_overlaps(kiosk, tmp_path, geometry):
    name = "entrance-camera-" + "x" * 170 + "-main-door.mp4"  # the file name is the source's label
    assert len(name) == 200
    video = write_door_video(tmp_path / name, [("masked", 2.0)])
    window = kiosk(str(video))
    root, bar = window.root, window.status_bar
    root.geometry(geometry)
    assert pump(root, lambda: bar.text_of("source") == name, 10.0), bar.text_of("source")
    settle(root)
    shown = bar.shown_text("source")
    assert shown and ELLIPSIS in shown and len(shown) < len(name), shown
    assert shown.startswith("entr") and shown.endswith(".mp4")  # the middle is cut: both ends still say what it is
    assert_no_overlap_or_clipping(bar)


@pytest.mark.parametrize("width", [480, 800, 1920])
def test_every_field_at_once_fits_without_overlap(x_display, width):
    import tkinter as tk

    root = tk.Tk()
    try:
        root.geometry(f"{width}x300")
        bar = StatusBar(root, email_enabled=True)
        bar.pack(side="bottom", fill="x")
        bar.show(StatusInfo(source_label=LONG_NAME, source_state="offline", status_text="Camera offline — reconnecting",
                            display_fps=24.9, analysis_fps=25.0, model_name="mask_classifier.tflite (2026-11-30) · blazeface",
                            granted_today=1234, denied_today=56, outbox_pending=3, last_email_error="refused " * 20,
                            last_storage_error="disk full: " + "y" * 120))
        settle(root)
        assert bar.is_shown("storage_error") and bar.shown_text("storage_error").startswith("event log error")
        assert bar.is_shown("email_error")  # errors are shortened, never hidden
        assert_no_overlap_or_clipping(bar)
    finally:
        root.destroy()


def test_email_fields_are_hidden_when_email_is_off(kiosk):
    window = kiosk("demo")  # measurement_config turns email off
    root, bar = window.root, window.status_bar
    assert not window.cfg.email.enabled
    settle(root)
    bar.show(StatusInfo(source_label="demo", source_state="demo", outbox_pending=2, last_email_error="refused"))
    settle(root)
    assert not bar.is_shown("outbox") and not bar.is_shown("email_error")
    assert bar.text_of("outbox") == "" and bar.text_of("email_error") == ""


def test_email_fields_are_shown_when_email_is_on(x_display):
    import tkinter as tk

    root = tk.Tk()
    try:
        root.geometry("1200x200")
        bar = StatusBar(root, email_enabled=True)
        bar.pack(side="bottom", fill="x")
        bar.show(StatusInfo(source_label="camera 0", source_state="live", outbox_pending=2, last_email_error="refused"))
        settle(root)
        assert bar.shown_text("outbox") == "email outbox: 2 pending"
        assert bar.shown_text("email_error") == "last email error: refused"
        assert_no_overlap_or_clipping(bar)
    finally:
        root.destroy()


def test_fonts_grow_with_the_window(kiosk):
    window = kiosk("demo")
    root, bar = window.root, window.status_bar
    sizes = {}
    for geometry in ("800x480", "1920x1080"):
        root.geometry(geometry)
        settle(root)
        sizes[geometry] = (bar.labels["today"].winfo_height(), bar.clock.winfo_height())
    assert sizes["800x480"][0] >= 20  # 20 px type at 800 px: readable from a metre
    assert sizes["1920x1080"][0] > sizes["800x480"][0] and sizes["1920x1080"][1] > sizes["800x480"][1], sizes


@pytest.mark.parametrize("text, width, where, expected", [
    ("short", 100, "middle", "short"),
    ("abcdefghij", 7, "middle", "abc…hij"),
    ("abcdefghij", 7, "end", "abcdef…"),
    ("abcdefghij", 3, "middle", ""),  # not even MIN_KEPT_CHARS and the ellipsis: hidden
])
def test_elide_by_character_count(text, width, where, expected):
    assert elide(text, lambda t: len(t) <= width, where) == expected


def test_clock_timer_stops_with_the_bar(x_display):
    import tkinter as tk

    root = tk.Tk()
    try:
        bar = StatusBar(root)
        bar.pack()
        root.update()
        job = bar._clock_job
        assert job is not None
        bar.destroy()
        root.update()
        assert bar._clock_job is None
        assert job not in root.tk.call("after", "info")
    finally:
        time.sleep(0)
        root.destroy()
