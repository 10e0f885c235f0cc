"""The staff warning popup on real denials: one window however many denials, a repeat counter,
dismissed by a real (generated) mouse click or a key. Real window under Xvfb, real model and
runtime, a generated video as the camera."""

from __future__ import annotations

import pytest
from tests.helpers.ui import kiosk, pump, screenshot, toplevels, xdotool  # noqa: F401  (kiosk is a fixture)

from tools.measure_window import write_door_video

# a person without a mask comes three times; each visit is a new episode (they leave for longer
# than leave_after_s, and come back after the previous decision's hold_s)
THREE_VISITS = [("unmasked", 1.6), ("empty", 2.4)] * 3


def test_repeated_denials_share_one_popup_dismissed_by_a_click(kiosk, tmp_path, artifacts_dir):
    video = write_door_video(tmp_path / "three_visits.mp4", THREE_VISITS)
    window = kiosk(str(video), **{"camera.loop": False})
    root, popup = window.root, window.popup

    assert pump(root, lambda: popup.count >= 3, 18.0), f"{window.decisions_seen} decisions, popup count {popup.count}"
    assert len(toplevels(root)) == 1  # three denials, one window
    assert popup.count_text == "×3"
    assert popup.window.attributes("-topmost") == 1
    assert pump(root, lambda: window.status_bar.text_of("today") == "today: 0 granted · 3 denied", 2.0), \
        window.status_bar.text_of("today")
    root.update()
    screenshot(artifacts_dir / "kiosk_popup_x3.png")

    button = popup.dismiss_button
    x = button.winfo_rootx() + button.winfo_width() // 2
    y = button.winfo_rooty() + button.winfo_height() // 2
    xdotool("mousemove", str(x), str(y), "click", "1")
    assert pump(root, lambda: not popup.is_open, 5.0), "the click did not dismiss the popup"
    assert toplevels(root) == [] and popup.times_dismissed == 1
    assert window.banner.state in ("denied", "waiting", "checking")  # the kiosk goes on as before


@pytest.mark.parametrize("key", ["Escape", "Return", "space"])
def test_popup_is_dismissed_by_a_key(kiosk, tmp_path, key):
    video = write_door_video(tmp_path / "visit.mp4", [("unmasked", 2.0)])
    window = kiosk(str(video))
    root, popup = window.root, window.popup
    assert pump(root, lambda: popup.is_open, 10.0), window.banner.text
    root.update()
    assert pump(root, lambda: root.focus_get() is not None and root.focus_get().winfo_toplevel() is popup.window, 3.0)
    xdotool("key", key)
    assert pump(root, lambda: not popup.is_open, 5.0), f"{key} did not dismiss the popup"
    assert not window.fullscreen and not window.closed  # the key went to the popup, not the kiosk


def test_popup_can_be_turned_off(kiosk, tmp_path):
    video = write_door_video(tmp_path / "visit.mp4", [("unmasked", 2.0)])
    window = kiosk(str(video), **{"ui.popup": False})
    assert pump(window.root, lambda: window.banner.state == "denied", 10.0), window.banner.text
    window.root.update()
    assert toplevels(window.root) == [] and not window.popup.is_open
    assert window.decisions_seen == 1
