"""The status bar at the bottom of the kiosk window: is the kiosk healthy, and what did it do today?

A notice strip (amber on black) shows the source's ``status_text`` in large type when there is one, e.g.
"No camera found: showing the demo feed" or "Camera offline — reconnecting", because staff must
see at a glance that the door is not watched by a live camera. Below it two lines of figures
(source and its state, today's counts; model, email outbox, errors, fps) and, on the right, a
clock with the date, ticked by ``after()`` once a second.

Readable from a metre away: the fonts follow the window width like the banner's do. Every field
is its own label, and each line is fitted to the width it has: a long source name or model is
shortened with an ellipsis in the middle (the end of a path or URL names the file or stream),
and a field that still does not fit is hidden, so no field ever overlaps or clips another.
Email fields are hidden altogether when email is off.
"""

from __future__ import annotations

import time
import tkinter as tk
import tkinter.font as tkfont
from dataclasses import dataclass
from typing import Callable, Optional

SOURCE_STATE_COLOURS = {"live": "#2e7d32", "demo": "#1565c0", "offline": "#c62828", "ended": "#6d4c41"}
BAR_BG = "#263238"
BAR_FG = "#eceff1"
NOTICE_BG = "#111111"
NOTICE_FG = "#ffca28"
ERROR_FG = "#ff8a80"
CLOCK_FG = "#ffffff"
ELLIPSIS = "…"

FIELD_PADX = 8  # inside each label, left and right
CHIP_MARGIN = (8, 4)  # around the source-state chip
CLOCK_MARGIN = (4, 10)  # left and right of the clock
LINE_MARGIN = 8  # kept free at the right end of each line
MIN_KEPT_CHARS = 4  # an elided field keeps at least this many characters, else it is hidden


def font_px(width: int) -> tuple[int, int]:
    """(main line, second line) font sizes in pixels for a window ``width`` wide: 20/16 px at
    800 px, 30/24 px from 1200 px up, never under 16/13."""
    normal = max(16, min(30, width // 40))
    return normal, max(13, round(normal * 0.8))


def elide(text: str, fits: Callable[[str], bool], where: str = "middle") -> str:
    """The longest shortening of ``text`` for which ``fits`` holds: characters cut from the
    middle (``where="middle"``) or the end, replaced by one ellipsis. "" when even
    ``MIN_KEPT_CHARS`` characters and the ellipsis do not fit."""
    if fits(text):
        return text

    def cut(keep: int) -> str:
        if where == "end":
            return text[:keep].rstrip() + ELLIPSIS
        head = (keep + 1) // 2
        tail = keep - head
        return text[:head].rstrip() + ELLIPSIS + (text[len(text) - tail:].lstrip() if tail else "")

    lo, hi = MIN_KEPT_CHARS, len(text) - 1
    if hi < lo or not fits(cut(lo)):
        return ""
    while lo < hi:  # the largest ``keep`` that fits (fits is monotonic in keep)
        mid = (lo + hi + 1) // 2
        if fits(cut(mid)):
            lo = mid
        else:
            hi = mid - 1
    return cut(lo)


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
    """Notice strip + two lines of labelled figures + clock; each figure is its own label (tests read them).

    First line: source state, source, today's counts. Second (smaller): model, email outbox,
    errors, and the fps on the right. The clock and date stand at the right of both lines.
    """

    FIELDS = ("source", "today", "model", "outbox", "email_error", "storage_error", "fps")
    # (line, side) of each field: line 0 is the main line, 1 the smaller one under it
    PLACES = {"source": (0, "left"), "today": (0, "left"), "model": (1, "left"), "outbox": (1, "left"),
              "email_error": (1, "left"), "storage_error": (1, "left"), "fps": (1, "right")}
    # when a line is too long: these are shortened first, in this order (how: middle or end) ...
    SHORTEN = ((0, "source", "middle"), (1, "model", "middle"), (1, "storage_error", "end"),
               (1, "email_error", "end"))
    # ... and if it still does not fit, these are hidden, in this order (errors never are)
    HIDE = ((0, "today"), (0, "source"), (1, "model"), (1, "fps"), (1, "outbox"))
    FLOOR_CHARS = {"source": 12, "model": 0, "storage_error": 24, "email_error": 24}  # kept before hiding others

    def __init__(self, master: tk.Misc, email_enabled: bool = True) -> None:
        super().__init__(master, bg=BAR_BG)
        self.email_enabled = email_enabled
        normal_px, small_px = font_px(800)
        self._small = tkfont.Font(master, family="DejaVu Sans", size=-small_px)
        self._normal = tkfont.Font(master, family="DejaVu Sans", size=-normal_px)
        self._bold = tkfont.Font(master, family="DejaVu Sans", size=-normal_px, weight="bold")
        self._clock_font = tkfont.Font(master, family="DejaVu Sans", size=-round(normal_px * 1.3), weight="bold")
        self._notice_font = tkfont.Font(master, family="DejaVu Sans", size=-round(normal_px * 1.3), weight="bold")
        self.notice = tk.Label(self, font=self._notice_font, bg=NOTICE_BG, fg=NOTICE_FG, anchor="center", pady=6,
                               justify="center")
        self._body = tk.Frame(self, bg=BAR_BG)
        self._body.pack(side="top", fill="x")
        self._clock_box = tk.Frame(self._body, bg=BAR_BG)
        self._clock_box.pack(side="right", padx=CLOCK_MARGIN, pady=2)
        self.clock = tk.Label(self._clock_box, font=self._clock_font, bg=BAR_BG, fg=CLOCK_FG, bd=0, padx=0, pady=0)
        self.clock.pack(side="top", anchor="e")
        self.date = tk.Label(self._clock_box, font=self._small, bg=BAR_BG, fg=BAR_FG, bd=0, padx=0, pady=0)
        self.date.pack(side="top", anchor="e")
        lines = tk.Frame(self._body, bg=BAR_BG)
        lines.pack(side="left", fill="x", expand=True)
        self._lines = [tk.Frame(lines, bg=BAR_BG), tk.Frame(lines, bg=BAR_BG)]
        self._lines[0].pack(side="top", fill="x", pady=(4, 0))
        self._lines[1].pack(side="top", fill="x", pady=(0, 4))
        self._state_chip = tk.Label(self._lines[0], font=self._bold, fg="#ffffff", padx=8, pady=1, bd=0)
        self._state_chip.pack(side="left", padx=CHIP_MARGIN)
        self.labels: dict[str, tk.Label] = {}
        self._texts: dict[str, str] = {name: "" for name in self.FIELDS}  # what each field says, unshortened
        self._visible: dict[str, bool] = {name: False for name in self.FIELDS}
        for name in self.FIELDS:
            line = self.PLACES[name][0]
            self.labels[name] = tk.Label(self._lines[line], font=self._font_of(name), bg=BAR_BG, bd=0,
                                         fg=ERROR_FG if name.endswith("_error") else BAR_FG, padx=FIELD_PADX)
        self._width = 0
        self._chip_text = ""
        self._shown: Optional[StatusInfo] = None
        self._clock_job: Optional[str] = None
        self.show(StatusInfo(source_label="starting", source_state=""))
        self._tick()
        self.bind("<Configure>", self._on_resize)
        self.bind("<Destroy>", self._on_destroy)

    # --- reading (tests, the window) --------------------------------------------------------

    def text_of(self, name: str) -> str:
        """What the field ``name`` (one of ``FIELDS``, or ``"notice"``/``"state"``/``"clock"``/``"date"``)
        says now, unshortened; "" for a hidden email field."""
        if name == "notice":
            return str(self.notice.cget("text")) if self.notice.winfo_manager() else ""
        if name == "state":
            return str(self._state_chip.cget("text"))
        if name in ("clock", "date"):
            return str(getattr(self, name).cget("text"))
        return self._texts[name]

    def shown_text(self, name: str) -> str:
        """What the label of field ``name`` shows on screen now: shortened, or "" when hidden."""
        return str(self.labels[name].cget("text")) if self.is_shown(name) else ""

    def is_shown(self, name: str) -> bool:
        return bool(self.labels[name].winfo_manager())

    # --- updating ---------------------------------------------------------------------------

    def show(self, info: StatusInfo) -> None:
        if info == self._shown:
            return
        self._shown = info
        state = info.source_state or "starting"
        self._state_chip.configure(text=state.upper(), bg=SOURCE_STATE_COLOURS.get(info.source_state, "#546e7a"))
        email = self.email_enabled
        texts = {
            "source": info.source_label,
            "today": f"today: {info.granted_today} granted · {info.denied_today} denied",
            "model": f"model {info.model_name}" if info.model_name else "",
            "outbox": "" if info.outbox_pending is None or not email else f"email outbox: {info.outbox_pending} pending",
            "email_error": f"last email error: {info.last_email_error}" if info.last_email_error and email else "",
            "storage_error": f"event log error: {info.last_storage_error}" if info.last_storage_error else "",
            "fps": f"display {info.display_fps:.0f} fps · analysis {info.analysis_fps:.0f} fps",
        }
        changed = texts != self._texts or state.upper() != self._chip_text
        self._texts, self._chip_text = texts, state.upper()
        self._set_notice(info.status_text)
        if changed:
            self._fit()

    def _font_of(self, name: str) -> tkfont.Font:
        line = self.PLACES[name][0]
        return self._bold if name == "source" else (self._normal if line == 0 else self._small)

    def _field_width(self, name: str, text: str) -> int:
        return self._font_of(name).measure(text) + 2 * FIELD_PADX

    def _line_room(self, line: int) -> int:
        """Pixels a line's fields may use: the bar's width less the clock (and the chip on line 0)."""
        width = self._width or self.winfo_width()
        if width <= 1:
            width = 800
        clock = max(self._clock_font.measure(str(self.clock.cget("text")) or "00:00:00"),
                    self._small.measure(str(self.date.cget("text")) or "0000-00-00"))
        room = width - clock - sum(CLOCK_MARGIN) - LINE_MARGIN
        if line == 0:
            room -= self._bold.measure(str(self._state_chip.cget("text"))) + 16 + sum(CHIP_MARGIN)
        return room

    def _shorten(self, shown: dict[str, str], line: int, room: int, floors: bool) -> int:
        """Shorten ``shown``'s fields in SHORTEN order until the line fits ``room`` (with ``floors``,
        none below its FLOOR_CHARS); a field that cannot keep MIN_KEPT_CHARS goes. Returns the overflow."""
        overflow = sum(self._field_width(n, t) for n, t in shown.items()) - room
        for ln, name, where in self.SHORTEN:
            if overflow <= 0:
                break
            if ln != line or name not in shown:
                continue
            font, text = self._font_of(name), shown[name]
            floor = self._field_width(name, text[:self.FLOOR_CHARS[name]] + ELLIPSIS) if floors else 0
            budget = max(floor, self._field_width(name, text) - overflow)
            if budget >= self._field_width(name, text):
                continue
            short = elide(text, lambda t: font.measure(t) + 2 * FIELD_PADX <= budget, where)
            if short:
                shown[name] = short
            else:
                del shown[name]
            overflow = sum(self._field_width(n, t) for n, t in shown.items()) - room
        return overflow

    def _fit_line(self, line: int) -> dict[str, str]:
        """The texts line ``line`` shows: in full where they fit; else shortened (not below their
        floors), then the HIDE fields hidden one by one, and last the rest shortened further."""
        room = self._line_room(line)
        names = [n for n in self.FIELDS if self.PLACES[n][0] == line and self._texts[n]]
        hide = [n for ln, n in self.HIDE if ln == line]
        hidden: set[str] = set()
        while True:
            shown = {n: self._texts[n] for n in names if n not in hidden}  # full texts back each round
            if self._shorten(shown, line, room, floors=True) <= 0:
                return shown
            victim = next((n for n in hide if n in shown), None)
            if victim is None:  # only errors left: they stay, shortened to what fits
                self._shorten(shown, line, room, floors=False)
                return shown
            hidden.add(victim)

    def _fit(self) -> None:
        self._apply({**self._fit_line(0), **self._fit_line(1)})

    def _apply(self, shown: dict[str, str]) -> None:
        """Configure the labels and (re)pack them in field order when the visible set changed."""
        visible = {name: name in shown for name in self.FIELDS}
        for name, text in shown.items():
            if self.labels[name].cget("text") != text:
                self.labels[name].configure(text=text)
        if visible != self._visible:
            self._visible = visible
            for name in self.FIELDS:
                self.labels[name].pack_forget()
            for name in self.FIELDS:
                if visible[name]:
                    self.labels[name].pack(side=self.PLACES[name][1])

    def _set_notice(self, text: str) -> None:
        if self.notice.cget("text") != text:
            self.notice.configure(text=text)
        if text and not self.notice.winfo_manager():
            self.notice.pack(side="top", fill="x", before=self._body)
        elif not text and self.notice.winfo_manager():
            self.notice.pack_forget()

    # --- clock and size ---------------------------------------------------------------------

    def _tick(self) -> None:
        now = time.time()
        local = time.localtime(now)
        self.clock.configure(text=time.strftime("%H:%M:%S", local))
        self.date.configure(text=time.strftime("%Y-%m-%d", local))
        # the next tick just after the next whole second, so the seconds never stall or skip
        self._clock_job = self.after(max(20, int((1.0 - now % 1.0) * 1000) + 15), self._tick)

    def _on_resize(self, event: tk.Event) -> None:
        if event.widget is not self or event.width == self._width:
            return
        self._width = event.width
        normal_px, small_px = font_px(event.width)
        if -int(self._normal.cget("size")) != normal_px:
            self._normal.configure(size=-normal_px)
            self._bold.configure(size=-normal_px)
            self._small.configure(size=-small_px)
            self._clock_font.configure(size=-round(normal_px * 1.3))
            self._notice_font.configure(size=-round(normal_px * 1.3))
        self.notice.configure(wraplength=max(200, event.width - 24))
        self._fit()

    def _on_destroy(self, event: tk.Event) -> None:
        if event.widget is self and self._clock_job is not None:
            self.after_cancel(self._clock_job)
            self._clock_job = None
