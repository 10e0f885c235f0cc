"""One analysis pipeline: frame -> faces -> one batched classification -> ``FaceResult`` list.

The kiosk, the ``analyze`` CLI, the evaluation and the benchmark all call ``FrameAnalyzer``.
"""

from __future__ import annotations

import logging

import numpy as np

from kiosk.vision.classifier import MaskClassifier
from kiosk.vision.detection import FaceDetector, build_detector
from kiosk.vision.preprocessing import crop_face
from kiosk.records import FaceResult

log = logging.getLogger(__name__)


class FrameAnalyzer:
    """Finds every face in a frame and classifies all of them in a single model call."""

    def __init__(self, detector: FaceDetector, classifier: MaskClassifier) -> None:
        self.detector = detector
        self.classifier = classifier

    def classify_boxes(self, frame: np.ndarray, boxes: list) -> list[FaceResult]:
        """Classify given face boxes of a frame (used when boxes come from elsewhere, e.g. annotations)."""
        if not boxes:
            return []
        margin = self.classifier.spec.crop_margin
        crops = [crop_face(frame, box, margin) for box in boxes]
        probabilities = self.classifier.predict_faces(crops)
        results = []
        for box, row in zip(boxes, probabilities):
            label, score, mask_p = self.classifier.label_of(row)
            results.append(FaceResult(box=tuple(int(v) for v in box), label=label, score=score, mask_probability=mask_p))
        return results

    def analyze(self, frame: np.ndarray) -> list[FaceResult]:
        if frame is None or frame.ndim not in (2, 3) or frame.size == 0:
            raise ValueError("empty or malformed frame")
        return self.classify_boxes(frame, self.detector.detect(frame))


def build_analyzer(cfg, video: bool = False) -> FrameAnalyzer:
    """The pipeline the config asks for: its detector and the model in ``[model] dir``.

    ``video=True`` is for consecutive frames of one camera or file: with ``[detection] tracking``
    the detector then re-finds known faces in their region and scans whole frames only now and then,
    and with ``idle_rescan_every`` > 1 an empty, unchanging picture is not rescanned every frame.
    """
    classifier = MaskClassifier(cfg.resolve_path(cfg.model.dir), mask_threshold=cfg.decision.mask_threshold or None)
    detector = build_detector(cfg.detection)
    if video and cfg.detection.tracking:
        from kiosk.vision.detection.tracking import RegionTrackingDetector

        detector = RegionTrackingDetector(detector, full_scan_every=cfg.detection.full_scan_every)
    if video and cfg.detection.idle_rescan_every > 1:
        from kiosk.vision.detection.motion import MotionGatedDetector

        detector = MotionGatedDetector(detector, rescan_every=cfg.detection.idle_rescan_every)
    return FrameAnalyzer(detector, classifier)
