"""Whole-photo evaluation on PASCAL VOC-annotated photos: how would the kiosk do at this site?

Every photo goes through ``kiosk.vision.pipeline.FrameAnalyzer``, the code the kiosk runs at the
door. Detections are matched to annotated faces one-to-one (greedy, IoU >= 0.3). Per class it
reports detection recall, label accuracy on detected faces, and the end-to-end correct-decision
rate (detected AND decided right: a masked face granted, any other face not granted), for all faces
and for faces at least ``min_size`` px wide; also detection precision, false detections and time.

Honesty: the classifier learnt from crops of the shared scenes photos except those its model card
lists in ``data.scenes_test_photos``; figures on the other photos flatter it. Both sets are
reported. For a folder of your own photos, the held-out set is simply empty.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Callable, Iterable, Optional, Sequence, TypeVar

from kiosk.vision.detection.boxes import match_boxes
from kiosk.camera.media import DEFAULT_MAX_IMAGE_PIXELS, MediaError, read_image
from kiosk.vision.model_spec import KNOWN_CLASSES, WITH_INCORRECT_MASK, WITH_MASK
from kiosk.vision.pipeline import FrameAnalyzer
from kiosk.records import FaceResult
from kiosk.evaluation.voc import Scene

log = logging.getLogger(__name__)

MATCH_IOU = 0.3
T = TypeVar("T")
PHOTO_SETS = ("all", "held-out")


@dataclass(frozen=True)
class FaceOutcome:
    """One annotated face and what the kiosk made of it."""

    photo_id: str
    label: str  # annotated class
    width: int  # annotated box width, px
    detected: bool
    predicted: Optional[str] = None  # classifier label, None when missed (or when only detecting)
    mask_probability: Optional[float] = None


@dataclass(frozen=True)
class PhotoOutcome:
    photo_id: str
    detections: int
    false_detections: int  # detections matching no annotated face
    seconds: float  # wall time of detection + classification
    faces: tuple[FaceOutcome, ...]
    cpu_seconds: float = 0.0  # CPU time of the same work: unaffected by other jobs on the machine


def should_grant(label: str, incorrect_mask_is: str = "no_mask") -> bool:
    """Whether the kiosk ought to let a face of this (annotated or predicted) class in."""
    return label == WITH_MASK or (label == WITH_INCORRECT_MASK and incorrect_mask_is == "mask")


def score_photo(scene: Scene, boxes: Sequence, predictions: Sequence, seconds: float,
                cpu_seconds: float = 0.0) -> PhotoOutcome:
    """Match detections to the annotated faces of one photo.

    ``predictions`` holds (label, P(with_mask)) per box, or is empty when only detection ran.
    """
    matched = match_boxes([face.box for face in scene.faces], list(boxes), MATCH_IOU)
    faces = []
    for index, face in enumerate(scene.faces):
        found = matched.get(index)
        label, mask_p = predictions[found] if found is not None and predictions else (None, None)
        faces.append(FaceOutcome(scene.photo_id, face.label, int(face.box[2]), found is not None, label, mask_p))
    return PhotoOutcome(scene.photo_id, len(boxes), len(boxes) - len(matched), seconds, tuple(faces), cpu_seconds)


def timed(call: Callable[[], T]) -> tuple[T, float, float]:
    """``call()``'s result, wall seconds and CPU seconds."""
    start, cpu_start = time.perf_counter(), time.process_time()
    result = call()
    return result, time.perf_counter() - start, time.process_time() - cpu_start


def score_results(scene: Scene, results: Sequence[FaceResult], seconds: float, cpu_seconds: float) -> PhotoOutcome:
    """``score_photo`` for the pipeline's ``FaceResult`` list."""
    return score_photo(scene, [r.box for r in results], [(r.label, r.mask_probability) for r in results],
                       seconds, cpu_seconds)


def analyze_scene(analyzer: FrameAnalyzer, scene: Scene, max_pixels: int = DEFAULT_MAX_IMAGE_PIXELS) -> PhotoOutcome:
    frame = read_image(scene.image_path, max_pixels)
    return score_results(scene, *timed(lambda: analyzer.analyze(frame)))


def run_scenes(scenes: Iterable[Scene], analyze) -> list[PhotoOutcome]:
    """``analyze(scene) -> PhotoOutcome`` for every scene; unreadable photos are logged and skipped."""
    outcomes = []
    for count, scene in enumerate(scenes, 1):
        try:
            outcomes.append(analyze(scene))
        except MediaError as exc:
            log.warning("skipped: %s", exc)
        if count % 100 == 0:
            log.info("%d photos done", count)
    return outcomes


def _rate(numerator: int, denominator: int) -> Optional[float]:
    return round(numerator / denominator, 4) if denominator else None


def class_figures(faces: list[FaceOutcome], incorrect_mask_is: str, model_classes: Sequence[str]) -> dict:
    """Recall, label accuracy on detected faces and correct-decision rate for one class's faces.

    A class the model does not know (e.g. with_incorrect_mask for a 2-class model) is labelled
    right when the model gives it the same decision (no_mask -> without_mask).
    """
    detected = [f for f in faces if f.detected]
    classified = [f for f in detected if f.predicted is not None]

    def label_right(f: FaceOutcome) -> bool:
        if f.label in model_classes:
            return f.predicted == f.label
        return should_grant(f.predicted, incorrect_mask_is) == should_grant(f.label, incorrect_mask_is)

    decided_right = [f for f in classified if should_grant(f.predicted, incorrect_mask_is) == should_grant(f.label, incorrect_mask_is)]
    return {
        "faces": len(faces),
        "detected": len(detected),
        "recall": _rate(len(detected), len(faces)),
        "label_accuracy": _rate(sum(map(label_right, classified)), len(classified)),
        "correct_decision": _rate(len(decided_right), len(faces)) if classified or not detected else None,
    }


def summarize(outcomes: list[PhotoOutcome], min_size: int, incorrect_mask_is: str = "no_mask",
              model_classes: Sequence[str] = KNOWN_CLASSES) -> dict:
    """All figures for one set of photos."""
    faces = [f for photo in outcomes for f in photo.faces]
    labels = [c for c in KNOWN_CLASSES if any(f.label == c for f in faces)]
    labels += sorted({f.label for f in faces} - set(labels))
    by_size = {}
    for size_name, keep in (("all_faces", lambda f: True), (f"min_{min_size}px", lambda f: f.width >= min_size)):
        chosen = [f for f in faces if keep(f)]
        by_size[size_name] = {
            label: class_figures([f for f in chosen if f.label == label], incorrect_mask_is, model_classes)
            for label in labels
        }
    detections = sum(p.detections for p in outcomes)
    false_detections = sum(p.false_detections for p in outcomes)
    times = sorted(p.seconds for p in outcomes)
    return {
        "photos": len(outcomes),
        "faces": len(faces),
        "detections": detections,
        "false_detections": false_detections,
        "precision": _rate(detections - false_detections, detections),
        "false_detections_per_photo": _rate(false_detections, len(outcomes)),
        "ms_per_photo_mean": round(1000 * sum(times) / len(times), 2) if times else None,
        "ms_per_photo_median": round(1000 * times[len(times) // 2], 2) if times else None,
        "cpu_ms_per_photo_mean": round(1000 * sum(p.cpu_seconds for p in outcomes) / len(outcomes), 2) if outcomes else None,
        "by_size": by_size,
    }


def held_out_ids(card: dict) -> set[str]:
    return set(card.get("data", {}).get("scenes_test_photos", []) or [])


def summarize_sets(outcomes: list[PhotoOutcome], card: dict, sets: Sequence[str], min_size: int,
                   incorrect_mask_is: str, model_classes: Sequence[str]) -> dict:
    """``summarize`` per photo set: "all", and "held-out" (the photos the model card held out of training)."""
    held_out = held_out_ids(card)
    chosen = {"all": outcomes, "held-out": [o for o in outcomes if o.photo_id in held_out]}
    return {name: summarize(chosen[name], min_size, incorrect_mask_is, model_classes) for name in sets}


def format_share(value: Optional[float]) -> str:
    """A share in a report's fixed-width column; a dash where there was nothing to count."""
    return "   -  " if value is None else f"{value:6.3f}"


def format_summary(title: str, summary: dict) -> str:
    lines = [f"== {title}: {summary['photos']} photos, {summary['faces']} annotated faces =="]
    if not summary["photos"]:
        return lines[0]
    for size_name, classes in summary["by_size"].items():
        lines.append(f"  {size_name.replace('_', ' ')}:")
        lines.append(f"    {'class':<20} {'faces':>6} {'recall':>6} {'label acc':>9} {'correct decision':>16}")
        for label, fig in classes.items():
            lines.append(f"    {label:<20} {fig['faces']:>6} {format_share(fig['recall'])} {format_share(fig['label_accuracy']):>9}"
                         f" {format_share(fig['correct_decision']):>16}")
    lines.append(f"  detections {summary['detections']}, false {summary['false_detections']}"
                 f" (precision {format_share(summary['precision']).strip()}, {format_share(summary['false_detections_per_photo']).strip()}"
                 f" per photo); time per photo {summary['ms_per_photo_mean']} ms mean,"
                 f" {summary['ms_per_photo_median']} ms median, {summary['cpu_ms_per_photo_mean']} CPU ms mean")
    return "\n".join(lines)
