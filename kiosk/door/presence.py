"""Someone at the door whose face the detector cannot find still gets a decision.

BlazeFace misses a few faces at the door (a profile, a face shield, a head tilted far): about 1 %
of the door visits of scenes and scenes_b, and Haar over half of the masked ones. Without a face
the decision engine never started an episode, so that visitor stood in front of a kiosk that
said nothing, and the staff heard nothing. The picture itself says someone is there: a person a
metre from the camera covers a third of it or more. ``PresenceMeter`` keeps a small blurred
thumbnail of the empty doorway (the motion gate's thumbnail) and reports
"someone is there" while at least ``min_share`` of it differs from that; the decision engine then
fails safe and denies that visitor as uncertain within ``decide_within_s`` (label ``no_face``).
Each thumbnail is levelled (its median taken off) first: the lights or the camera's exposure
changing the whole picture at once is not a person, and neither is a blank picture.

The empty doorway is learnt
- from the first picture without a face that is neither black nor white (a kiosk is usually
  switched on at an empty door; a camera's first frames are often black or blown out while it
  warms up, and such a doorway would make the real one look like someone);
- again whenever a face has left and the picture has then been still for ``SETTLE_S``: what is
  left is the doorway (this also mends a wrong first picture: a kiosk replaying door visits,
  started with a visitor in view whose face Haar did not find, learnt that visitor and then saw
  "someone" in every empty frame, one endless visit);
- slowly, from frames with nobody in view, so daylight that drifts follows;
- from a picture that has differed without any face for ``relearn_after_s`` (a chair moved, the
  lights switched on): one uncertain event, not one a minute. The old doorway is kept and taken
  back when the picture returns to it, so a faceless visitor who stood long enough to be learnt
  leaves no "ghost" behind.
"""

from __future__ import annotations

import logging
from typing import Optional

import numpy as np

from kiosk.vision.detection.motion import thumbnail

log = logging.getLogger(__name__)

PIXEL_DELTA = 20  # grey levels a levelled thumbnail pixel must differ by (camera noise moves it by ~2)
MOTION_SHARE = 0.01  # of the thumbnail changed since the frame before: the picture is moving
SETTLE_S = 0.5  # still this long after the last face left: the doorway is empty again
USABLE_LEVELS = (16, 240)  # a picture whose median grey lies outside shows nothing (warming up, blown out)
LEARN_RATE = 0.05  # per frame without anybody: the empty doorway follows slow light changes
RELEARN_AFTER_S = 30.0


def levelled_thumbnail(frame: np.ndarray) -> tuple[np.ndarray, float]:
    """The motion gate's thumbnail less its median (what is left is the picture's structure), and
    that median."""
    small = thumbnail(frame).astype(np.float32)
    level = float(np.median(small))
    return small - level, level


def changed_share(current: np.ndarray, reference: np.ndarray) -> float:
    return float(np.mean(np.abs(current - reference) > PIXEL_DELTA))


class PresenceMeter:
    """Whether someone stands in view, from how much of the picture differs from the empty doorway."""

    def __init__(self, min_share: float, relearn_after_s: float = RELEARN_AFTER_S) -> None:
        if not 0.0 < min_share <= 1.0:
            raise ValueError("min_share must be in (0, 1]")
        self.min_share = min_share
        self.relearn_after_s = relearn_after_s
        self._empty: Optional[np.ndarray] = None  # thumbnail of the empty doorway (float32)
        self._previous_empty: Optional[np.ndarray] = None  # the one before the last relearn
        self._last: Optional[np.ndarray] = None  # the frame before
        self._moved_at = 0.0  # when the picture last moved
        self._face_at: Optional[float] = None  # when a face was last seen, until the doorway is learnt after it
        self._faceless_since: Optional[float] = None
        self.relearned = 0

    def _differs(self, current: np.ndarray, reference: np.ndarray) -> bool:
        return changed_share(current, reference) >= self.min_share

    def _learn(self, current: np.ndarray, sure: bool) -> None:
        """``current`` is the doorway now; unless ``sure``, the old one may come back."""
        self._empty, self._previous_empty = current, (None if sure else self._empty)
        self._faceless_since = None

    def update(self, frame: np.ndarray, faces_found: bool, now: float) -> bool:
        """Whether someone is in view in ``frame``; ``now`` in seconds on any monotonic clock."""
        current, level = levelled_thumbnail(frame)
        if self._last is None or changed_share(current, self._last) >= MOTION_SHARE:
            self._moved_at = now
        self._last = current
        if faces_found:
            self._face_at, self._faceless_since = now, None
            return True
        if self._empty is None:
            if USABLE_LEVELS[0] <= level <= USABLE_LEVELS[1]:
                self._empty = current  # the first usable picture without a face
            return False
        if self._face_at is not None and now - max(self._face_at, self._moved_at) >= SETTLE_S:
            self._learn(current, sure=True)  # the face left and the picture settled: this is the doorway
            self._face_at = None
            return False
        if not self._differs(current, self._empty):
            self._empty += LEARN_RATE * (current - self._empty)
            self._faceless_since = None
            return False
        if self._previous_empty is not None and not self._differs(current, self._previous_empty):
            self._empty, self._previous_empty = self._previous_empty, None  # the learnt visitor left
            self._faceless_since = None
            return False
        if self._faceless_since is None:
            self._faceless_since = now
        elif now - self._faceless_since >= self.relearn_after_s:
            log.info("the empty doorway looks different for %.0f s without a face: learnt it again",
                     self.relearn_after_s)
            self._learn(current, sure=False)
            self.relearned += 1
            return False
        return True
