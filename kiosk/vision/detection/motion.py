"""Scan an empty doorway only when the picture changes: an idle kiosk should not burn a core.

With nobody in view a tracking detector has nothing to follow, so every frame is a whole-frame
scan: with Haar about 90 ms each, one CPU core busy all day at an empty door. Frigate and most
NVRs gate their detector on motion for the same reason. Here a frame is compared with the last
frame that was scanned, on a small blurred grayscale thumbnail (camera noise averages out; a
person walking in changes hundreds of its pixels). A change scans at once, so nobody waits for
the gate; a still picture is rescanned every ``rescan_every`` frames all the same, because a
detector can miss a face in one frame and find it in the next (Haar often does with masks).
A frame where the tracker dropped a box a whole-frame scan had just found is not "nobody": on a
still picture that box comes back at every other scan, and gating it away left a real masked
visitor (whose face region scans could not confirm) with one sighting every ``rescan_every``
frames, too few to decide before ``leave_after_s`` (held-out door visits, scenes_b).
"""

from __future__ import annotations

import cv2
import numpy as np

from kiosk.vision.preprocessing import Box

THUMBNAIL_SIZE = (80, 60)  # a 640x480 frame averaged over 8x8 blocks: sensor noise drops ~8x
PIXEL_DELTA = 10  # grey levels a thumbnail pixel must move by to count as changed
MIN_CHANGED_SHARE = 0.003  # of thumbnail pixels (~15): a 60 px face entering a 640 px frame covers ~40


def thumbnail(frame: np.ndarray) -> np.ndarray:
    """The small blurred grayscale picture frames are compared on."""
    gray = frame if frame.ndim == 2 else cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    small = cv2.resize(gray, THUMBNAIL_SIZE, interpolation=cv2.INTER_AREA)
    return cv2.GaussianBlur(small, (3, 3), 0).astype(np.int16)


def changed(reference: np.ndarray, current: np.ndarray) -> bool:
    """True when enough of the thumbnail moved by more than ``PIXEL_DELTA`` grey levels."""
    moved = np.count_nonzero(np.abs(current - reference) > PIXEL_DELTA)
    return moved >= MIN_CHANGED_SHARE * reference.size


class MotionGatedDetector:
    """Wraps a video detector (usually the region tracker): while its last answer was "nobody",
    a frame that looks like the last scanned one is answered "nobody" without scanning, except
    every ``rescan_every``-th frame. Faces in view always go to the inner detector."""

    def __init__(self, inner, rescan_every: int = 10) -> None:
        if rescan_every < 1:
            raise ValueError("rescan_every must be >= 1")
        self.inner = inner
        self.name = inner.name
        self.rescan_every = rescan_every
        self._reference: np.ndarray | None = None  # thumbnail of the last scanned frame
        self._nobody = False  # the last scan found no face
        self._skipped = 0
        self.scans = 0
        self.skipped_frames = 0

    def reset(self) -> None:
        """Forget the last scan (a new video or a camera reconnect)."""
        self._reference, self._nobody, self._skipped = None, False, 0
        reset_inner = getattr(self.inner, "reset", None)
        if reset_inner is not None:
            reset_inner()

    def detect(self, frame: np.ndarray) -> list[Box]:
        current = thumbnail(frame)
        if (self._nobody and self._reference is not None and self._skipped + 1 < self.rescan_every
                and not changed(self._reference, current)):
            self._skipped += 1
            self.skipped_frames += 1
            return []
        boxes = list(self.inner.detect(frame))
        self.scans += 1
        nobody = not boxes and not getattr(self.inner, "dropped_last_frame", False)
        self._reference, self._nobody, self._skipped = current, nobody, 0
        return boxes
