"""Event snapshots on disk: the annotated frame and the face crop, one folder per day.

Layout ``<root>/YYYY-MM-DD/HHMMSS_mmm-<kiosk>-<decision>.jpg`` (+ ``-face.jpg``) so that retention
cleanup can remove whole old days by name, and never touches a file it did not write.
"""

from __future__ import annotations

import logging
import re
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Iterable, Optional

import cv2
import numpy as np

from kiosk.vision.annotate import draw_results
from kiosk.vision.model_spec import WITH_MASK
from kiosk.vision.preprocessing import crop_face
from kiosk.records import DecisionEvent, FaceResult

log = logging.getLogger(__name__)

JPEG_QUALITY = 85
CROP_MARGIN = 0.15  # a little context around the face, like the model sees it
DAY_DIR_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
SNAPSHOT_RE = re.compile(r"^\d{6}_\d{3}-.+\.jpg$")


def _write_jpeg(path: Path, image: np.ndarray) -> None:
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise OSError(f"cannot encode {path.name} as JPEG")
    tmp = path.with_suffix(".part")
    tmp.write_bytes(data.tobytes())
    tmp.replace(path)  # readers never see half a file


class SnapshotStore:
    """Writes event images and deletes days older than the retention period."""

    def __init__(self, root: Path, retention_days: int) -> None:
        self.root = Path(root)
        self.retention_days = retention_days

    def save(self, event: DecisionEvent) -> tuple[Optional[str], Optional[str]]:
        """Write (annotated frame, face crop) for ``event``; (None, None) when it has no frame.

        Raises OSError (disk full, permissions) for the caller to log; nothing is half-written.
        """
        if event.frame is None:
            return None, None
        day_dir = self.root / event.time.date().isoformat()
        day_dir.mkdir(parents=True, exist_ok=True)
        stem = f"{event.time:%H%M%S}_{event.time.microsecond // 1000:03d}-{event.kiosk_id}-{event.decision}"
        frame_path = day_dir / f"{stem}.jpg"
        results = []
        if event.box is not None:
            p_mask = event.score if event.label == WITH_MASK else 1.0 - event.score
            results.append(FaceResult(tuple(int(v) for v in event.box), event.label, float(event.score), p_mask))
        _write_jpeg(frame_path, draw_results(event.frame, results))
        crop_path: Optional[Path] = None
        if event.box is not None:
            try:
                crop = crop_face(event.frame, event.box, CROP_MARGIN)
            except ValueError as exc:
                log.warning("no face crop for event at %s: %s", event.time, exc)
            else:
                crop_path = day_dir / f"{stem}-face.jpg"
                _write_jpeg(crop_path, crop)
        return str(frame_path), (str(crop_path) if crop_path else None)

    def delete(self, paths: Iterable[Optional[str]]) -> int:
        """Delete an event's image files (``events --delete``); returns how many went. Only files the
        kiosk writes (named like its snapshots) are deleted, and their day folder once it is empty."""
        removed = 0
        for value in paths:
            path = Path(value) if value else None
            if path is None or not SNAPSHOT_RE.match(path.name) or not path.is_file():
                continue
            path.unlink()
            removed += 1
            if DAY_DIR_RE.match(path.parent.name):
                try:
                    path.parent.rmdir()  # only when empty
                except OSError:
                    pass
        return removed

    def cutoff_day(self, today: Optional[date] = None) -> date:
        """Days strictly before this one are past retention."""
        today = today or datetime.now().astimezone().date()
        return today - timedelta(days=self.retention_days)

    def cleanup(self, today: Optional[date] = None) -> int:
        """Delete snapshot files of days before ``cutoff_day``; returns how many files went."""
        if not self.root.is_dir():
            return 0
        cutoff = self.cutoff_day(today).isoformat()
        removed = 0
        for day_dir in sorted(self.root.iterdir()):
            if not (day_dir.is_dir() and DAY_DIR_RE.match(day_dir.name) and day_dir.name < cutoff):
                continue
            for file in day_dir.iterdir():
                if file.is_file() and SNAPSHOT_RE.match(file.name):
                    file.unlink()
                    removed += 1
            try:
                day_dir.rmdir()  # only when empty: foreign files keep their folder
            except OSError:
                pass
        if removed:
            log.info("retention: deleted %d snapshot files older than %s", removed, cutoff)
        return removed


def thumbnail_png(path: Optional[str], max_side: int) -> Optional[bytes]:
    """A small PNG of an image file (for Tk and HTML), or None if it is missing or unreadable."""
    return _png_within(cv2.imread(path, cv2.IMREAD_COLOR) if path else None, max_side)


def thumbnail_png_of(data: bytes, max_side: int) -> Optional[bytes]:
    """The same for an image's encoded bytes (JPEG, PNG), e.g. as a store hands them to the web
    console; None when they are not an image."""
    return _png_within(cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR), max_side)


def _png_within(image: Optional[np.ndarray], max_side: int) -> Optional[bytes]:
    if image is None:
        return None
    scale = max_side / max(image.shape[:2])
    if scale < 1:
        image = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    ok, data = cv2.imencode(".png", image)
    return data.tobytes() if ok else None

