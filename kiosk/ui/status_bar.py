"""The status bar at the bottom of the kiosk window: is the kiosk healthy, and what did it do today?

A notice strip (amber on black) shows the source's ``status_text`` in large type when there is one, e.g.
"No camera found: showing the demo feed" or "Camera offline — reconnecting", because staff must
see at a glance that the door is not watched by a live camera. Below it one line of figures:
source and its state, display and analysis fps, model, today's counts, email outbox.
"""

from __future__ import annotations

import tkinter as tk
import tkinter.font as tkfont
from dataclasses import dataclass
from typing import Optional

SOURCE_STATE_COLOURS = {"live": "#2e7d32", "demo": "#1565c0", "offline": "#c62828", "ended": "#6d4c41"}
BAR_BG = "#263238"
BAR_FG = "#eceff1"
NOTICE_BG = "#111111"
NOTICE_FG = "#ffca28"
ERROR_FG = "#ff8a80"


@dataclass(frozen=True)
class StatusInfo:
    """Everything the status bar shows; built by the window from the latest update and services."""

    source_label: str = ""
    source_state: str = ""
    status_text: str = ""
    display_fps: float = 0.0
    analysis_fps: float = 0.0
    model_name: str = ""
    granted_today: int = 0
    denied_today: int = 0
    outbox_pending: Optional[int] = None  # None: no event services, so no outbox
    last_email_error: str = ""
    last_storage_error: str = ""  # the event log could not be written: staff must know


class StatusBar(tk.Frame):
    """Notice strip + two lines of labelled figures; each figure is its own label (tests read them).

    First line: source state, source, today's counts, fps. Second (smaller): model, email
    outbox, errors. Two lines keep everything visible on a 640 px wide kiosk screen.
    """

    FIELDS = ("source", "fps", "model", "today", "outbox", "email_error", "storage_error")
    # (line, side) of each field: line 0 is the main line, 1 the small one under it
    PLACES = {"source": (0, "left"), "today": (0, "left"), "fps": (0, "right"), "model": (1, "left"),
              "outbox": (1, "left"), "email_error": (1, "left"), "storage_error": (1, "left")}

    def __init__(self, master: tk.Misc) -> None:
        super().__init__(master, bg=BAR_BG)
        small = tkfont.Font(master, family="DejaVu Sans", size=-13)
        normal = tkfont.Font(master, family="DejaVu Sans", size=-16)
        bold = tkfont.Font(master, family="DejaVu Sans", size=-16, weight="bold")
        notice_font = tkfont.Font(master, family="DejaVu Sans", size=-22, weight="bold")
        self._fonts = (small, normal, bold, notice_font)  # a named font lives as long as its Font object
        self.notice = tk.Label(self, font=notice_font, bg=NOTICE_BG, fg=NOTICE_FG, anchor="center", pady=6)
        self._lines = [tk.Frame(self, bg=BAR_BG), tk.Frame(self, bg=BAR_BG)]
        self._lines[0].pack(side="top", fill="x", pady=(4, 0))
        self._lines[1].pack(side="top", fill="x", pady=(0, 4))
        self._state_chip = tk.Label(self._lines[0], font=bold, fg="#ffffff", padx=8, pady=1)
        self._state_chip.pack(side="left", padx=(8, 4))
        self.labels: dict[str, tk.Label] = {}
        for name in self.FIELDS:
            line, side = self.PLACES[name]
            font = bold if name == "source" else (normal if line == 0 else small)
            label = tk.Label(self._lines[line], font=font, bg=BAR_BG,
                             fg=ERROR_FG if name.endswith("_error") else BAR_FG, padx=8)
            label.pack(side=side)
            self.labels[name] = label
        self._shown: Optional[StatusInfo] = None
        self.show(StatusInfo(source_label="starting", source_state=""))

    def text_of(self, name: str) -> str:
        """What the label ``name`` (one of ``FIELDS``, or ``"notice"``/``"state"``) shows now."""
        if name == "notice":
            return str(self.notice.cget("text")) if self.notice.winfo_manager() else ""
        if name == "state":
            return str(self._state_chip.cget("text"))
        return str(self.labels[name].cget("text"))

    def show(self, info: StatusInfo) -> None:
        if info == self._shown:
            return
        self._shown = info
        state = info.source_state or "starting"
        self._state_chip.configure(text=state.upper(), bg=SOURCE_STATE_COLOURS.get(info.source_state, "#546e7a"))
        self._set("source", info.source_label)
        self._set("fps", f"display {info.display_fps:4.1f} fps · analysis {info.analysis_fps:4.1f} fps")
        self._set("model", f"model {info.model_name}" if info.model_name else "")
        self._set("today", f"today: {info.granted_today} granted · {info.denied_today} denied")
        self._set("outbox", "" if info.outbox_pending is None else f"email outbox: {info.outbox_pending} pending")
        self._set("email_error", f"last email error: {info.last_email_error}" if info.last_email_error else "")
        self._set("storage_error", f"event log error: {info.last_storage_error}" if info.last_storage_error else "")
        self._set_notice(info.status_text)

    def _set(self, name: str, text: str) -> None:
        label = self.labels[name]
        if label.cget("text") != text:
            label.configure(text=text)

    def _set_notice(self, text: str) -> None:
        if self.notice.cget("text") != text:
            self.notice.configure(text=text)
        if text and not self.notice.winfo_manager():
            self.notice.pack(side="top", fill="x", before=self._lines[0])
        elif not text and self.notice.winfo_manager():
            self.notice.pack_forget()
