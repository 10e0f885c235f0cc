"""Face detection: a small ``FaceDetector`` interface with interchangeable detectors.

Every detector takes a BGR frame and returns face boxes (x, y, w, h) in that frame's pixels.
"""

from __future__ import annotations

from typing import Protocol

import cv2
import numpy as np

from kiosk.preprocessing import Box, to_grayscale


class FaceDetector(Protocol):
    name: str

    def detect(self, frame: np.ndarray) -> list[Box]: ...


def cascade_path(file_name: str) -> str:
    return cv2.data.haarcascades + file_name


def load_cascade(file_name: str) -> cv2.CascadeClassifier:
    cascade = cv2.CascadeClassifier(cascade_path(file_name))
    if cascade.empty():
        raise RuntimeError(f"cannot load Haar cascade {file_name} from {cv2.data.haarcascades}")
    return cascade


class StockHaarDetector:
    """The stock frontal-face cascade with the common (1.1, 5) settings: the baseline to beat."""

    name = "haar-stock"

    def __init__(self, min_face_px: int = 40, scale_factor: float = 1.1, min_neighbors: int = 5) -> None:
        self._cascade = load_cascade("haarcascade_frontalface_default.xml")
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


def build_detector(detection_cfg) -> FaceDetector:
    """The detector named in ``[detection] detector`` (a ``DetectionSection``)."""
    if detection_cfg.detector == "haar-stock":
        return StockHaarDetector(min_face_px=detection_cfg.min_face_px)
    # "haar" (improved) and "mtcnn" are filled in by the detection work; until then the stock path
    return StockHaarDetector(min_face_px=detection_cfg.min_face_px)
