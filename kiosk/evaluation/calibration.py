"""Per-site calibration: the mask threshold that holds a false-accept rate on a site's own photos.

Each annotated face (at least ``min_size`` px) is shown to the kiosk's detector and classifier as
a door-camera view (the same view ``main.py evaluate --visits`` plays), and its P(with_mask) is
kept. The chosen threshold is the lowest that lets at most ``max_false_accept`` of the faces
without a proper mask through: the most masked visitors granted at that safety. Faces the
detector misses are counted but cannot move the threshold.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Optional, Sequence

from kiosk.camera.media import DEFAULT_MAX_IMAGE_PIXELS
from kiosk.errors import KioskError
from kiosk.evaluation.photos import MATCH_IOU, should_grant
from kiosk.evaluation.visits import door_views
from kiosk.evaluation.voc import Scene
from kiosk.vision.detection.boxes import iou
from kiosk.vision.model_spec import KNOWN_CLASSES, WITH_INCORRECT_MASK, WITH_MASK, WITHOUT_MASK
from kiosk.vision.pipeline import FrameAnalyzer

MIN_FACES_PER_SIDE = 20  # masked faces, and faces without a proper mask, needed to calibrate at all
TABLE_THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95)
LOWEST_THRESHOLD, HIGHEST_THRESHOLD = 0.05, 0.999


class CalibrationError(KioskError):
    """Too few labelled faces, or nothing to calibrate on; the message is one line."""


@dataclass(frozen=True)
class ScoredFace:
    label: str  # the annotation
    mask_probability: Optional[float]  # None: the detector did not find this face in its view


def score_faces(analyzer: FrameAnalyzer, scenes: Iterable[Scene], min_size: int,
                max_pixels: int = DEFAULT_MAX_IMAGE_PIXELS) -> list[ScoredFace]:
    """P(with_mask) of every annotated face >= ``min_size`` px, as the kiosk sees it at the door."""
    scored: list[ScoredFace] = []
    for _, face, view, view_box in door_views(scenes, min_size, max_pixels):
        matches = [r for r in analyzer.analyze(view) if iou(r.box, view_box) >= MATCH_IOU]
        best = max(matches, key=lambda r: iou(r.box, view_box), default=None)
        scored.append(ScoredFace(face.label, None if best is None else best.mask_probability))
    return scored


def _granted_share(faces: Sequence[ScoredFace], threshold: float) -> Optional[float]:
    return round(sum(f.mask_probability >= threshold for f in faces) / len(faces), 4) if faces else None


def _negatives(faces: Sequence[ScoredFace], incorrect_mask_is: str) -> list[ScoredFace]:
    return [f for f in faces if not should_grant(f.label, incorrect_mask_is)]


def tradeoff_row(faces: Sequence[ScoredFace], threshold: float, incorrect_mask_is: str) -> dict:
    """What one threshold does: the share of each class granted, and the false-accept rate."""
    detected = [f for f in faces if f.mask_probability is not None]
    of = {label: [f for f in detected if f.label == label] for label in KNOWN_CLASSES}
    return {
        "threshold": round(threshold, 4),
        "masked_granted": _granted_share(of[WITH_MASK], threshold),
        "bare_granted": _granted_share(of[WITHOUT_MASK], threshold),
        "badly_worn_granted": _granted_share(of[WITH_INCORRECT_MASK], threshold),
        "false_accept": _granted_share(_negatives(detected, incorrect_mask_is), threshold),
    }


def choose_threshold(faces: Sequence[ScoredFace], max_false_accept: float, incorrect_mask_is: str) -> float:
    """The lowest threshold at which at most ``max_false_accept`` of the detected faces without a
    (proper) mask reach it; raises ``CalibrationError`` when too few faces were found."""
    detected = [f for f in faces if f.mask_probability is not None]
    negatives = sorted((f.mask_probability for f in _negatives(detected, incorrect_mask_is)), reverse=True)
    masked = [f for f in detected if should_grant(f.label, incorrect_mask_is)]
    if len(masked) < MIN_FACES_PER_SIDE or len(negatives) < MIN_FACES_PER_SIDE:
        raise CalibrationError(
            f"too few labelled faces to calibrate: {len(masked)} masked and {len(negatives)} without a proper mask"
            f" were found by the detector; at least {MIN_FACES_PER_SIDE} of each are needed")
    allowed = math.floor(max_false_accept * len(negatives) + 1e-9)  # negatives that may reach the threshold
    if allowed >= len(negatives):
        return LOWEST_THRESHOLD
    # just above the first negative that must be refused, rounded up so that it stays refused
    threshold = math.ceil((negatives[allowed] + 1e-6) * 10000) / 10000
    return min(HIGHEST_THRESHOLD, max(LOWEST_THRESHOLD, threshold))


def format_tradeoff(rows: Sequence[dict], chosen: float) -> str:
    lines = [f"  {'threshold':>9} {'masked granted':>14} {'bare granted':>12} {'badly worn granted':>18}"
             f" {'false accept':>12}"]

    def fmt(value: Optional[float]) -> str:
        return "-" if value is None else f"{value:.3f}"

    for row in rows:
        mark = "  <- chosen" if row["threshold"] == round(chosen, 4) else ""
        lines.append(f"  {row['threshold']:>9.4f} {fmt(row['masked_granted']):>14} {fmt(row['bare_granted']):>12}"
                     f" {fmt(row['badly_worn_granted']):>18} {fmt(row['false_accept']):>12}{mark}")
    return "\n".join(lines)
