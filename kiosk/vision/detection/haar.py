"""Haar cascade face detectors: the stock baseline and the tuned one the kiosk uses by default.

Why the tuning: the stock frontal cascade learnt bare faces, so a mask over mouth and nose
removes much of the evidence it counts on and it finds only about a third of masked faces. The
tuned detector (each step measured by ``python -m tools.detection_study``):

- runs two complementary frontal cascades (``default`` and ``alt2``) and keeps the union;
- accepts a face with fewer agreeing neighbour windows (2-4 instead of 5) when its upper half
  shows an eye (a masked face has lost its lower-face evidence, not its eyes);
- suppresses overlapping boxes (the same face found by both cascades), keeping the best-supported;
- works on a copy at most 320 px wide: as fast as the stock cascade at 640 px, and fewer false
  detections. Histogram equalisation and CLAHE were measured too and lowered recall, so they are off.

Even so, Haar finds well under half of masked faces in real photos; ``blazeface`` does far better.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from kiosk.vision.detection.boxes import BoxFit, non_max_suppression
from kiosk.vision.preprocessing import Box, resize_by, to_grayscale

FRONTAL_DEFAULT = "haarcascade_frontalface_default.xml"
FRONTAL_ALT2 = "haarcascade_frontalface_alt2.xml"
FRONTAL_ALT = "haarcascade_frontalface_alt.xml"
EYE = "haarcascade_eye.xml"
EYE_GLASSES = "haarcascade_eye_tree_eyeglasses.xml"
PROFILE = "haarcascade_profileface.xml"  # left-facing profiles; the mirrored frame gives right-facing ones


def cascade_path(file_name: str) -> str:
    return cv2.data.haarcascades + file_name


def load_cascade(file_name: str) -> cv2.CascadeClassifier:
    cascade = cv2.CascadeClassifier(cascade_path(file_name))
    if cascade.empty():
        raise RuntimeError(f"cannot load Haar cascade {file_name} from {cv2.data.haarcascades}")
    return cascade


def scale_for_width(frame_width: int, max_width: int) -> float:
    """Factor that brings a frame down to ``max_width`` (never up)."""
    return min(1.0, max_width / float(frame_width))


class StockHaarDetector:
    """The stock frontal-face cascade with the common (1.1, 5) settings: the baseline to beat."""

    name = "haar-stock"

    def __init__(self, min_face_px: int = 40, scale_factor: float = 1.1, min_neighbors: int = 5) -> None:
        self._cascade = load_cascade(FRONTAL_DEFAULT)
        self.min_face_px = min_face_px
        self.scale_factor = scale_factor
        self.min_neighbors = min_neighbors

    def detect(self, frame: np.ndarray) -> list[Box]:
        gray = to_grayscale(frame)
        found = self._cascade.detectMultiScale(
            gray, scaleFactor=self.scale_factor, minNeighbors=self.min_neighbors,
            minSize=(self.min_face_px, self.min_face_px),
        )
        return [tuple(int(v) for v in box) for box in found]  # type: ignore[misc]


@dataclass(frozen=True)
class HaarSettings:
    """Every knob of the tuned detector; the study varies these one step at a time."""

    cascades: tuple[str, ...] = (FRONTAL_DEFAULT, FRONTAL_ALT2)
    # "none", "hist" or "clahe". CLAHE lifts masked-face recall on real photos from 0.376 to 0.419
    # at 320 px (python -m tools.detection_study) but adds false detections that flicker from frame
    # to frame, so tracking keeps rescanning the whole frame (tools.bench: 68 -> 4 fps); "hist"
    # lowers recall. Both off.
    equalize: str = "none"
    scale_factor: float = 1.1
    min_neighbors: int = 5  # accepted on the cascade's own evidence
    eye_neighbors: int = 2  # 1..min_neighbors-1: weaker candidates accepted when an eye shows; 0 = off
    eye_cascades: tuple[str, ...] = (EYE, EYE_GLASSES)
    profile_neighbors: int = 0  # > 0: also the profile cascade on the frame and its mirror image (slow)
    nms: bool = True
    max_width: int = 320  # frames wider than this are scaled down first (speed: 4x fewer pixels than 640)


# Annotated face boxes are narrower than the square cascade window and sit a little lower
# (measured by python -m tools.box_fit_study --raw); the classifier learnt from annotated boxes.
HAAR_BOX_FIT = BoxFit(width=0.78, height=0.95, shift_y=0.05)


class HaarDetector:
    """Frontal cascades on a scaled-down grey frame, eye evidence for weak candidates, NMS, then
    the box moved onto the face as annotated boxes frame it."""

    name = "haar"

    def __init__(self, min_face_px: int = 40, settings: HaarSettings = HaarSettings()) -> None:
        self.min_face_px = min_face_px
        self.settings = settings
        self._cascades = [load_cascade(name) for name in settings.cascades]
        self._eyes = [load_cascade(name) for name in settings.eye_cascades] if settings.eye_neighbors else []
        self._profile = load_cascade(PROFILE) if settings.profile_neighbors else None
        self._clahe = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(8, 8))
        self.box_fit = HAAR_BOX_FIT

    def _prepare(self, frame: np.ndarray) -> tuple[np.ndarray, float]:
        gray = to_grayscale(frame)
        scale = scale_for_width(gray.shape[1], self.settings.max_width)
        if scale < 1.0:
            gray = resize_by(gray, scale)
        if self.settings.equalize == "hist":
            gray = cv2.equalizeHist(gray)
        elif self.settings.equalize == "clahe":
            gray = self._clahe.apply(gray)
        return gray, scale

    def _has_eye(self, gray: np.ndarray, box: Box) -> bool:
        """An eye in the upper half of ``box``: the evidence a mask leaves uncovered."""
        x, y, w, h = box
        roi = gray[max(0, y + h // 8) : y + h // 2 + h // 10, max(0, x) : x + w]
        if roi.size == 0:
            return False
        smallest = max(8, w // 7)
        largest = max(smallest + 1, w // 2)
        for cascade in self._eyes:
            if len(cascade.detectMultiScale(roi, 1.1, 3, minSize=(smallest, smallest), maxSize=(largest, largest))):
                return True
        return False

    def detect_scored(self, frame: np.ndarray) -> list[tuple[Box, float]]:
        """Face boxes in frame pixels with their support (agreeing neighbour windows)."""
        s = self.settings
        gray, scale = self._prepare(frame)
        min_px = max(16, int(round(self.min_face_px * scale)))
        weakest = s.eye_neighbors if s.eye_neighbors else s.min_neighbors
        boxes: list[Box] = []
        support: list[float] = []
        for cascade in self._cascades:
            found, neighbours = cascade.detectMultiScale2(gray, s.scale_factor, weakest, minSize=(min_px, min_px))
            for box, count in zip(found, neighbours):
                box = tuple(int(v) for v in box)
                if count >= s.min_neighbors or self._has_eye(gray, box):  # type: ignore[arg-type]
                    boxes.append(box)  # type: ignore[arg-type]
                    support.append(float(count))
        if self._profile is not None:
            width = gray.shape[1]
            for mirrored in (False, True):
                view = np.ascontiguousarray(gray[:, ::-1]) if mirrored else gray
                found, neighbours = self._profile.detectMultiScale2(view, s.scale_factor, s.profile_neighbors,
                                                                    minSize=(min_px, min_px))
                for (x, y, w, h), count in zip(found, neighbours):
                    boxes.append((int(width - x - w) if mirrored else int(x), int(y), int(w), int(h)))
                    support.append(float(count))
        keep = non_max_suppression(boxes, support) if s.nms else range(len(boxes))
        return [(self.box_fit.apply(tuple(int(round(v / scale)) for v in boxes[i])), support[i])  # type: ignore[arg-type]
                for i in keep]

    def detect(self, frame: np.ndarray) -> list[Box]:
        return [box for box, _ in self.detect_scored(frame)]
