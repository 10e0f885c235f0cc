"""The staff PIN dialog and the admin panel on a small kiosk screen (800x480) and a full-HD one
(1920x1080): each fully inside the kiosk window, every button of the panel whole, and screenshots
under test-artifacts/ for a person to look at (the dialog asking, the dialog after three wrong
PINs, the panel with today's demo events). The window runs on the 1920x1080 Xvfb of tests/ui/conftest.py."""

from __future__ import annotations

import subprocess
import tkinter as tk
from pathlib import Path
from tkinter import ttk

import pytest
from tests.helpers.ui import kiosk, pump  # noqa: F401  (kiosk is a fixture)
from tests.ui.test_pin_dialog import PIN, PIN_HASH, type_pin, xdotool


def rectangle(widget: tk.Misc) -> tuple[int, int, int, int]:
    """left, top, right, bottom on the screen."""
    widget.update_idletasks()
    x, y = widget.winfo_rootx(), widget.winfo_rooty()
    return x, y, x + widget.winfo_width(), y + widget.winfo_height()


def assert_inside(inner: tk.Misc, outer: tk.Misc, what: str) -> None:
    left, top, right, bottom = rectangle(inner)
    o_left, o_top, o_right, o_bottom = rectangle(outer)
    assert inner.winfo_ismapped() and right - left > 1 and bottom - top > 1, f"{what} is not shown"
    assert o_left <= left and o_top <= top and right <= o_right and bottom <= o_bottom, (
        f"{what} at {(left, top, right, bottom)} is not inside {(o_left, o_top, o_right, o_bottom)}")


def buttons_of(widget: tk.Misc) -> list[tk.Misc]:
    found = [widget] if isinstance(widget, (tk.Button, ttk.Button)) else []
    for child in widget.winfo_children():
        found += buttons_of(child)
    return found


def grab(root: tk.Misc, path: Path) -> None:
    """The kiosk window's rectangle of the screen (dialogs over it included) as a PNG."""
    root.update()
    left, top, right, bottom = rectangle(root)
    subprocess.run(["import", "-window", "root", "-crop", f"{right - left}x{bottom - top}+{left}+{top}", "+repage",
                    str(path)], check=True, timeout=20)


@pytest.mark.parametrize("size", ["800x480", "1920x1080"])
def test_pin_dialog_and_admin_panel_fit_the_window(kiosk, full_hd_display, artifacts_dir, monkeypatch, size):
    monkeypatch.setenv("DISPLAY", full_hd_display)
    window = kiosk("demo", **{"ui.admin_pin_hash": PIN_HASH})
    root = window.root
    root.geometry(f"{size}+0+0")
    width, height = map(int, size.split("x"))
    assert pump(root, lambda: (root.winfo_width(), root.winfo_height()) == (width, height)
                and window.video.frames_shown > 0, 10.0)
    assert pump(root, lambda: window.decisions_seen >= 1, 20.0), "the demo made no decision"

    root.focus_force()
    root.update()
    xdotool("key", "ctrl+a")
    assert pump(root, lambda: window.pin.dialog is not None, 5.0)
    dialog = window.pin.dialog
    assert pump(root, lambda: dialog.top.focus_get() is dialog.entry, 3.0)
    xdotool("type", "--delay", "20", "24")  # half typed: the dots show
    pump(root, lambda: dialog.entry.get() == "24", 3.0)
    assert_inside(dialog.top, root, "the PIN dialog")
    for button in buttons_of(dialog.top):
        assert_inside(button, dialog.top, f"the PIN dialog's {button.cget('text')} button")
    grab(root, artifacts_dir / f"pin_dialog_{size}.png")

    xdotool("key", "BackSpace", "BackSpace")
    for wrong in ("1111", "2222", "3333"):
        type_pin(root, wrong)
        assert pump(root, lambda: window.pin.throttle.failures >= int(wrong[0]), 5.0)
    assert pump(root, lambda: dialog.message.get().startswith("Too many wrong PINs"), 3.0)
    assert_inside(dialog.message_label, dialog.top, "the lockout message")
    assert dialog.message_label.winfo_reqheight() <= dialog.message_label.winfo_height()
    grab(root, artifacts_dir / f"pin_dialog_locked_{size}.png")

    window.pin.throttle.locked_until = 0.0  # the wait is over
    assert pump(root, lambda: dialog.message.get() == "You can try again now.", 3.0)
    type_pin(root, PIN)
    assert pump(root, lambda: window._admin_window is not None, 5.0), dialog.message.get()
    top = window._admin_window
    panel = top.panel
    assert pump(root, lambda: panel.loads >= 1 and panel.events.get_children(), 15.0)
    assert_inside(top, root, "the admin panel")
    buttons = buttons_of(top)
    assert {b.cget("text") for b in buttons} >= {"Refresh", "Close"}
    for button in buttons:
        assert_inside(button, top, f"the admin panel's {button.cget('text')} button")
    assert "0 granted, 0 denied (" in panel.summary.get() and "demo event" in panel.summary.get()  # never counted
    summary = panel.summary_label
    assert summary.winfo_reqheight() <= summary.winfo_height() + 1, "the summary line is cut"
    grab(root, artifacts_dir / f"admin_panel_{size}.png")
