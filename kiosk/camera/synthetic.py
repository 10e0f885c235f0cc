"""Camera-free inputs: the public-domain portrait that matplotlib ships, and a drawn-on mask.

The demo feed, the tests and the benchmarks build their frames from these, so the product can
be seen and tested on a fresh clone without a camera or any dataset.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from kiosk.vision.preprocessing import Box

# Where the face sits in the portrait (found by the stock Haar cascade: x, y, w, h).
PORTRAIT_FACE_BOX: Box = (155, 105, 222, 222)


def portrait_path() -> Path:
    """Found without importing matplotlib (0.8 s of start-up the kiosk's demo feed cannot afford)."""
    import importlib.util

    spec = importlib.util.find_spec("matplotlib")
    if spec is not None and spec.submodule_search_locations:
        path = Path(list(spec.submodule_search_locations)[0]) / "mpl-data" / "sample_data" / "grace_hopper.jpg"
        if path.is_file():
            return path
    import matplotlib  # pragma: no cover - an unusual install layout

    return Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"


@lru_cache(maxsize=1)
def _portrait() -> np.ndarray:
    image = cv2.imread(str(portrait_path()), cv2.IMREAD_COLOR)
    if image is None:
        raise FileNotFoundError(f"matplotlib's sample portrait is missing at {portrait_path()}")
    return image


def load_portrait() -> np.ndarray:
    """The 512x600 BGR portrait of Grace Hopper (a fresh copy each call)."""
    return _portrait().copy()


PALE_BLUE = (235, 220, 200)  # BGR


def draw_surgical_mask(image: np.ndarray, face_box: Box, color: tuple[int, int, int] = PALE_BLUE) -> np.ndarray:
    """Draw a pleated surgical mask over nose and mouth of the face in ``face_box``.

    ``color`` is BGR (default a pale blue). Returns a new image; the input is left untouched.
    Pale, with well-marked pleats: in grayscale the classifier sees only brightness and edges, and
    the earlier flat light blue was about as bright as the skin around it (the first 2026-11-30
    model scored that drawing 0.28-0.82 depending on the crop; real masks are what it is judged on).
    """
    out = image.copy()
    x, y, w, h = face_box
    # the top edge over the bridge of the nose, just below the eyes, as a mask is worn properly: an
    # edge across the middle of the nose (0.50 h, until 2026-11-30) leaves the bridge bare, and a
    # model trained on real badly worn masks (door crops) rightly doubted it (P(with_mask) 0.37);
    # the bottom stays under the chin (a bare chin below it was taken for a second, small face)
    top, bottom = y + int(0.45 * h), y + int(1.02 * h)
    left, right = x + int(0.10 * w), x + int(0.90 * w)
    outline = np.array(
        [
            (left, top + int(0.06 * h)),
            (x + int(0.50 * w), top - int(0.03 * h)),
            (right, top + int(0.06 * h)),
            (right - int(0.04 * w), bottom - int(0.14 * h)),
            (x + int(0.50 * w), bottom),
            (left + int(0.04 * w), bottom - int(0.14 * h)),
        ],
        np.int32,
    )
    cv2.fillPoly(out, [outline], color, lineType=cv2.LINE_AA)
    shade = tuple(int(c * 0.6) for c in color)
    for i in range(1, 4):  # pleats
        py = top + int(i * (bottom - top) / 4.5)
        cv2.line(out, (left + int(0.03 * w), py), (right - int(0.03 * w), py), shade, max(1, w // 90), cv2.LINE_AA)
    cv2.polylines(out, [outline], True, shade, max(1, w // 80), cv2.LINE_AA)
    loop_color = (245, 245, 245)
    cv2.line(out, (left, top + int(0.06 * h)), (x - int(0.02 * w), y + int(0.45 * h)), loop_color, max(1, w // 70))
    cv2.line(out, (right, top + int(0.06 * h)), (x + w + int(0.02 * w), y + int(0.45 * h)), loop_color, max(1, w // 70))
    return out


def masked_portrait() -> np.ndarray:
    return draw_surgical_mask(load_portrait(), PORTRAIT_FACE_BOX)


def person_behind_a_parcel(size: tuple[int, int] = (512, 600), background: int = 90) -> np.ndarray:
    """Head and shoulders like the portrait's, the face hidden behind a cardboard parcel carried
    up high, on a plain wall: someone at the door whose face no detector can find, for the
    presence tests. (Simpler stand-ins were still found: BlazeFace scores a plain head-shaped
    oval of hair at 0.4-0.53, and the stars of the portrait's flag at up to 0.5.)"""
    width, height = size
    image = np.full((height, width, 3), background, np.uint8)
    cv2.ellipse(image, (width // 2, height), (int(0.48 * width), int(0.42 * height)), 0, 180, 360, (70, 45, 35), -1)
    left, top, right, bottom = int(0.2 * width), int(0.12 * height), int(0.8 * width), int(0.66 * height)
    cardboard = np.random.default_rng(0).normal(0, 5, (bottom - top, right - left, 1)) + np.array([95, 150, 190])
    image[top:bottom, left:right] = np.clip(cardboard, 0, 255).astype(np.uint8)
    tape = (top + bottom) // 2
    image[tape - int(0.03 * height):tape + int(0.03 * height), left:right] = (150, 170, 180)
    cv2.rectangle(image, (left, top), (right, bottom), (50, 90, 120), max(2, width // 150))
    return image


def place_on_canvas(image: np.ndarray, size: tuple[int, int] = (640, 480), scale: float = 0.8,
                    offset: tuple[int, int] = (0, 0), background: int = 90) -> tuple[np.ndarray, float, tuple[int, int]]:
    """Put a scaled copy of ``image`` on a plain frame of ``size`` (w, h).

    Returns the frame, the scale used and the top-left corner where the image landed, so a
    caller can map a box from the image into the frame.
    """
    width, height = size
    frame = np.full((height, width, 3), background, np.uint8)
    scaled = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    sh, sw = scaled.shape[:2]
    x0 = (width - sw) // 2 + offset[0]
    y0 = (height - sh) // 2 + offset[1]
    fx0, fy0 = max(0, x0), max(0, y0)
    fx1, fy1 = min(width, x0 + sw), min(height, y0 + sh)
    if fx1 > fx0 and fy1 > fy0:
        frame[fy0:fy1, fx0:fx1] = scaled[fy0 - y0 : fy1 - y0, fx0 - x0 : fx1 - x0]
    return frame, scale, (x0, y0)


def camera_noise(frame: np.ndarray, rng: np.random.Generator, sigma: float = 4.0) -> np.ndarray:
    """``frame`` as a camera delivers it: fresh Gaussian sensor noise every time, so no two frames
    of a still scene are identical (what the motion gate must tell apart from real change)."""
    return np.clip(frame.astype(np.float32) + rng.normal(0, sigma, frame.shape), 0, 255).astype(np.uint8)
