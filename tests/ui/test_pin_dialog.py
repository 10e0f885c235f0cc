"""The staff PIN in the real kiosk window (Xvfb): Ctrl+A and Ctrl+Q ask for it when one is set, real
key presses type it, three wrong PINs lock it out (the right one too) across closing and reopening
the dialog. (A stop signal from a service manager never asks: tests/ui/test_app.py.)"""

from __future__ import annotations

import time

from tests.helpers.ui import kiosk, pump, showing_with_focus, toplevels, xdotool  # noqa: F401  (kiosk is a fixture)

from kiosk.admin_pin import FIRST_LOCKOUT_S, hash_pin

PIN = "2468"
PIN_HASH = hash_pin(PIN)


def titles(root) -> list[str]:
    return [top.title() for top in toplevels(root)]


def type_pin(root, pin: str) -> None:
    """Real key presses into the dialog's PIN field, then Enter."""
    root.update()
    xdotool("type", "--delay", "20", pin)
    xdotool("key", "Return")


def open_pin_dialog(window, keys: str = "ctrl+a"):
    root = window.root
    root.focus_force()
    root.update()
    xdotool("key", keys)
    assert pump(root, lambda: window.pin.dialog is not None, 5.0), f"{keys} did not ask for the PIN"
    dialog = window.pin.dialog
    assert pump(root, lambda: dialog.top.focus_get() is dialog.entry, 3.0), "the PIN field has no focus"
    return dialog


def test_with_a_pin_ctrl_a_asks_for_it_and_only_the_right_one_opens_the_panel(kiosk):
    window = kiosk("demo", **{"ui.admin_pin_hash": PIN_HASH})
    root = showing_with_focus(window)
    dialog = open_pin_dialog(window)
    assert titles(root) == ["Staff PIN"]  # the dialog, not the panel
    assert "open the admin panel" in dialog.purpose

    type_pin(root, "1357")
    assert pump(root, lambda: "Wrong PIN" in dialog.message.get(), 5.0)
    assert dialog.message.get() == "Wrong PIN. 2 tries left before a 30 s wait."
    assert dialog.entry.get() == ""  # the typed PIN is not left in the field
    assert titles(root) == ["Staff PIN"]

    type_pin(root, PIN)
    assert pump(root, lambda: titles(root) == ["Admin: kiosk front-door"], 5.0), titles(root)
    assert window.pin.dialog is None and window.pin.throttle.failures == 0


def test_three_wrong_pins_lock_out_and_the_lockout_outlives_the_dialog(kiosk):
    window = kiosk("demo", **{"ui.admin_pin_hash": PIN_HASH})
    root = showing_with_focus(window)
    dialog = open_pin_dialog(window)
    for wrong in ("1111", "2222", "3333"):
        type_pin(root, wrong)
        assert pump(root, lambda: window.pin.throttle.failures >= int(wrong[0]), 5.0)
    assert pump(root, lambda: dialog.message.get().startswith("Too many wrong PINs. Wait"), 3.0)
    assert dialog.message.get() in ("Too many wrong PINs. Wait 30 s, then try again.",
                                    "Too many wrong PINs. Wait 29 s, then try again.")
    assert dialog.ok_button.instate(["disabled"])

    type_pin(root, PIN)  # the right PIN, during the lockout: refused without being checked
    pump(root, lambda: False, 0.5)
    assert titles(root) == ["Staff PIN"] and window.pin.throttle.failures == 3
    assert dialog.message.get().startswith("Too many wrong PINs. Wait")

    xdotool("key", "Escape")  # closing and reopening the dialog does not end the lockout
    assert pump(root, lambda: window.pin.dialog is None and titles(root) == [], 3.0)
    dialog = open_pin_dialog(window)
    assert dialog.message.get().startswith("Too many wrong PINs. Wait")
    type_pin(root, PIN)
    pump(root, lambda: False, 0.5)
    assert titles(root) == ["Staff PIN"]

    started = time.monotonic()  # the 30 s pass (the throttle's clock moves on)
    window.pin.throttle.clock = lambda: time.monotonic() - started + 100 + FIRST_LOCKOUT_S
    window.pin.throttle.locked_until = 100 + FIRST_LOCKOUT_S
    assert pump(root, lambda: dialog.message.get() == "You can try again now.", 3.0)
    assert not dialog.ok_button.instate(["disabled"])
    type_pin(root, PIN)
    assert pump(root, lambda: titles(root) == ["Admin: kiosk front-door"], 5.0), (
        titles(root), dialog.message.get(), window.pin.throttle.failures, dialog.top.focus_get())


def test_quitting_asks_for_the_pin_by_key_and_by_the_close_button(kiosk):
    window = kiosk("demo", **{"ui.admin_pin_hash": PIN_HASH})
    root = showing_with_focus(window)
    dialog = open_pin_dialog(window, "ctrl+q")
    assert dialog.purpose == "quit the kiosk" and not window.closed
    xdotool("key", "Escape")  # cancelled: the kiosk goes on
    assert pump(root, lambda: window.pin.dialog is None, 3.0)
    frames = window.video.frames_shown
    assert pump(root, lambda: window.video.frames_shown > frames, 5.0) and window.runtime.running

    root.tk.call(root.protocol("WM_DELETE_WINDOW"))  # what a window manager's close button calls
    assert pump(root, lambda: window.pin.dialog is not None, 3.0) and not window.closed
    assert window.pin.dialog.purpose == "quit the kiosk"
    pump(root, lambda: window.pin.dialog.top.focus_get() is window.pin.dialog.entry, 3.0)
    type_pin(root, PIN)
    assert pump(root, lambda: window.closed, 10.0)
    assert not window.runtime.running


def test_without_a_pin_nothing_is_asked(kiosk):
    window = kiosk("demo")
    root = showing_with_focus(window)
    assert not window.pin.required
    xdotool("key", "ctrl+a")
    assert pump(root, lambda: titles(root) == ["Admin: kiosk front-door"], 5.0), titles(root)
    assert window.pin.dialog is None
    root.focus_force()
    root.update()
    xdotool("key", "ctrl+q")
    assert pump(root, lambda: window.closed, 10.0)
