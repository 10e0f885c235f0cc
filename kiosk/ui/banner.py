"""The large access banner under the live view: what the person at the door reads.

One look per decision state: neutral WAITING, amber CHECKING (with a hint: look at the camera,
adjust the mask), green ACCESS GRANTED, red ACCESS DENIED (no mask, or mask not confirmed in
time). A soft-policy grant (allowed without a mask, logged) keeps the green look and says so on
its second line. Without a picture (camera offline or never opened, video ended) it says OUT OF
SERVICE in dark letters on a light band (a paper notice: no other state looks like it, and it
stands out under a dark live view), never "step up to the camera", and no earlier decision
stays. The words come from ``kiosk.ui.messages`` in the configured language. Font sizes follow
the window width so the text stays readable from a few metres away on any screen.
"""

from __future__ import annotations

import tkinter as tk
import tkinter.font as tkfont
from dataclasses import dataclass
from typing import Any

from kiosk.ui.messages import message


@dataclass(frozen=True)
class BannerLook:
    headline: str
    detail: str
    background: str
    foreground: str


COLOURS = {  # background, foreground
    "waiting": ("#37474f", "#ffffff"),
    "checking": ("#f9a825", "#212121"),
    "granted": ("#1b7f3a", "#ffffff"),
    "denied": ("#c62828", "#ffffff"),
    "uncertain": ("#c62828", "#ffffff"),
    "out_of_service": ("#eceff1", "#212121"),
}
CHECKING_HINT = "hint.look_at_camera"  # what CHECKING says when the engine gives no hint


def look_of(name: str, language: str = "en", hint: str = "", soft_grant: bool = False) -> BannerLook:
    """The banner for state ``name`` ("waiting", "checking", "granted", "denied", "uncertain",
    "out_of_service")."""
    if name not in COLOURS:
        name = "waiting"
    if name == "checking":
        detail_key = f"hint.{hint}" if hint else CHECKING_HINT
    elif name == "granted" and soft_grant:
        detail_key = "granted.soft"
    else:
        detail_key = f"{name}.detail"
    return BannerLook(message(name, language), message(detail_key, language), *COLOURS[name])


WAITING_LOOK = look_of("waiting")
GRANTED_LOOK = look_of("granted")
DENIED_LOOK = look_of("denied")


def state_name(state: Any) -> str:
    """``DecisionState.GRANTED`` or ``"granted"`` -> ``"granted"``."""
    return str(getattr(state, "value", state)).lower()


class Banner(tk.Frame):
    """Two lines of large text on a full-width coloured band."""

    def __init__(self, master: tk.Misc, language: str = "en") -> None:
        super().__init__(master, bg=WAITING_LOOK.background)
        self.language = language
        self._headline_font = tkfont.Font(master, family="DejaVu Sans", size=-48, weight="bold")
        self._detail_font = tkfont.Font(master, family="DejaVu Sans", size=-24, weight="bold")
        self._headline = tk.Label(self, font=self._headline_font, pady=4)
        self._detail = tk.Label(self, font=self._detail_font, pady=2)
        self._headline.pack(fill="x", padx=12, pady=(10, 0))
        self._detail.pack(fill="x", padx=12, pady=(0, 12))
        self._state = ""
        self._look = WAITING_LOOK
        self._apply(look_of("waiting", language), "waiting")
        self.bind("<Configure>", self._on_resize)

    @property
    def state(self) -> str:
        return self._state

    @property
    def text(self) -> str:
        """Both lines as one string, e.g. ``ACCESS DENIED — PLEASE WEAR A MASK``."""
        return f"{self._headline.cget('text')} — {self._detail.cget('text')}"

    @property
    def background(self) -> str:
        return str(self._headline.cget("bg"))

    def show(self, state: Any, soft_grant: bool = False, hint: str = "") -> None:
        """Show ``state``; ``soft_grant`` marks a grant made without a mask under the soft policy,
        ``hint`` (while checking) what would help the visitor."""
        name = state_name(state)
        look = look_of(name, self.language, hint, soft_grant)
        if look != self._look or name != self._state:  # reconfigure only on change: cheap at 30 fps
            self._apply(look, name)

    def _apply(self, look: BannerLook, name: str) -> None:
        self._look, self._state = look, name
        self.configure(bg=look.background)
        for label, text in ((self._headline, look.headline), (self._detail, look.detail)):
            label.configure(text=text, bg=look.background, fg=look.foreground)

    def _on_resize(self, event: tk.Event) -> None:
        for label in (self._headline, self._detail):  # a narrow banner (beside the staff panel) wraps, never clips
            label.configure(wraplength=max(100, event.width - 24))
        headline_px = max(22, min(96, event.width // 14))
        if -int(self._headline_font.cget("size")) != headline_px:
            self._headline_font.configure(size=-headline_px)
            self._detail_font.configure(size=-max(14, int(headline_px * 0.45)))
