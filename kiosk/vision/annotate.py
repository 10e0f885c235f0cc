"""Drawing classification results onto frames: one look for the analyze CLI, the kiosk window
and event snapshots, so an operator sees the same boxes everywhere.

Green box = mask worn, red = no mask, orange = mask worn incorrectly; each box carries a label
with the confidence, e.g. "Mask 97%" / "No Mask 88%".
"""

from __future__ import annotations

from typing import Iterable

import cv2
import numpy as np

from kiosk.vision.model_spec import WITH_INCORRECT_MASK, WITH_MASK, WITHOUT_MASK
from kiosk.records import FaceResult

BGR = tuple[int, int, int]

GREEN: BGR = (0, 200, 0)
RED: BGR = (0, 0, 230)
ORANGE: BGR = (0, 140, 255)

LABEL_COLORS: dict[str, BGR] = {WITH_MASK: GREEN, WITHOUT_MASK: RED, WITH_INCORRECT_MASK: ORANGE}
LABEL_TEXTS: dict[str, str] = {WITH_MASK: "Mask", WITHOUT_MASK: "No Mask", WITH_INCORRECT_MASK: "Mask Incorrect"}

FONT = cv2.FONT_HERSHEY_SIMPLEX


def label_color(label: str) -> BGR:
    """Box colour for a class label; anything that is not a worn mask is shown red."""
    return LABEL_COLORS.get(label, RED)


def label_text(result: FaceResult) -> str:
    """The caption of one face, e.g. "Mask 97%"."""
    return f"{LABEL_TEXTS.get(result.label, result.label)} {result.score * 100:.0f}%"


def _line_width(frame: np.ndarray) -> int:
    """Lines that stay visible on a 4K frame without smothering a 320 px thumbnail."""
    return max(2, round(max(frame.shape[:2]) / 320))


def _to_bgr(frame: np.ndarray) -> np.ndarray:
    """A BGR copy: coloured boxes need three channels even when the frame is grayscale."""
    if frame.ndim == 2:
        return cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
    if frame.ndim == 3 and frame.shape[2] == 1:
        return cv2.cvtColor(frame[:, :, 0], cv2.COLOR_GRAY2BGR)
    if frame.ndim == 3 and frame.shape[2] == 4:
        return cv2.cvtColor(frame, cv2.COLOR_BGRA2BGR)
    return frame.copy()


def draw_result(canvas: np.ndarray, result: FaceResult) -> None:
    """Draw one face's box and caption onto ``canvas`` in place (a BGR image)."""
    x, y, w, h = (int(v) for v in result.box)
    color = label_color(result.label)
    thickness = _line_width(canvas)
    cv2.rectangle(canvas, (x, y), (x + w, y + h), color, thickness)

    text = label_text(result)
    font_scale = max(0.4, thickness * 0.3)
    (tw, th), baseline = cv2.getTextSize(text, FONT, font_scale, max(1, thickness // 2))
    pad = thickness
    # caption above the box, or inside its top edge when the box touches the frame top
    top = y - th - baseline - 2 * pad
    if top < 0:
        top = y
    bottom = top + th + baseline + 2 * pad
    right = min(canvas.shape[1], x + tw + 2 * pad)
    cv2.rectangle(canvas, (x, top), (max(right, x + 1), bottom), color, cv2.FILLED)
    cv2.putText(canvas, text, (x + pad, bottom - baseline - pad), FONT, font_scale, (255, 255, 255),
                max(1, thickness // 2), cv2.LINE_AA)


def draw_results(frame: np.ndarray, results: Iterable[FaceResult]) -> np.ndarray:
    """A BGR copy of ``frame`` with every result drawn on it; ``frame`` itself is not changed."""
    canvas = _to_bgr(frame)
    for result in results:
        draw_result(canvas, result)
    return canvas
