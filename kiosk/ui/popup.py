"""The staff warning popup raised when someone is denied entry.

One popup at a time: a repeat denial while it is open raises a counter ("×3") instead of
stacking windows staff would have to click away one by one. It stays on top of the fullscreen
kiosk (``-topmost``), takes the keyboard focus, and is dismissed with its button or with
Escape, Return or space. It never grabs input, so the kiosk's own keys keep working.
"""

from __future__ import annotations

import logging
import tkinter as tk
import tkinter.font as tkfont
from typing import Optional

import numpy as np
from PIL import ImageTk

from kiosk.vision.preprocessing import crop_face
from kiosk.records import DecisionEvent
from kiosk.ui.images import bgr_to_pil, fit_size, scale_bgr

log = logging.getLogger(__name__)

POPUP_BG = "#b71c1c"
POPUP_FG = "#ffffff"
SNAPSHOT_PX = 220  # longest side of the face snapshot in the popup
SNAPSHOT_MARGIN = 0.35  # context around the face box, as a fraction of its size
DISMISS_KEYS = ("<Escape>", "<Return>", "<KP_Enter>", "<space>")


def face_snapshot(event: DecisionEvent) -> Optional[np.ndarray]:
    """The denied face with some context, scaled for the popup; None when the event has no image."""
    if event.frame is None or event.box is None:
        return None
    try:
        face = crop_face(event.frame, event.box, SNAPSHOT_MARGIN)
    except ValueError:
        return None
    return scale_bgr(face, fit_size(face.shape[1], face.shape[0], SNAPSHOT_PX, SNAPSHOT_PX))


class DenialPopup:
    """Owns the (at most one) warning window; ``show`` per denial, ``dismiss`` by staff."""

    def __init__(self, root: tk.Tk, kiosk_id: str, sound: bool = True, show_snapshot: bool = True,
                 over: Optional[tk.Misc] = None) -> None:
        self.root = root
        self.over = over or root  # the popup is centred over this widget (the live view: the banner stays readable)
        self.kiosk_id = kiosk_id
        self.sound = sound
        self.show_snapshot = show_snapshot
        self.window: Optional[tk.Toplevel] = None
        self.dismiss_button: Optional[tk.Button] = None
        self.count = 0
        self.times_dismissed = 0
        self._count_label: Optional[tk.Label] = None
        self._time_label: Optional[tk.Label] = None
        self._photo: Optional[ImageTk.PhotoImage] = None  # kept referenced while shown, or Tk blanks it
        self._fonts: tuple = ()

    @property
    def count_text(self) -> str:
        """The repeat counter as shown, "" for a single denial, "×3" for three."""
        return str(self._count_label.cget("text")) if self._count_label is not None else ""

    @property
    def is_open(self) -> bool:
        return self.window is not None and bool(self.window.winfo_exists())

    def show(self, event: DecisionEvent) -> None:
        """Raise the popup for a denial, or count the repeat if it is already open."""
        if self.sound:
            self.root.bell()
        if self.is_open:
            self.count += 1
            self._update_texts(event)
            self.window.lift()  # type: ignore[union-attr]
            return
        self.count = 1
        self._build(event)

    def dismiss(self, _event: Optional[tk.Event] = None) -> None:
        if self.window is not None:
            self.window.destroy()
            self.times_dismissed += 1
            log.info("warning popup dismissed after %d denial(s)", self.count)
        self.window = self.dismiss_button = self._count_label = self._time_label = None
        self._photo = None
        self._fonts = ()
        self.count = 0

    def _build(self, event: DecisionEvent) -> None:
        win = tk.Toplevel(self.root, bg=POPUP_BG, padx=24, pady=18)
        win.title(f"Access denied — {self.kiosk_id}")
        win.attributes("-topmost", True)
        win.protocol("WM_DELETE_WINDOW", self.dismiss)
        win.resizable(False, False)
        big = tkfont.Font(win, family="DejaVu Sans", size=-44, weight="bold")
        medium = tkfont.Font(win, family="DejaVu Sans", size=-22, weight="bold")
        small = tkfont.Font(win, family="DejaVu Sans", size=-16)
        self._fonts = (big, medium, small)  # a named font lives as long as its Font object

        tk.Label(win, text="⚠  ACCESS DENIED", font=big, bg=POPUP_BG, fg=POPUP_FG).pack(pady=(0, 4))
        tk.Label(win, text="A person without a mask tried to enter", font=medium, bg=POPUP_BG, fg=POPUP_FG).pack()
        body = tk.Frame(win, bg=POPUP_BG)
        body.pack(pady=12)
        snapshot = face_snapshot(event) if self.show_snapshot else None
        if snapshot is not None:
            self._photo = ImageTk.PhotoImage(bgr_to_pil(snapshot), master=win)
            tk.Label(body, image=self._photo, bg=POPUP_BG, bd=3, relief="solid").pack(side="left", padx=(0, 16))
        self._count_label = tk.Label(body, font=big, bg=POPUP_BG, fg="#ffeb3b")
        self._count_label.pack(side="left")
        self._time_label = tk.Label(win, font=small, bg=POPUP_BG, fg=POPUP_FG)
        self._time_label.pack()
        self.dismiss_button = tk.Button(
            win, text="Dismiss", font=medium, command=self.dismiss, bg="#ffffff", fg=POPUP_BG,
            activebackground="#ffcdd2", padx=28, pady=8, default="active",
        )
        self.dismiss_button.pack(pady=(14, 4))
        tk.Label(win, text="Esc · Enter · Space", font=small, bg=POPUP_BG, fg="#ffcdd2").pack()
        for key in DISMISS_KEYS:
            win.bind(key, self.dismiss)
        self.window = win
        self._update_texts(event)
        self._place_over_view()
        win.focus_force()
        log.warning("warning popup raised: access denied at %s", self.kiosk_id)

    def _update_texts(self, event: DecisionEvent) -> None:
        if self._count_label is not None:
            self._count_label.configure(text=f"×{self.count}" if self.count > 1 else "")
        if self._time_label is not None:
            when = event.time.strftime("%H:%M:%S")
            label = f"{event.label.replace('_', ' ')} ({event.score:.0%})"
            self._time_label.configure(text=f"{self.kiosk_id} · last at {when} · {label}")

    def _place_over_view(self) -> None:
        """Centre the popup over the live view (not the screen corner a bare X server picks)."""
        win = self.window
        assert win is not None
        win.update_idletasks()
        width, height = win.winfo_reqwidth(), win.winfo_reqheight()
        x = self.over.winfo_rootx() + (self.over.winfo_width() - width) // 2
        y = self.over.winfo_rooty() + (self.over.winfo_height() - height) // 2
        win.geometry(f"+{max(0, x)}+{max(0, y)}")
