"""Frame -> Tk image helpers shared by the live view and the staff panel.

OpenCV frames are BGR; Tk wants RGB. Scaling happens in OpenCV (fast, on the small frame) and
a PIL image is built on the scaled result only, so the Tk thread does the least work per frame.
"""

from __future__ import annotations

import cv2
import numpy as np
from PIL import Image


def fit_size(width: int, height: int, max_width: int, max_height: int) -> tuple[int, int]:
    """The largest size with the aspect ratio of ``width x height`` inside ``max_width x max_height``."""
    if width <= 0 or height <= 0 or max_width <= 0 or max_height <= 0:
        return 0, 0
    scale = min(max_width / width, max_height / height)
    return max(1, int(round(width * scale))), max(1, int(round(height * scale)))


def scale_bgr(frame: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``frame`` resized to ``size`` (w, h); shrinking uses area averaging, enlarging is linear."""
    if (frame.shape[1], frame.shape[0]) == size:
        return frame
    shrinking = size[0] < frame.shape[1]
    return cv2.resize(frame, size, interpolation=cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR)


def bgr_to_pil(frame: np.ndarray) -> Image.Image:
    """A PIL RGB image of a BGR (or grayscale) OpenCV frame."""
    if frame.ndim == 2:
        return Image.fromarray(frame, "L").convert("RGB")
    return Image.fromarray(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB), "RGB")
