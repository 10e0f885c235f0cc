"""The large access banner under the live view: what the person at the door reads.

Four looks, one per decision state: neutral WAITING, amber CHECKING, green ACCESS GRANTED,
red ACCESS DENIED. A soft-policy grant (allowed without a mask, logged) keeps the green look and
says so on its second line. Font sizes follow the window width so the text stays readable from
a few metres away on any screen.
"""

from __future__ import annotations

import tkinter as tk
import tkinter.font as tkfont
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class BannerLook:
    headline: str
    detail: str
    background: str
    foreground: str


WAITING_LOOK = BannerLook("WAITING", "Please step up to the camera", "#37474f", "#ffffff")
CHECKING_LOOK = BannerLook("CHECKING…", "Please look at the camera", "#f9a825", "#212121")
GRANTED_LOOK = BannerLook("ACCESS GRANTED", "Thank you for wearing a mask", "#1b7f3a", "#ffffff")
DENIED_LOOK = BannerLook("ACCESS DENIED", "PLEASE WEAR A MASK", "#c62828", "#ffffff")
SOFT_GRANT_DETAIL = "mask required, logged"

LOOKS = {"waiting": WAITING_LOOK, "checking": CHECKING_LOOK, "granted": GRANTED_LOOK, "denied": DENIED_LOOK}


def state_name(state: Any) -> str:
    """``DecisionState.GRANTED`` or ``"granted"`` -> ``"granted"``."""
    return str(getattr(state, "value", state)).lower()


class Banner(tk.Frame):
    """Two lines of large text on a full-width coloured band."""

    def __init__(self, master: tk.Misc) -> None:
        super().__init__(master, bg=WAITING_LOOK.background)
        self._headline_font = tkfont.Font(master, family="DejaVu Sans", size=-48, weight="bold")
        self._detail_font = tkfont.Font(master, family="DejaVu Sans", size=-24, weight="bold")
        self._headline = tk.Label(self, font=self._headline_font, pady=4)
        self._detail = tk.Label(self, font=self._detail_font, pady=2)
        self._headline.pack(fill="x", padx=12, pady=(10, 0))
        self._detail.pack(fill="x", padx=12, pady=(0, 12))
        self._state = ""
        self._look = WAITING_LOOK
        self._apply(WAITING_LOOK, "waiting")
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

    def show(self, state: Any, soft_grant: bool = False) -> None:
        """Show ``state``; ``soft_grant`` marks a grant made without a mask under the soft policy."""
        name = state_name(state)
        look = LOOKS.get(name, WAITING_LOOK)
        if name == "granted" and soft_grant:
            look = BannerLook(look.headline, SOFT_GRANT_DETAIL, look.background, look.foreground)
        if look != self._look or name != self._state:  # reconfigure only on change: cheap at 30 fps
            self._apply(look, name)

    def _apply(self, look: BannerLook, name: str) -> None:
        self._look, self._state = look, name
        self.configure(bg=look.background)
        for label, text in ((self._headline, look.headline), (self._detail, look.detail)):
            label.configure(text=text, bg=look.background, fg=look.foreground)

    def _on_resize(self, event: tk.Event) -> None:
        headline_px = max(22, min(96, event.width // 14))
        if -int(self._headline_font.cget("size")) != headline_px:
            self._headline_font.configure(size=-headline_px)
            self._detail_font.configure(size=-max(14, int(headline_px * 0.45)))
