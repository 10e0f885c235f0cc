"""A camera-free demo feed: a person walks up without a mask, puts one on, and walks away.

Built at start from the public-domain portrait shipped with matplotlib (``kiosk.camera.synthetic``), so
it needs no files and shows every kiosk state in one ~11 s loop: WAITING (empty), CHECKING and
DENIED (unmasked), GRANTED (masked), WAITING again. Frames are drawn on demand from the frame
index, so the loop costs two pre-scaled images of memory, not hundreds of stored frames, and
the same index always gives the same frame (reproducible headless runs).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import cv2
import numpy as np

from kiosk.camera.frame_source import FrameSource
from kiosk.vision.preprocessing import Box
from kiosk.camera.synthetic import PORTRAIT_FACE_BOX, draw_surgical_mask, load_portrait, place_on_canvas

DEMO_FPS = 25.0
FACE_HEIGHT_FRACTION = 0.42  # ~200 px face in a 480 px frame: large and frontal, like at a door
BACKGROUND = 90


@dataclass(frozen=True)
class Phase:
    name: str  # "empty", "arriving", "unmasked", "masked", "leaving"
    seconds: float
    masked: bool = False
    visible: bool = True


# Long enough that the default decision settings reach DENIED in the unmasked part and GRANTED
# in the masked part (the denial is held for hold_s = 3 s before the mask can flip it).
PHASES: tuple[Phase, ...] = (
    Phase("empty", 1.5, visible=False),
    Phase("arriving", 0.8),
    Phase("unmasked", 3.5),
    Phase("masked", 4.0, masked=True),
    Phase("leaving", 0.8, masked=True),
)
LOOP_SECONDS = sum(p.seconds for p in PHASES)


def phase_at(seconds: float) -> tuple[Phase, float]:
    """The phase at a time into the loop, and how far through it (0..1)."""
    t = seconds % LOOP_SECONDS
    for phase in PHASES:
        if t < phase.seconds:
            return phase, t / phase.seconds
        t -= phase.seconds
    return PHASES[-1], 1.0


def _ease(progress: float) -> float:
    return 1.0 - (1.0 - progress) ** 3


class DemoFeed(FrameSource):
    """The demo loop as a ``FrameSource`` (infinite; the capture thread paces it at ``DEMO_FPS``)."""

    live_state = "demo"
    kind = "demo"  # its events are recorded as demo: never emailed, counted or reported

    def __init__(self, size: tuple[int, int] = (640, 480), status_text: str = "", fps: float = DEMO_FPS) -> None:
        self.label = "demo"
        self.status_text = status_text
        self.fps = fps
        self.size = size
        self.index = 0
        width, height = size
        self.scale = FACE_HEIGHT_FRACTION * height / PORTRAIT_FACE_BOX[3]
        portrait = load_portrait()
        self._person = {
            False: self._scaled(portrait),
            True: self._scaled(draw_surgical_mask(portrait, PORTRAIT_FACE_BOX)),
        }
        fx, fy, fw, fh = PORTRAIT_FACE_BOX
        ph, pw = portrait.shape[:2]
        # offset that puts the face centre at (50 %, 45 %) of the frame
        self._centre_offset = (
            round(width / 2 - (fx + fw / 2) * self.scale - (width - pw * self.scale) / 2),
            round(0.45 * height - (fy + fh / 2) * self.scale - (height - ph * self.scale) / 2),
        )

    def _scaled(self, image: np.ndarray) -> np.ndarray:
        return cv2.resize(image, None, fx=self.scale, fy=self.scale, interpolation=cv2.INTER_AREA)

    def open(self) -> None:
        self.index = 0

    def _slide(self, phase: Phase, progress: float) -> int:
        width = self.size[0]
        if phase.name == "arriving":
            return round((1.0 - _ease(progress)) * width)
        if phase.name == "leaving":
            return -round(_ease(progress) * width)
        return 0

    def layout(self, index: int) -> tuple[Phase, Optional[Box]]:
        """The phase of frame ``index`` and where the face is in it (None when nobody is there)."""
        phase, progress = phase_at(index / self.fps)
        if not phase.visible:
            return phase, None
        dx = self._slide(phase, progress)
        ox, oy = self._centre_offset[0] + dx, self._centre_offset[1]
        width, height = self.size
        person = self._person[phase.masked]
        x0 = (width - person.shape[1]) // 2 + ox
        y0 = (height - person.shape[0]) // 2 + oy
        fx, fy, fw, fh = PORTRAIT_FACE_BOX
        box = (x0 + round(fx * self.scale), y0 + round(fy * self.scale), round(fw * self.scale), round(fh * self.scale))
        return phase, box

    def frame_at(self, index: int) -> np.ndarray:
        phase, progress = phase_at(index / self.fps)
        if phase.visible:
            dx = self._slide(phase, progress)
            offset = (self._centre_offset[0] + dx, self._centre_offset[1])
            frame, _, _ = place_on_canvas(self._person[phase.masked], self.size, 1.0, offset, BACKGROUND)
        else:
            width, height = self.size
            frame = np.full((height, width, 3), BACKGROUND, np.uint8)
        cv2.putText(frame, "DEMO", (10, self.size[1] - 12), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (200, 200, 200), 1,
                    cv2.LINE_AA)
        return frame

    def read(self) -> np.ndarray:
        frame = self.frame_at(self.index)
        self.index += 1
        return frame
