"""The one face preprocessing path: crop -> grayscale -> resize -> normalise.

Training (``train/``) and every kiosk entry point call these functions, with the ``ModelSpec``
stored beside the model, so a crop is prepared identically when the model learns and when it
decides at the door. Images are OpenCV arrays: BGR ``uint8`` (H, W, 3) or grayscale (H, W).
"""

from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np

from kiosk.vision.model_spec import ModelSpec

Box = tuple[int, int, int, int]  # x, y, w, h in pixels of the frame


def expand_box(box: Box, margin: float, frame_shape: tuple[int, ...]) -> Box:
    """Widen ``box`` by ``margin`` of its size on every side, clipped to the frame."""
    x, y, w, h = box
    height, width = frame_shape[:2]
    dx, dy = int(round(w * margin)), int(round(h * margin))
    x0, y0 = max(0, x - dx), max(0, y - dy)
    x1, y1 = min(width, x + w + dx), min(height, y + h + dy)
    return x0, y0, max(0, x1 - x0), max(0, y1 - y0)


def crop_face(frame: np.ndarray, box: Box, margin: float) -> np.ndarray:
    """The face region a detector found, with the model's context margin around it."""
    x, y, w, h = expand_box(box, margin, frame.shape)
    if w == 0 or h == 0:
        raise ValueError(f"face box {box} lies outside the {frame.shape[1]}x{frame.shape[0]} frame")
    return frame[y : y + h, x : x + w]


def resize_by(image: np.ndarray, scale: float, interpolation: int = cv2.INTER_AREA) -> np.ndarray:
    """``image`` scaled by ``scale``, each side at least 1 px: ``cv2.resize(fx=, fy=)`` asserts
    when a thin picture (5000x1 shrunk to 320 px wide) would round to 0 rows."""
    height, width = image.shape[:2]
    size = (int(round(width * scale)), int(round(height * scale)))
    if min(size) >= 1:  # the usual case, pixel for pixel what OpenCV's own scaling gives
        return cv2.resize(image, None, fx=scale, fy=scale, interpolation=interpolation)
    return cv2.resize(image, (max(1, size[0]), max(1, size[1])), interpolation=interpolation)


def to_grayscale(image: np.ndarray) -> np.ndarray:
    if image.ndim == 2:
        return image
    if image.ndim == 3 and image.shape[2] == 1:
        return image[:, :, 0]
    if image.ndim == 3 and image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2GRAY)
    if image.ndim == 3 and image.shape[2] == 3:
        return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    raise ValueError(f"unsupported image shape {image.shape}")


def to_model_input(face: np.ndarray, spec: ModelSpec) -> np.ndarray:
    """One face crop as the model's float32 input tensor (size, size, channels)."""
    if face.size == 0:
        raise ValueError("empty face crop")
    if face.dtype != np.uint8:
        raise ValueError(f"face crop must be uint8, got {face.dtype}")
    if spec.grayscale:
        face = to_grayscale(face)
    elif face.ndim == 2:
        face = cv2.cvtColor(face, cv2.COLOR_GRAY2BGR)
    size = spec.input_size
    interpolation = cv2.INTER_AREA if min(face.shape[:2]) >= size else cv2.INTER_LINEAR
    resized = cv2.resize(face, (size, size), interpolation=interpolation)
    tensor = (resized.astype(np.float32) / 255.0 - spec.norm_mean) / spec.norm_std
    return tensor.reshape(size, size, spec.channels)


def prepare_batch(faces: Sequence[np.ndarray], spec: ModelSpec) -> np.ndarray:
    """Stack face crops into one (N, size, size, channels) batch for a single model call."""
    if not faces:
        return np.zeros((0, spec.input_size, spec.input_size, spec.channels), np.float32)
    return np.stack([to_model_input(face, spec) for face in faces])
