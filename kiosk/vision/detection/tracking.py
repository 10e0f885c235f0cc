"""Look again where the faces were: whole-frame scans only now and then, for live video.

A person stands in front of a kiosk for seconds, so a face found in one frame is almost exactly
where it was in the next. Scanning a small, scaled-down region around each known face costs a
few percent of a whole-frame scan; the whole frame is still scanned every ``full_scan_every``
frames (to see newcomers) and whenever a known face is not found again. This is what makes a
Haar detector fast enough for live video on a small CPU. It is for consecutive video frames
only: independent photos use the inner detector directly.

A box a full scan found but the very next region scan did not is dropped without a rescan:
false detections come and go from frame to frame, and rescanning for each one cost the whole
speed-up (tools.bench, a scene with one such flicker: 4 fps instead of 68). A face that has been
found again at least once is "confirmed", and losing it still triggers a full scan at once.
Such a dropped box is still something seen (``dropped_last_frame``): it may be a real face that
the region view could not confirm, and the next frame scans the whole picture again.
"""

from __future__ import annotations

import numpy as np

from kiosk.vision.detection.boxes import iou, non_max_suppression
from kiosk.vision.preprocessing import Box, expand_box, resize_by

# In the region image the known face (as fitted to the annotated framing, see BoxFit) is scaled
# to about this width; the cascade then sees it at ~48 px, comfortably above its 24 px window and
# small enough to be cheap. Measured: 4.97 ms p50 per tracked frame against 8.9 ms at 48.
# A detector that needs another size says so in its ``region_face_px`` attribute.
REGION_FACE_PX = 38
REGION_MARGIN = 0.4  # the region is the known box widened by this share on each side (a detector may ask for more)


class RegionTrackingDetector:
    """Wraps any ``FaceDetector``: full scans every N frames, region scans in between."""

    def __init__(self, inner, full_scan_every: int = 20) -> None:
        if full_scan_every < 1:
            raise ValueError("full_scan_every must be >= 1")
        self.inner = inner
        self.name = f"{inner.name}+tracking"
        self.full_scan_every = full_scan_every
        self.region_margin = getattr(inner, "region_margin", REGION_MARGIN)
        self.region_face_px = getattr(inner, "region_face_px", REGION_FACE_PX)
        self._known: list[Box] = []
        self._confirmed: list[bool] = []  # found again by a region scan at least once
        self._since_full_scan = 0
        self.full_scans = 0
        self.region_scans = 0
        self.dropped_unconfirmed = 0
        self.dropped_last_frame = False  # the last frame's answer left out a box a full scan had found

    def reset(self) -> None:
        """Forget known faces (e.g. a new video or a camera reconnect)."""
        self._known, self._confirmed = [], []
        self._since_full_scan = 0

    def detect(self, frame: np.ndarray) -> list[Box]:
        self._since_full_scan += 1
        self.dropped_last_frame = False
        if self._known and self._since_full_scan < self.full_scan_every:
            found = self._scan_regions(frame)
            if found is not None:
                self._known, self._confirmed = found, [True] * len(found)
                return found
        # nothing known, time for a full scan, or a confirmed face was lost
        self._since_full_scan = 0
        self.full_scans += 1
        self._known = list(self.inner.detect(frame))
        self._confirmed = [False] * len(self._known)
        return self._known

    def _scan_regions(self, frame: np.ndarray) -> list[Box] | None:
        """The known faces found again, or None when a full scan is needed (a confirmed face was
        lost, or two tracks merged into one face)."""
        self.region_scans += 1
        found: list[Box] = []
        for known, confirmed in zip(self._known, self._confirmed):
            box = self._scan_region(frame, known)
            if box is not None:
                found.append(box)
            elif confirmed:
                return None
            else:
                self.dropped_unconfirmed += 1
                self.dropped_last_frame = True
        if len(found) > 1:
            keep = non_max_suppression(found, [b[2] * b[3] for b in found])
            if len(keep) < len(found):
                return None
        return found

    def _scan_region(self, frame: np.ndarray, known: Box) -> Box | None:
        rx, ry, rw, rh = expand_box(known, self.region_margin, frame.shape)
        if rw == 0 or rh == 0:
            return None
        scale = min(1.0, self.region_face_px / float(max(1, known[2])))
        region = frame[ry : ry + rh, rx : rx + rw]
        if scale < 1.0:
            region = resize_by(region, scale)
        boxes = self.inner.detect(region)
        if not boxes:
            return None
        # The known face's successor is the box most like it. Taking the largest instead let the
        # box ratchet up frame by frame (a masked face at 166 px was tracked at up to 246 px),
        # so the crop the classifier saw shrank the mask to a small part of a wide view.
        candidates = [(int(round(rx + x / scale)), int(round(ry + y / scale)), int(round(w / scale)), int(round(h / scale)))
                      for x, y, w, h in boxes]
        return max(candidates, key=lambda box: iou(box, known))
