"""The live view: the latest frame with its face boxes, scaled to the canvas keeping its aspect.

One ``ImageTk.PhotoImage`` is reused and pasted into while the display size stays the same, so
30 frames a second create no new Tk images (and leak none). Boxes are drawn by
``kiosk.vision.annotate`` at display resolution, so captions stay sharp on a large screen.
An overlay message covers the view when there is nothing live to show ("Camera offline").
"""

from __future__ import annotations

import dataclasses
import tkinter as tk
import tkinter.font as tkfont
from typing import Optional, Sequence

import numpy as np
from PIL import Image, ImageTk

from kiosk.vision.annotate import draw_results
from kiosk.records import FaceResult
from kiosk.ui.images import bgr_to_pil, fit_size, scale_bgr

VIEW_BG = "#101418"


def scale_results(results: Sequence[FaceResult], factor: float) -> list[FaceResult]:
    """Face results with boxes mapped into a frame scaled by ``factor``."""
    if factor == 1.0:
        return list(results)
    return [dataclasses.replace(r, box=tuple(int(round(v * factor)) for v in r.box)) for r in results]


class VideoView:
    """A canvas showing frames; ``show`` is called from the Tk thread with the newest frame only."""

    def __init__(self, master: tk.Misc) -> None:
        self.canvas = tk.Canvas(master, bg=VIEW_BG, highlightthickness=0, width=640, height=480)
        self._image_item = self.canvas.create_image(0, 0, anchor="center")
        # a stippled black veil dims the last picture while a message says it is not live
        self._veil_item = self.canvas.create_rectangle(0, 0, 0, 0, fill="#000000", stipple="gray50", width=0,
                                                       state="hidden")
        self._font = tkfont.Font(master, family="DejaVu Sans", size=-30, weight="bold")  # kept: named fonts die with it
        self._shadow_item = self.canvas.create_text(0, 0, text="", fill="#000000", font=self._font, justify="center")
        self._message_item = self.canvas.create_text(0, 0, text="", fill="#ffffff", font=self._font, justify="center")
        self._photo: Optional[ImageTk.PhotoImage] = None
        self._photo_size = (0, 0)
        self._last: Optional[tuple[np.ndarray, list[FaceResult]]] = None
        self.frames_shown = 0
        self.canvas.bind("<Configure>", self._on_resize)
        self.set_message("Starting camera…")

    @property
    def size(self) -> tuple[int, int]:
        return max(1, self.canvas.winfo_width()), max(1, self.canvas.winfo_height())

    @property
    def photo_size(self) -> tuple[int, int]:
        return self._photo_size

    @property
    def results(self) -> list[FaceResult]:
        """The faces boxed on the picture shown now."""
        return self._last[1] if self._last is not None else []

    def displayed_image(self) -> Optional[Image.Image]:
        """The picture on screen as Tk holds it (RGBA), read back from the photo image; None before the first."""
        return ImageTk.getimage(self._photo) if self._photo is not None else None

    def show(self, frame: np.ndarray, results: Sequence[FaceResult]) -> None:
        """Draw ``frame`` (BGR, as captured) with ``results`` boxes, fitted into the canvas."""
        self._last = (frame, list(results))
        if self._render(frame, self._last[1]):
            self.frames_shown += 1

    def _render(self, frame: np.ndarray, results: list[FaceResult]) -> bool:
        width, height = self.size
        size = fit_size(frame.shape[1], frame.shape[0], width, height)
        if size[0] < 2 or size[1] < 2:  # window not laid out yet
            return False
        scaled = scale_bgr(frame, size)
        annotated = draw_results(scaled, scale_results(results, size[0] / frame.shape[1]))
        image = bgr_to_pil(annotated)
        if self._photo is not None and self._photo_size == size:
            self._photo.paste(image)
        else:  # first frame or new size: one new PhotoImage, the old one is freed with its reference
            self._photo = ImageTk.PhotoImage(image, master=self.canvas)
            self._photo_size = size
            self.canvas.itemconfigure(self._image_item, image=self._photo)
        return True

    def set_message(self, text: str) -> None:
        """An overlay over the view ("" removes it); the last frame stays visible beneath."""
        if self.canvas.itemcget(self._message_item, "text") != text:
            self.canvas.itemconfigure(self._message_item, text=text)
            self.canvas.itemconfigure(self._shadow_item, text=text)
            self.canvas.itemconfigure(self._veil_item, state="normal" if text else "hidden")

    @property
    def message(self) -> str:
        return str(self.canvas.itemcget(self._message_item, "text"))

    def _on_resize(self, event: tk.Event) -> None:
        cx, cy = event.width // 2, event.height // 2
        self.canvas.coords(self._image_item, cx, cy)
        self.canvas.coords(self._veil_item, 0, 0, event.width, event.height)
        self.canvas.coords(self._message_item, cx, cy)
        self.canvas.coords(self._shadow_item, cx + 2, cy + 2)
        width = max(100, event.width - 40)
        self.canvas.itemconfigure(self._message_item, width=width)
        self.canvas.itemconfigure(self._shadow_item, width=width)
        if self._last is not None:  # a stopped feed (video ended) must still fill the resized window
            self._render(*self._last)
