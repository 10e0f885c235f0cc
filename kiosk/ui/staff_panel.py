"""Staff alerts: the recent denials, newest first, where only staff look.

Each denial is its own row: the face it was decided on, the time, what was decided (denied, or
uncertain: no confident decision in time) and the label with its confidence, and a Dismiss
button. "Dismiss all" clears the list. There is no counter standing in for faces: two denials
are two rows with two faces. With ``[storage] privacy`` no face is shown, only a placeholder.

The list lives beside the visitor's area in the main window (``[ui] staff_display = "panel"``,
to the right of the live view and banner, which it never covers), or in a window of its own for
a second monitor (``"window"``). It never takes the keyboard focus, so the kiosk's own keys keep
working. Thumbnails are cut from the decision's frame, already in memory: the Tk thread never
reads the disk.
"""

from __future__ import annotations

import itertools
import logging
import tkinter as tk
import tkinter.font as tkfont
from dataclasses import dataclass, field
from datetime import datetime
from typing import Optional

import numpy as np
from PIL import ImageTk

from kiosk.door.decision import NO_FACE
from kiosk.records import DecisionEvent
from kiosk.ui.images import bgr_to_pil, fit_size, scale_bgr
from kiosk.vision.annotate import LABEL_TEXTS
from kiosk.vision.preprocessing import crop_face

log = logging.getLogger(__name__)

STAFF_DISPLAYS = ("panel", "window", "off")
MAX_DENIALS = 50  # the newest kept in the list; every one of them is in the event log anyway
FACE_MARGIN = 0.35  # context around the face box, as a fraction of its size
NO_FACE_TEXT = "No face seen"
FACE_KEEP_PX = 160  # the crop kept per denial (longest side); thumbnails are scaled from it
PANEL_SHARE = 0.25  # of the window's width, in panel mode ...
PANEL_MIN_PX, PANEL_MAX_PX = 200, 440  # ... within these bounds
WINDOW_GEOMETRY = "420x760"  # the staff window's size when the config gives none

PANEL_BG = "#1c262b"
ROW_BG = "#2b3a42"
TEXT_FG = "#eceff1"
MUTED_FG = "#b0bec5"
HEADER_BG = {"empty": "#37474f", "alert": "#b71c1c"}
STRIPE = {"denied": "#e53935", "uncertain": "#ffb300"}
DECISION_TEXT = {"denied": "DENIED", "uncertain": "UNCERTAIN"}
ROW_WORDS = {word for text in (*DECISION_TEXT.values(), *LABEL_TEXTS.values(), NO_FACE_TEXT, "100%")
             for word in text.split()}  # every word a denial's text can hold
PLACEHOLDER_BG = "#455a64"


def face_crop(event: DecisionEvent, keep_px: int = FACE_KEEP_PX) -> Optional[np.ndarray]:
    """The deciding face with some context, at most ``keep_px`` on its longest side; the whole
    picture for someone whose face was not found (staff see who stood there); None when the
    event carries no frame (nothing to show)."""
    if event.frame is None:
        return None
    if event.box is None:
        face = event.frame
    else:
        try:
            face = crop_face(event.frame, event.box, FACE_MARGIN)
        except ValueError:  # the box lies outside the frame
            return None
    if face.ndim == 2:
        face = np.repeat(face[:, :, None], 3, axis=2)
    h, w = face.shape[:2]
    return scale_bgr(face, fit_size(w, h, keep_px, keep_px)).copy()  # a copy: the frame is not kept alive


def square_thumbnail(face: np.ndarray, px: int, background: str = PANEL_BG) -> np.ndarray:
    """``face`` fitted into a ``px`` x ``px`` square (BGR), centred on ``background``: rows align."""
    bgr = tuple(int(background[i:i + 2], 16) for i in (5, 3, 1))
    square = np.empty((px, px, 3), np.uint8)
    square[:] = bgr
    width, height = fit_size(face.shape[1], face.shape[0], px, px)
    scaled = scale_bgr(face, (width, height))
    top, left = (px - height) // 2, (px - width) // 2
    square[top:top + height, left:left + width] = scaled[:, :, :3]
    return square


def label_summary(label: str, score: float) -> str:
    """E.g. "No Mask 99%" (the same words as the box captions); "No face seen" has no score."""
    if label == NO_FACE:
        return NO_FACE_TEXT
    return f"{LABEL_TEXTS.get(label, label.replace('_', ' '))} {score * 100:.0f}%"


@dataclass
class Denial:
    """One denial in the list."""

    id: int
    time: datetime
    decision: str  # "denied" | "uncertain"
    label: str
    score: float
    face: Optional[np.ndarray] = field(default=None, repr=False)  # BGR crop; None: privacy or no image

    @property
    def summary(self) -> str:
        return f"{DECISION_TEXT.get(self.decision, self.decision.upper())}\n{label_summary(self.label, self.score)}"


class DenialRow(tk.Frame):
    """One denial's widgets: stripe, thumbnail, time, decision and label, Dismiss button."""

    def __init__(self, panel: "StaffPanel", denial: Denial) -> None:
        super().__init__(panel.list_frame, bg=ROW_BG)
        self.denial = denial
        self.photo: Optional[tk.PhotoImage | ImageTk.PhotoImage] = None  # referenced, or Tk blanks it
        self._photo_px = 0
        tk.Frame(self, bg=STRIPE.get(denial.decision, STRIPE["denied"]), width=6).pack(side="left", fill="y")
        self.thumbnail = tk.Label(self, bg=ROW_BG, fg=TEXT_FG, font=panel.small_font, compound="center", bd=0)
        self.thumbnail.pack(side="left", padx=6, pady=6)
        text = tk.Frame(self, bg=ROW_BG)
        text.pack(side="left", fill="both", expand=True, padx=(0, 6), pady=6)
        self.time_label = tk.Label(text, text=denial.time.strftime("%H:%M:%S"), font=panel.time_font, bg=ROW_BG,
                                   fg=TEXT_FG, anchor="w")
        self.time_label.pack(side="top", fill="x")
        self.text_label = tk.Label(text, text=denial.summary, font=panel.text_font, bg=ROW_BG, fg=MUTED_FG,
                                   anchor="w", justify="left")
        self.text_label.pack(side="top", fill="x")
        self.dismiss_button = tk.Button(text, text="Dismiss", font=panel.text_font, takefocus=0,
                                        command=lambda: panel.dismiss(denial.id), bg="#eceff1", fg="#263238",
                                        activebackground="#ffffff", relief="flat", padx=8, pady=2)
        self.dismiss_button.pack(side="top", anchor="w", pady=(4, 0))
        self.render(panel)

    def render(self, panel: "StaffPanel") -> None:
        """(Re)draw the thumbnail at the panel's thumbnail size and wrap the text to the row."""
        px = panel.thumbnail_px
        self.text_label.configure(wraplength=max(60, panel.text_width))
        if px == self._photo_px:
            return
        self._photo_px = px
        if self.denial.face is not None:
            self.photo = ImageTk.PhotoImage(bgr_to_pil(square_thumbnail(self.denial.face, px, ROW_BG)), master=self)
            self.thumbnail.configure(image=self.photo, text="")
        else:  # privacy (or a decision without a face): a plain square says so, and shows nobody
            self.photo = tk.PhotoImage(master=self, width=px, height=px)
            self.photo.put(PLACEHOLDER_BG, to=(0, 0, px, px))
            self.thumbnail.configure(image=self.photo, text="no image" if panel.show_faces else "privacy")


class StaffPanel(tk.Frame):
    """The list of recent denials with its header; ``add`` per denial, ``dismiss`` / ``dismiss_all`` by staff."""

    def __init__(self, master: tk.Misc, kiosk_id: str, show_faces: bool = True) -> None:
        super().__init__(master, bg=PANEL_BG, width=PANEL_MIN_PX)
        self.kiosk_id = kiosk_id
        self.show_faces = show_faces
        self.window: Optional[tk.Toplevel] = None  # set when the panel has a window of its own
        self.rows: dict[int, DenialRow] = {}  # by denial id
        self._order: list[int] = []  # denial ids, newest first
        self._ids = itertools.count(1)
        self.times_dismissed = 0
        self.thumbnail_px = 72
        self.text_width = 100
        self._width = 0
        self.title_font = tkfont.Font(self, family="DejaVu Sans", size=-18, weight="bold")
        self.time_font = tkfont.Font(self, family="DejaVu Sans", size=-18, weight="bold")
        self.text_font = tkfont.Font(self, family="DejaVu Sans", size=-14)
        self.small_font = tkfont.Font(self, family="DejaVu Sans", size=-12)

        self.header = tk.Frame(self, bg=HEADER_BG["empty"])
        self.header.pack(side="top", fill="x")
        self.title_label = tk.Label(self.header, font=self.title_font, bg=HEADER_BG["empty"], fg="#ffffff",
                              anchor="w", justify="left")
        self.title_label.pack(side="top", fill="x", padx=10, pady=(8, 4))
        self.dismiss_all_button = tk.Button(self.header, text="Dismiss all", font=self.text_font, takefocus=0,
                                            command=self.dismiss_all, bg="#ffffff", fg="#b71c1c",
                                            activebackground="#ffcdd2", relief="flat", pady=2)
        self.dismiss_all_button.pack(side="top", fill="x", padx=10, pady=(0, 8))
        body = tk.Frame(self, bg=PANEL_BG)
        body.pack(side="top", fill="both", expand=True)
        self._scrollbar = tk.Scrollbar(body, orient="vertical", width=14)
        self._canvas = tk.Canvas(body, bg=PANEL_BG, highlightthickness=0, bd=0, width=PANEL_MIN_PX,
                                 yscrollcommand=self._scrollbar.set)
        self._scrollbar.configure(command=self._canvas.yview)
        self._canvas.pack(side="left", fill="both", expand=True)
        self.list_frame = tk.Frame(self._canvas, bg=PANEL_BG)
        self._list_item = self._canvas.create_window(0, 0, window=self.list_frame, anchor="nw")
        self.empty_label = tk.Label(self.list_frame, text="No denials to check", font=self.text_font, bg=PANEL_BG,
                                    fg=MUTED_FG, pady=20)
        self.list_frame.bind("<Configure>", self._on_list_resize)
        self._canvas.bind("<Configure>", self._on_canvas_resize)
        self.bind("<Configure>", self._on_resize)
        self._bind_wheel(self._canvas)
        self._bind_wheel(self.list_frame)
        self._refresh_header()

    # --- reading ----------------------------------------------------------------------------

    @property
    def denials(self) -> list[Denial]:
        """The denials listed, newest first."""
        return [self.rows[i].denial for i in self._order]

    def row(self, index: int) -> DenialRow:
        """The row at ``index`` from the top (0: the newest)."""
        return self.rows[self._order[index]]

    @property
    def title_text(self) -> str:
        return str(self.title_label.cget("text"))

    # --- changes ----------------------------------------------------------------------------

    def add(self, event: DecisionEvent) -> Denial:
        """List a denial at the top; beyond MAX_DENIALS the oldest leaves the list (not the event log)."""
        denial = Denial(next(self._ids), event.time, event.decision, event.label, float(event.score),
                        face_crop(event) if self.show_faces else None)
        row = DenialRow(self, denial)
        self._bind_wheel(row)
        if self._order:
            row.pack(side="top", fill="x", padx=6, pady=(6, 0), before=self.rows[self._order[0]])
        else:
            self.empty_label.pack_forget()
            row.pack(side="top", fill="x", padx=6, pady=(6, 0))
        self.rows[denial.id] = row
        self._order.insert(0, denial.id)
        while len(self._order) > MAX_DENIALS:
            self._remove(self._order[-1])
        self._canvas.yview_moveto(0.0)  # the newest is where staff look first
        self._refresh_header()
        log.info("staff alert: %s at %s (%s)", event.decision, event.time.strftime("%H:%M:%S"), denial.summary)
        return denial

    def dismiss(self, denial_id: int) -> None:
        """Staff saw this one: it leaves the list."""
        if denial_id in self.rows:
            self._remove(denial_id)
            self.times_dismissed += 1
            self._refresh_header()

    def dismiss_all(self) -> None:
        if self._order:
            log.info("staff dismissed all %d denial(s)", len(self._order))
            self.times_dismissed += 1
        for denial_id in list(self._order):
            self._remove(denial_id)
        self._refresh_header()

    def close(self) -> None:
        """Destroy the panel (and its window, if it has one)."""
        target = self.window if self.window is not None else self
        try:
            target.destroy()
        except tk.TclError:
            pass

    def _remove(self, denial_id: int) -> None:
        row = self.rows.pop(denial_id)
        self._order.remove(denial_id)
        row.destroy()

    def _refresh_header(self) -> None:
        count = len(self._order)
        look = "alert" if count else "empty"
        text = f"⚠ {count} denial{'s' if count != 1 else ''}" if count else "Staff · denials"
        self.header.configure(bg=HEADER_BG[look])
        self.title_label.configure(text=text, bg=HEADER_BG[look])
        self.dismiss_all_button.configure(state="normal" if count else "disabled")
        if not count and not self.empty_label.winfo_manager():
            self.empty_label.pack(side="top", fill="x")

    # --- size and scrolling -----------------------------------------------------------------

    def follow_window(self, window: tk.Misc) -> None:
        """Panel mode: keep the panel's width a share of ``window``'s (the visitor's area keeps the rest)."""
        self.pack_propagate(False)

        def on_configure(event: tk.Event) -> None:
            if event.widget is window:
                width = max(PANEL_MIN_PX, min(PANEL_MAX_PX, round(event.width * PANEL_SHARE)))
                if int(self.cget("width")) != width:
                    self.configure(width=width)

        window.bind("<Configure>", on_configure, add="+")

    def _on_resize(self, event: tk.Event) -> None:
        if event.widget is not self or event.width == self._width:
            return
        self._width = event.width
        title_px = max(16, min(28, event.width // 14))
        self.title_font.configure(size=-title_px)
        self.time_font.configure(size=-title_px)
        self.text_font.configure(size=-max(14, round(title_px * 0.75)))
        self.small_font.configure(size=-max(12, round(title_px * 0.6)))
        self.title_label.configure(wraplength=max(100, event.width - 24))
        beside = 6 + 12 + 6 + 12 + 20  # stripe, pads, scrollbar room
        # the text column holds its longest word whole ("UNCERTAIN" broke into "UNCERT / AIN" at
        # 800x480): on a narrow panel the thumbnail gives way first
        longest = max(self.text_font.measure(word) for word in ROW_WORDS)
        self.thumbnail_px = max(48, min(FACE_KEEP_PX, round(event.width * 0.4), event.width - beside - longest))
        self.text_width = event.width - self.thumbnail_px - beside
        for row in self.rows.values():
            row.render(self)

    def _on_canvas_resize(self, event: tk.Event) -> None:
        self._canvas.itemconfigure(self._list_item, width=event.width)
        self._update_scrollbar()

    def _on_list_resize(self, _event: tk.Event) -> None:
        self._canvas.configure(scrollregion=(0, 0, self.list_frame.winfo_reqwidth(), self.list_frame.winfo_reqheight()))
        self._update_scrollbar()

    def _update_scrollbar(self) -> None:
        """A scrollbar only when the rows do not all fit."""
        needed = self.list_frame.winfo_reqheight() > self._canvas.winfo_height() > 1
        if needed and not self._scrollbar.winfo_manager():
            self._scrollbar.pack(side="right", fill="y", before=self._canvas)
        elif not needed and self._scrollbar.winfo_manager():
            self._scrollbar.pack_forget()
            self._canvas.yview_moveto(0.0)

    def _bind_wheel(self, widget: tk.Misc) -> None:
        for sequence, step in (("<Button-4>", -1), ("<Button-5>", 1)):
            widget.bind(sequence, lambda _e, s=step: self._scroll(s), add="+")
        widget.bind("<MouseWheel>", lambda e: self._scroll(-1 if e.delta > 0 else 1), add="+")
        for child in widget.winfo_children():
            self._bind_wheel(child)

    def _scroll(self, step: int) -> None:
        if self._scrollbar.winfo_manager():
            self._canvas.yview_scroll(step, "units")


def build_staff_alerts(root: tk.Tk, mode: str, kiosk_id: str, show_faces: bool,
                       window_geometry: str = "") -> Optional[StaffPanel]:
    """The staff alerts for ``[ui] staff_display`` ``mode``: a panel packed at the right of
    ``root`` (call before packing the visitor's area, which then takes the rest), a panel in a
    window of its own, or None for "off"."""
    if mode == "off":
        return None
    if mode == "window":
        top = tk.Toplevel(root, bg=PANEL_BG)
        top.title(f"Staff — denials at {kiosk_id}")
        top.geometry(window_geometry or WINDOW_GEOMETRY)
        top.minsize(240, 300)
        top.protocol("WM_DELETE_WINDOW", top.iconify)  # closing it must not lose alerts: it is minimised
        panel = StaffPanel(top, kiosk_id, show_faces)
        panel.window = top
        panel.pack(side="top", fill="both", expand=True)
        return panel
    if mode != "panel":
        raise ValueError(f"unknown staff display {mode!r}; expected one of {', '.join(STAFF_DISPLAYS)}")
    panel = StaffPanel(root, kiosk_id, show_faces)
    panel.pack(side="right", fill="y")
    panel.follow_window(root)
    return panel
