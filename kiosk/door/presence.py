"""Someone at the door whose face the detector cannot find still gets a decision.

BlazeFace misses a few faces at the door (a profile, a face shield, a head tilted far): 2-5 % of
held-out door visits. Without a face the decision engine never started an episode, so that visitor
stood in front of a kiosk that said nothing, and the staff heard nothing. The picture itself says
someone is there: a person a metre from the camera covers a third of it or more. ``PresenceMeter``
keeps a small blurred thumbnail of the empty doorway (the motion gate's thumbnail) and reports
"someone is there" while at least ``min_share`` of it differs from that; the decision engine then
fails safe and denies that visitor as uncertain within ``decide_within_s`` (label ``no_face``).
Each thumbnail is levelled (its median taken off) first: the lights or the camera's exposure
changing the whole picture at once is not a person, and neither is a blank picture.

The empty doorway is learnt from frames with no face and nobody present, slowly, so daylight that
drifts follows. A picture that has differed without any face for ``relearn_after_s`` (a chair moved,
the lights switched on) becomes the new empty doorway: one uncertain event, not one a minute. The
old one is kept, and taken back when the picture returns to it, so a faceless visitor who stood
long enough to be learnt does not leave a "ghost" behind.
"""

from __future__ import annotations

import logging
from typing import Optional

import numpy as np

from kiosk.vision.detection.motion import thumbnail

log = logging.getLogger(__name__)

PIXEL_DELTA = 20  # grey levels a levelled thumbnail pixel must differ by (camera noise moves it by ~2)
LEARN_RATE = 0.05  # per frame without anybody: the empty doorway follows slow light changes
RELEARN_AFTER_S = 30.0


def levelled_thumbnail(frame: np.ndarray) -> np.ndarray:
    """The motion gate's thumbnail less its median: what is left is the picture's structure."""
    small = thumbnail(frame).astype(np.float32)
    return small - np.median(small)


class PresenceMeter:
    """Whether someone stands in view, from how much of the picture differs from the empty doorway."""

    def __init__(self, min_share: float, relearn_after_s: float = RELEARN_AFTER_S) -> None:
        if not 0.0 < min_share <= 1.0:
            raise ValueError("min_share must be in (0, 1]")
        self.min_share = min_share
        self.relearn_after_s = relearn_after_s
        self._empty: Optional[np.ndarray] = None  # thumbnail of the empty doorway (float32)
        self._previous_empty: Optional[np.ndarray] = None  # the one before the last relearn
        self._faceless_since: Optional[float] = None
        self.relearned = 0

    def reset(self) -> None:
        """Forget the doorway (a new video or another camera)."""
        self._empty, self._previous_empty, self._faceless_since = None, None, None

    def _differs(self, current: np.ndarray, empty: np.ndarray) -> bool:
        return float(np.mean(np.abs(current - empty) > PIXEL_DELTA)) >= self.min_share

    def update(self, frame: np.ndarray, faces_found: bool, now: float) -> bool:
        """Whether someone is in view in ``frame``; ``now`` in seconds on any monotonic clock."""
        if faces_found:
            self._faceless_since = None
            return True
        current = levelled_thumbnail(frame)
        if self._empty is None:
            self._empty = current  # the first picture without a face
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
            log.info("the empty doorway looks different for %.0f s without a face: learnt it again", self.relearn_after_s)
            self._empty, self._previous_empty = current, self._empty
            self._faceless_since = None
            self.relearned += 1
            return False
        return True
