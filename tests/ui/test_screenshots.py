"""Screenshots of every door state at a small kiosk screen (800x480) and a full-HD one (1920x1080),
for a person to look at: waiting, checking, granted, and denied with two denials in the staff
panel. The window runs on an X server of its own, as large as the larger screen (tests/ui/conftest.py); each PNG is cut
to the window and saved under test-artifacts/. Checked here: nothing of the visitor's area is
covered, the banner's words and the status bar's fields fit their widgets."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from tests.helpers.ui import kiosk, pump  # noqa: F401  (kiosk is a fixture)
from tests.ui.test_staff_panel import assert_beside_not_over, write_two_strangers_video
from tests.ui.test_status_bar import assert_no_overlap_or_clipping

STATES = ("waiting", "checking", "denied", "granted")
DEADLINE_S = 30.0


def grab(root, path: Path) -> None:
    """The kiosk window (not the whole screen) as a PNG."""
    root.update()
    width, height, x, y = root.winfo_width(), root.winfo_height(), root.winfo_rootx(), root.winfo_rooty()
    subprocess.run(["import", "-window", "root", "-crop", f"{width}x{height}+{x}+{y}", "+repage", str(path)],
                   check=True, timeout=20)


def assert_fits(window) -> None:
    """Banner lines and status fields are not clipped; the staff panel is beside the visitor's area."""
    for label in (window.banner._headline, window.banner._detail):
        assert label.winfo_reqwidth() <= label.winfo_width() + 2, f"banner text clipped: {label.cget('text')!r}"
    assert_no_overlap_or_clipping(window.status_bar)
    if window.staff is not None:
        assert_beside_not_over(window.staff, window.video.canvas, window.banner)
        for row in window.staff.rows.values():  # each word of a denial's text on one line, never broken
            wrap = int(str(row.text_label.cget("wraplength")))
            for word in row.text_label.cget("text").split():
                assert window.staff.text_font.measure(word) <= wrap, f"{word!r} is broken at {wrap} px"


@pytest.mark.parametrize("size", ["800x480", "1920x1080"])
def test_screenshots_of_every_state(kiosk, tmp_path, artifacts_dir, full_hd_display, monkeypatch, size):
    monkeypatch.setenv("DISPLAY", full_hd_display)
    video = write_two_strangers_video(tmp_path / "door.mp4", masked_visit_s=3.0)
    window = kiosk(str(video), **{"camera.loop": False})
    root = window.root
    root.geometry(f"{size}+0+0")
    assert pump(root, lambda: root.winfo_width() == int(size.split("x")[0]) and window.video.frames_shown > 0, 5.0)
    taken: dict[str, Path] = {}

    def wanted() -> str:
        state = window.banner.state
        if state == "denied" and len(window.staff.denials) < 2:
            return ""  # the denied screenshot shows both denials in the staff panel
        if state == "granted" and window.video.results == []:
            return ""  # the grant with the visitor's box
        return state if state in STATES and state not in taken else ""

    def take() -> None:
        state = wanted()
        if state:
            root.update()
            if window.banner.state == state:
                path = artifacts_dir / f"kiosk_{size}_{state}.png"
                grab(root, path)
                assert_fits(window)
                taken[state] = path

    assert pump(root, lambda: len(taken) == len(STATES), DEADLINE_S, every=take), \
        f"took {sorted(taken)}; banner {window.banner.state}, {len(window.staff.denials)} denial(s) listed"
    for path in taken.values():
        assert path.stat().st_size > 10_000


@pytest.mark.parametrize("size", ["800x480", "1920x1080"])
def test_screenshot_of_a_visitor_whose_face_is_never_found(kiosk, tmp_path, artifacts_dir, full_hd_display,
                                                           monkeypatch, size):
    """The uncertain denial of someone carrying a parcel before the face: banner and staff row fit."""
    from tools.measure_window import write_door_video

    monkeypatch.setenv("DISPLAY", full_hd_display)
    video = write_door_video(tmp_path / "parcel.mp4", [("empty", 1.0), ("faceless", 6.0)], swaying=True)
    window = kiosk(str(video), **{"camera.loop": False})
    root = window.root
    root.geometry(f"{size}+0+0")
    assert pump(root, lambda: window.banner.state == "uncertain" and len(window.staff.denials) == 1, DEADLINE_S), \
        window.banner.text
    path = artifacts_dir / f"kiosk_{size}_uncertain_no_face.png"
    grab(root, path)
    assert_fits(window)
    assert path.stat().st_size > 10_000
