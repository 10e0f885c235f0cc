"""The staff PIN dialog, asked before the admin panel opens or the kiosk quits (``[ui] admin_pin_hash``).

``PinGuard.ask(purpose, then)`` runs ``then`` at once when no PIN is set; otherwise it opens a
small dialog over the kiosk window and runs ``then`` only after the right PIN. The guard's
``PinThrottle`` (kiosk/admin_pin.py) lives as long as the window: after three wrong PINs the
dialog says how long to wait and counts down, and closing and reopening it changes nothing.
A stop from a service manager (SIGTERM) never goes through here. The PIN is never logged.
"""

from __future__ import annotations

import logging
import time
import tkinter as tk
import tkinter.font as tkfont
from tkinter import ttk
from typing import Callable, Optional

from kiosk.admin_pin import PinThrottle
from kiosk.ui.placement import geometry_over

log = logging.getLogger(__name__)

COUNTDOWN_MS = 250  # the wait shown is redrawn this often (it changes once a second)
WIDTH = 420  # the dialog's size never changes with its messages (nothing moves under a finger or the pointer)
PAD = 20
BACKGROUND = "#eceff1"
ERROR_COLOUR = "#b71c1c"


def wait_text(seconds: float) -> str:
    """``42 s``, ``2 min 05 s``: how long a lockout still lasts, rounded up."""
    total = max(0, int(-(-seconds // 1)))
    return f"{total} s" if total < 60 else f"{total // 60} min {total % 60:02d} s"


class PinDialog:
    """One request for the PIN: a heading saying what it is for, the PIN field, OK and Cancel."""

    def __init__(self, root: tk.Misc, purpose: str, throttle: PinThrottle, on_ok: Callable[[], None],
                 on_closed: Callable[["PinDialog"], None]) -> None:
        self.root = root
        self.purpose = purpose
        self.throttle = throttle
        self._on_ok = on_ok
        self._on_closed = on_closed
        self._countdown_job: Optional[str] = None
        self.closed = False

        top = self.top = tk.Toplevel(root, bg=BACKGROUND, padx=PAD, pady=16)
        top.title("Staff PIN")
        top.resizable(False, False)
        try:
            top.transient(root.winfo_toplevel())  # stays above the kiosk window, fullscreen too
        except tk.TclError:
            pass
        heading_font = tkfont.Font(top, family="DejaVu Sans", size=-20, weight="bold")
        body_font = tkfont.Font(top, family="DejaVu Sans", size=-16)
        entry_font = tkfont.Font(top, family="DejaVu Sans Mono", size=-30, weight="bold")
        self._fonts = (heading_font, body_font, entry_font)

        tk.Label(top, text="Staff PIN", font=heading_font, bg=BACKGROUND, anchor="w").pack(fill="x")
        tk.Label(top, text=f"Enter the staff PIN to {purpose}.", font=body_font, bg=BACKGROUND,
                 anchor="w", justify="left", wraplength=WIDTH - 2 * PAD).pack(fill="x", pady=(2, 10))
        self.pin = tk.StringVar(master=top)
        self.entry = tk.Entry(top, textvariable=self.pin, show="\u2022", font=entry_font, width=12,
                              justify="center", relief="solid", bd=1)
        self.entry.pack(fill="x", ipady=6)
        self.message = tk.StringVar(master=top)
        self.message_label = tk.Label(top, textvariable=self.message, font=body_font, bg=BACKGROUND, height=2,
                                      fg=ERROR_COLOUR, anchor="nw", justify="left", wraplength=WIDTH - 2 * PAD)
        self.message_label.pack(fill="x", pady=(8, 4))

        buttons = tk.Frame(top, bg=BACKGROUND)
        buttons.pack(fill="x", pady=(8, 0))
        style = ttk.Style(top)
        style.configure("Pin.TButton", font=body_font, padding=(16, 8))
        self.ok_button = ttk.Button(buttons, text="OK", style="Pin.TButton", command=self.submit)
        self.ok_button.pack(side="right")
        self.cancel_button = ttk.Button(buttons, text="Cancel", style="Pin.TButton", command=self.cancel)
        self.cancel_button.pack(side="right", padx=(0, 10))

        for key in ("<Return>", "<KP_Enter>"):
            top.bind(key, lambda _e: self.submit())
        top.bind("<Escape>", lambda _e: self.cancel())
        top.protocol("WM_DELETE_WINDOW", self.cancel)
        self._place_over(root)
        self._show_lockout()  # a lockout from a dialog closed before still holds
        self.entry.focus_force()

    def _place_over(self, root: tk.Misc) -> None:
        """Over the kiosk window (kiosk/ui/placement.py), its size fixed: a longer or shorter
        message never resizes it, so nothing moves under the pointer or a finger."""
        self.top.update_idletasks()
        self.top.geometry(geometry_over(root, max(WIDTH, self.top.winfo_reqwidth()), self.top.winfo_reqheight()))

    # --- what the buttons do ----------------------------------------------------------------

    def submit(self) -> None:
        if self.closed:
            return
        pin = self.pin.get()
        self.pin.set("")  # never left in the field, whatever happens next
        if not pin and self.throttle.wait_s() <= 0:
            self.message.set("Type the PIN, then press Enter.")
            return
        failures = self.throttle.failures
        result = self.throttle.check(pin)
        del pin
        if result == "ok":
            log.info("staff PIN accepted: %s", self.purpose)
            self.close()
            self._on_ok()
            return
        if result == "wrong":
            left = self.throttle.tries_left()
            self.message.set(f"Wrong PIN. {left} {'try' if left == 1 else 'tries'} left before a "
                             f"{wait_text(self.throttle.next_lockout_s())} wait.")
            log.info("wrong staff PIN (to %s)", self.purpose)
        else:
            if self.throttle.failures > failures:  # this wrong PIN started a lockout
                log.warning("staff PIN: %d wrong PINs in a row, locked out for %s", self.throttle.failures,
                            wait_text(self.throttle.wait_s()))
            self._show_lockout()
        self.entry.focus_set()

    def cancel(self) -> None:
        self.close()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self._countdown_job is not None:
            self.top.after_cancel(self._countdown_job)
            self._countdown_job = None
        try:
            self.top.destroy()
        except tk.TclError:
            pass
        self.pin = self.message = None  # type: ignore[assignment]  # Tk variables freed on the Tk thread
        self._on_closed(self)

    # --- the lockout countdown --------------------------------------------------------------

    def _show_lockout(self) -> None:
        if self._countdown_job is not None:
            self.top.after_cancel(self._countdown_job)
            self._countdown_job = None
        if self.closed:
            return
        wait = self.throttle.wait_s()
        if wait > 0:
            self.message.set(f"Too many wrong PINs. Wait {wait_text(wait)}, then try again.")
            self.ok_button.state(["disabled"])
            self._countdown_job = self.top.after(COUNTDOWN_MS, self._show_lockout)
        elif self.ok_button.instate(["disabled"]):
            self.ok_button.state(["!disabled"])
            self.message.set("You can try again now.")


class PinGuard:
    """Asks for the staff PIN (when one is set) before ``then``; one dialog at a time."""

    def __init__(self, root: tk.Misc, stored_hash: str, clock: Callable[[], float] = time.monotonic) -> None:
        self.root = root
        self.throttle = PinThrottle(stored_hash, clock)
        self.dialog: Optional[PinDialog] = None

    @property
    def required(self) -> bool:
        return self.throttle.required

    def ask(self, purpose: str, then: Callable[[], None]) -> None:
        """Run ``then`` now without a PIN set, else once the right PIN is given for ``purpose``."""
        if not self.required:
            then()
            return
        if self.dialog is not None:
            if self.dialog.purpose == purpose:
                self.dialog.top.lift()
                self.dialog.entry.focus_force()
                return
            self.dialog.close()  # a new request (quit instead of the panel) replaces the old one
        self.dialog = PinDialog(self.root, purpose, self.throttle, then, self._closed)

    def _closed(self, dialog: PinDialog) -> None:
        if self.dialog is dialog:
            self.dialog = None

    def close(self) -> None:
        """The kiosk is closing: no dialog, no timer left behind."""
        if self.dialog is not None:
            self.dialog.close()
