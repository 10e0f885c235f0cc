"""Door visits: each annotated face of a site's photos becomes a visitor at the kiosk.

Each face at least ``min_size`` px wide is cut from its photo as a 640x480 door-camera view (the
face about a third of the view's width, as a person a metre from the camera) and the views are
played through the kiosk's own runtime, detector, classifier and decision engine, as the image
folder source shows them: each view for a few seconds, then an empty frame, so each one is one
visitor. A visit ends granted, denied, uncertain (no confident decision in time: denied) or with
no decision at all, and the time from arrival to the first decision is kept. Visits whose face
the detector never found are counted too (the kiosk denies them as uncertain, label ``no_face``,
when it sees someone there): that share is what the detector costs.
"""

from __future__ import annotations

import logging
import statistics
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator, Optional, Sequence

import cv2
import numpy as np

from kiosk.camera.media import DEFAULT_MAX_IMAGE_PIXELS, MediaError, read_image
from kiosk.camera.sources import ImageFolderSource
from kiosk.config import Config
from kiosk.door.decision import NO_FACE
from kiosk.door.runtime import KioskRuntime
from kiosk.evaluation.photos import format_share
from kiosk.evaluation.voc import AnnotatedFace, Scene
from kiosk.records import DecisionEvent
from kiosk.vision.model_spec import KNOWN_CLASSES
from kiosk.vision.pipeline import build_analyzer
from kiosk.vision.preprocessing import Box

log = logging.getLogger(__name__)

VIEW_SIZE = (640, 480)
FACE_SHARE = 0.3  # the face's width as a share of the view's: a person about a metre from the camera
FACE_HEIGHT_AT = 0.45  # the face's centre this far down the view (a head, not a chin, in the middle)
PADDING_GRAY = 90
OUTCOMES = ("granted", "denied", "uncertain", "no_decision")


@dataclass(frozen=True)
class Visit:
    """One annotated face as a visitor: where it came from and what it is."""

    photo_id: str
    label: str
    face_px: int  # the face's width in its photo
    view_box: Box  # where the face sits in the door view


@dataclass(frozen=True)
class VisitOutcome:
    visit: Visit
    outcome: str  # one of OUTCOMES
    seconds_to_decision: Optional[float]  # from the visitor's arrival to the first decision
    face_found: bool = True  # a decision of the visit was made on a face (not only "no face seen")


def door_view(image: np.ndarray, box: Box, size: tuple[int, int] = VIEW_SIZE,
              face_share: float = FACE_SHARE) -> tuple[np.ndarray, Box]:
    """The view a door camera would have of the face at ``box``, and the face's box in it.

    Parts of the view outside the photo are gray, as a wall behind the visitor would be."""
    x, y, w, h = (float(v) for v in box)
    view_w = w / face_share
    view_h = view_w * size[1] / size[0]
    left = x + w / 2 - view_w / 2
    top = y + h / 2 - view_h * FACE_HEIGHT_AT
    scale = size[0] / view_w
    # an affine map of the photo onto the view: no intermediate crop, borders filled with gray
    matrix = np.array([[scale, 0, -left * scale], [0, scale, -top * scale]], np.float32)
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    view = cv2.warpAffine(image, matrix, size, flags=interpolation, borderMode=cv2.BORDER_CONSTANT,
                          borderValue=(PADDING_GRAY,) * 3)
    view_box = (round((x - left) * scale), round((y - top) * scale), round(w * scale), round(h * scale))
    return view, view_box


def door_views(scenes: Iterable[Scene], min_size: int,
               max_pixels: int = DEFAULT_MAX_IMAGE_PIXELS) -> Iterator[tuple[Scene, AnnotatedFace, np.ndarray, Box]]:
    """(photo, face, door view, face box in the view) for every annotated face >= ``min_size`` px
    that is not 'difficult'; unreadable photos are logged and skipped."""
    for scene in scenes:
        faces = [f for f in scene.faces if f.box[2] >= min_size and not f.difficult and f.label in KNOWN_CLASSES]
        if not faces:
            continue
        try:
            image = read_image(scene.image_path, max_pixels)
        except MediaError as exc:
            log.warning("skipped: %s", exc)
            continue
        for face in faces:
            yield (scene, face, *door_view(image, face.box))


def write_visits(scenes: Iterable[Scene], min_size: int, folder: Path,
                 max_pixels: int = DEFAULT_MAX_IMAGE_PIXELS) -> list[Visit]:
    """Write one door view per annotated face >= ``min_size`` px into ``folder``, in playing order."""
    visits: list[Visit] = []
    for scene, face, view, view_box in door_views(scenes, min_size, max_pixels):
        cv2.imwrite(str(folder / f"visit_{len(visits):06d}.png"), view)
        visits.append(Visit(scene.photo_id, face.label, int(face.box[2]), view_box))
    return visits


class _Collector:
    """A decision sink that keeps every event (called from the analysis thread)."""

    def __init__(self) -> None:
        self.events: list[DecisionEvent] = []

    def on_decision(self, event: DecisionEvent) -> None:
        self.events.append(event)


def visit_outcome(visit: Visit, events: Sequence[DecisionEvent], arrived_s: float,
                  seconds_of: Callable[[DecisionEvent], float]) -> VisitOutcome:
    """A grant anywhere in the visit lets the visitor in; else the first denial or uncertain counts."""
    if not events:
        return VisitOutcome(visit, "no_decision", None, face_found=False)
    kinds = [e.decision for e in events]
    outcome = "granted" if "granted" in kinds else ("denied" if "denied" in kinds else "uncertain")
    return VisitOutcome(visit, outcome, round(seconds_of(events[0]) - arrived_s, 3),
                        face_found=any(e.label != NO_FACE for e in events))


def play_visits(cfg: Config, folder: Path, visits: Sequence[Visit]) -> list[VisitOutcome]:
    """Play the views in ``folder`` through the kiosk runtime, as ``main.py run --source FOLDER``."""
    collector = _Collector()
    source = ImageFolderSource(folder, loop=False, max_pixels=cfg.camera.max_image_pixels)
    runtime = KioskRuntime(cfg, build_analyzer(cfg, video=True), [collector], source, lossless=True)
    runtime.start()
    try:
        while not runtime.wait(1.0):
            pass
    finally:
        runtime.stop()

    def seconds_of(event: DecisionEvent) -> float:
        return (event.time - runtime.media_origin).total_seconds()

    period = source.seconds_per_picture
    by_visit: dict[int, list[DecisionEvent]] = {}
    for event in collector.events:
        by_visit.setdefault(int(seconds_of(event) // period), []).append(event)
    return [visit_outcome(visit, by_visit.get(index, []), index * period, seconds_of)
            for index, visit in enumerate(visits)]


def run_visits(cfg: Config, scenes: Iterable[Scene], min_size: int) -> list[VisitOutcome]:
    with tempfile.TemporaryDirectory(prefix="kiosk-visits-") as tmp:
        visits = write_visits(scenes, min_size, Path(tmp), cfg.camera.max_image_pixels)
        log.info("playing %d door visits (faces >= %d px)", len(visits), min_size)
        if not visits:
            return []
        return play_visits(cfg, Path(tmp), visits)


def _share(count: int, total: int) -> Optional[float]:
    return round(count / total, 4) if total else None


def summarize_visits(outcomes: Sequence[VisitOutcome]) -> dict:
    """Per class: visits, the share of each outcome, and the time to the first decision."""
    summary: dict[str, dict] = {}
    for label in KNOWN_CLASSES:
        mine = [o for o in outcomes if o.visit.label == label]
        times = sorted(o.seconds_to_decision for o in mine if o.seconds_to_decision is not None)
        figures: dict = {"visits": len(mine)}
        figures.update({name: _share(sum(o.outcome == name for o in mine), len(mine)) for name in OUTCOMES})
        figures["face_not_found"] = _share(sum(not o.face_found for o in mine), len(mine))
        figures["seconds_to_decision"] = {
            "median": round(statistics.median(times), 2) if times else None,
            "p95": round(times[min(len(times) - 1, int(0.95 * len(times)))], 2) if times else None,
            "max": round(times[-1], 2) if times else None,
        }
        summary[label] = figures
    every = list(outcomes)
    summary["all_visitors"] = {"visits": len(every),
                               "no_decision": _share(sum(o.outcome == "no_decision" for o in every), len(every))}
    return summary


def format_visits(title: str, summary: dict) -> str:
    total = summary["all_visitors"]
    lines = [f"== {title}: {total['visits']} door visits, {format_share(total['no_decision']).strip()} without a decision =="]
    lines.append(f"  {'class':<20} {'visits':>6} {'granted':>8} {'denied':>8} {'uncertain':>9} {'no decision':>11}"
                 f" {'face not found':>14} {'to decision s (median / p95)':>29}")
    for label in KNOWN_CLASSES:
        fig = summary[label]
        times = fig["seconds_to_decision"]
        lines.append(f"  {label:<20} {fig['visits']:>6} {format_share(fig['granted']):>8} {format_share(fig['denied']):>8}"
                     f" {format_share(fig['uncertain']):>9} {format_share(fig['no_decision']):>11}"
                     f" {format_share(fig['face_not_found']):>14}"
                     f" {str(times['median']):>15} / {times['p95']}")
    return "\n".join(lines)


def visits_by_set(outcomes: Sequence[VisitOutcome], held_out: set[str], sets: Sequence[str]) -> dict:
    chosen = {"all": list(outcomes), "held-out": [o for o in outcomes if o.visit.photo_id in held_out]}
    return {name: summarize_visits(chosen[name]) for name in sets}


def iter_photo_set(scenes: Iterable[Scene], held_out: set[str], photos: str) -> Iterator[Scene]:
    """Only the held-out photos when ``photos == "held-out"``; otherwise all."""
    for scene in scenes:
        if photos != "held-out" or scene.photo_id in held_out:
            yield scene
