"""Access decisions built from several frames: WAITING -> CHECKING -> GRANTED / DENIED / UNCERTAIN.

A single frame is noisy (a blink, a turned head, motion blur), so the verdict is a majority of
the last ``window_frames`` confident votes. A decision is an *episode*: one ``DecisionEvent`` when
it is reached, a new one only when the person changes (the majority flips, e.g. a mask is put
on) or leaves and someone else arrives. Standing denied for a minute is still one event.

Fail safe: a visitor who has no confident majority within ``decide_within_s`` of arriving is
denied as UNCERTAIN (door closed, recorded, alerted if configured); a confident verdict later in
the same visit (a mask put on properly) still decides. While checking, ``hint`` says what would
help: look at the camera, or adjust the mask. Someone in view whose face is not found at all
(``present``, from ``kiosk.door.presence``) is a visitor too: asked to look at the camera, and
denied as UNCERTAIN with the label ``no_face`` if no face decides in time. Such a faceless visit
starts only after the doorway has been seen empty: once a face was there, presence alone never
keeps that visit going nor starts another, so a granted visitor walking off through the door is
not refused as "no face", and the next in a queue, who steps up before the doorway empties, gets
a decision of their own.

Pure logic: time is passed in (``now`` in seconds on any monotonic clock), so the engine is
unit-tested without sleeping and replays a video file by its own timestamps.
"""

from __future__ import annotations

import enum
from collections import Counter, deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Callable, Optional, Sequence

import numpy as np

from kiosk.config import DecisionSection
from kiosk.vision.model_spec import WITH_INCORRECT_MASK, WITH_MASK
from kiosk.records import DecisionEvent, FaceResult
from kiosk.vision.preprocessing import Box

MASK = "mask"
NO_MASK = "no_mask"
UNCERTAIN = "uncertain"
HINT_LOOK = "look_at_camera"  # no confident vote yet: a turned head, an ear, motion blur
HINT_ADJUST = "adjust_mask"  # the newest votes see a badly worn mask
NO_FACE = "no_face"  # the label of an uncertain decision on someone whose face was never found
SOFT_POLICY_NOTE = "soft policy: allowed without mask"


class DecisionState(str, enum.Enum):
    WAITING = "waiting"  # nobody in front of the kiosk
    CHECKING = "checking"  # a face is there, not enough evidence yet
    GRANTED = "granted"
    DENIED = "denied"
    UNCERTAIN = "uncertain"  # denied: no confident decision within decide_within_s


@dataclass(frozen=True)
class DecisionStep:
    """What one frame changed: the state to show, and the event when a new decision was made."""

    state: DecisionState
    event: Optional[DecisionEvent] = None
    hint: str = ""  # while CHECKING: HINT_LOOK or HINT_ADJUST, else ""


@dataclass(frozen=True)
class _Vote:
    """One frame's evidence about the deciding (largest) face."""

    category: Optional[str]  # MASK, NO_MASK, or None when the classifier was not confident enough
    face: FaceResult
    faces: int
    frame: Optional[np.ndarray]


def deciding_face(results: Sequence[FaceResult]) -> Optional[FaceResult]:
    """The largest face is the person closest to the kiosk: the one at the door."""
    if not results:
        return None
    return max(results, key=lambda r: int(r.box[2]) * int(r.box[3]))


def wall_clock(_now: float) -> datetime:
    """Event time for a live feed: the real local time (timezone-aware)."""
    return datetime.now().astimezone()


def media_clock(origin: datetime) -> Callable[[float], datetime]:
    """Event time for a replayed file: ``origin`` plus the media timestamp, so replays are deterministic."""
    return lambda now: origin + timedelta(seconds=now)


class DecisionEngine:
    """Turns per-frame face results into decision episodes; one engine per kiosk."""

    def __init__(self, cfg: DecisionSection, kiosk_id: str,
                 event_time: Callable[[float], datetime] = wall_clock, source_kind: str = "camera") -> None:
        """``source_kind`` (SOURCE_KINDS) goes into every event: a demo or a replay is never taken
        for a real visitor, and never opens the door."""
        self.cfg = cfg
        self.kiosk_id = kiosk_id
        self.source_kind = source_kind
        self._event_time = event_time
        self._window: deque[_Vote] = deque(maxlen=cfg.window_frames)
        self._present = False  # a person is in front of the kiosk (current episode)
        self._last_seen_at: Optional[float] = None  # a face, or someone in view (``present``)
        self._last_frame: Optional[np.ndarray] = None  # evidence for a decision without a face
        self._presence_armed = True  # nobody was in view since the last visit with a face
        self._episode_verdict: Optional[str] = None  # MASK / NO_MASK / UNCERTAIN decided in this episode
        self._episode_started_at = 0.0
        self._shown: Optional[DecisionState] = None  # last decision shown, kept for ``hold_s``
        self._decided_at: Optional[float] = None
        self.state = DecisionState.WAITING

    # --- evidence ---------------------------------------------------------------------------

    def category_of(self, label: str) -> str:
        """MASK or NO_MASK for a classifier label (a badly worn mask counts as configured)."""
        if label == WITH_MASK:
            return MASK
        if label == WITH_INCORRECT_MASK and self.cfg.incorrect_mask_is == "mask":
            return MASK
        return NO_MASK

    def _confident(self, face: FaceResult) -> bool:
        """A with_mask label already passed the mask threshold; a no-mask vote needs ``min_score``.

        When a badly worn mask counts as no mask, every class but with_mask is a reason to deny,
        so the no-mask confidence is 1 - P(with_mask): a bare face the model split between
        without_mask 0.5 and with_incorrect_mask 0.5 is sure not to wear a mask right, and was
        left "uncertain" when each label had to reach ``min_score`` alone (held-out door visits)."""
        if face.label == WITH_MASK:
            return True
        if self.cfg.incorrect_mask_is == "no_mask":  # then every other label is a no-mask vote
            return 1.0 - face.mask_probability >= self.cfg.min_score
        return face.score >= self.cfg.min_score

    def _vote(self, results: Sequence[FaceResult], frame: Optional[np.ndarray]) -> _Vote:
        face = deciding_face(results)
        assert face is not None
        category = self.category_of(face.label) if self._confident(face) else None
        return _Vote(category, face, len(results), frame)

    def _hint(self) -> str:
        """What the visitor could do while no decision is shown."""
        newest = list(self._window)[-self.cfg.min_votes:]
        if any(v.face.label == WITH_INCORRECT_MASK for v in newest):
            return HINT_ADJUST
        return HINT_LOOK

    def _verdict(self) -> Optional[str]:
        """The category with at least ``min_votes`` votes and more than any other, if any."""
        counts = Counter(v.category for v in self._window if v.category is not None)
        if not counts:
            return None
        ranked = counts.most_common()
        category, votes = ranked[0]
        if votes < self.cfg.min_votes or (len(ranked) > 1 and ranked[1][1] == votes):
            return None
        return category

    # --- state machine ----------------------------------------------------------------------

    def _holding(self, now: float) -> bool:
        return self._decided_at is not None and now - self._decided_at < self.cfg.hold_s

    def _start_episode(self, now: float) -> None:
        self._present = True
        self._episode_started_at = now
        self._window.clear()
        self._episode_verdict = None

    def _end_episode(self) -> None:
        if self._window:  # a visit with a face: whoever stays in view is not a new faceless visitor
            self._presence_armed = False
        self._present = False
        self._window.clear()
        self._episode_verdict = None
        self._last_frame = None

    def _decide(self, verdict: str, now: float) -> DecisionEvent:
        self._episode_verdict = verdict
        self._decided_at = now
        if verdict == UNCERTAIN:
            self._shown = DecisionState.UNCERTAIN
            if not self._window:  # someone in view, no face ever found
                return self._event(now, NO_FACE, 0.0, 0, None, self._last_frame)
            evidence, note = self._window[-1], ""
        else:
            evidence = next(v for v in reversed(self._window) if v.category == verdict)
            granted = verdict == MASK or self.cfg.no_mask_policy == "soft"
            note = SOFT_POLICY_NOTE if verdict == NO_MASK and granted else ""
            self._shown = DecisionState.GRANTED if granted else DecisionState.DENIED
        face = evidence.face
        box: Box = tuple(int(v) for v in face.box)  # type: ignore[assignment]
        return self._event(now, face.label, float(face.score), evidence.faces, box, evidence.frame, note)

    def _event(self, now: float, label: str, score: float, faces: int, box: Optional[Box],
               frame: Optional[np.ndarray], note: str = "") -> DecisionEvent:
        """The event of the decision just shown (``_shown``)."""
        assert self._shown is not None
        return DecisionEvent(time=self._event_time(now), kiosk_id=self.kiosk_id, decision=self._shown.value,
                             label=label, score=score, faces=faces, box=box, frame=frame, policy_note=note,
                             source=self.source_kind)

    def source_lost(self) -> DecisionStep:
        """The picture stopped (the source ended, froze or went offline): nobody can be seen, so
        the episode and any decision held for ``hold_s`` end now. A stale GRANTED must never stay
        on the door, nor come back with the camera; whoever is there then is a new episode."""
        self._end_episode()
        self._shown, self._decided_at = None, None
        self.state = DecisionState.WAITING
        return DecisionStep(self.state)

    def update(self, results: Sequence[FaceResult], now: float,
               frame: Optional[np.ndarray] = None, present: bool = False) -> DecisionStep:
        """Feed one analysed frame (or no frame: ``results=[]`` while the camera is away).
        ``present``: someone is in view even though no face was found in this frame."""
        faceless_visit = present and (not self._window if self._present else self._presence_armed)
        if results or faceless_visit:
            if not self._present:
                self._start_episode(now)
            self._last_seen_at = now
            self._last_frame = frame
            if results:
                self._window.append(self._vote(results, frame))
        elif self._present and self._last_seen_at is not None and now - self._last_seen_at >= self.cfg.leave_after_s:
            self._end_episode()
        if not results and not present:
            self._presence_armed = True

        event = None
        if self._present and not self._holding(now):
            verdict = self._verdict()
            if verdict is not None and verdict != self._episode_verdict:
                event = self._decide(verdict, now)
            elif (verdict is None and self._episode_verdict is None
                  and now - self._episode_started_at >= self.cfg.decide_within_s):
                event = self._decide(UNCERTAIN, now)  # fail safe: no confident majority in time

        if self._holding(now) and self._shown is not None:
            self.state = self._shown
        elif self._present and self._episode_verdict is not None:
            self.state = self._shown or DecisionState.CHECKING
        elif self._present:
            self.state = DecisionState.CHECKING
        else:
            self.state = DecisionState.WAITING
        hint = self._hint() if self.state == DecisionState.CHECKING else ""
        return DecisionStep(self.state, event, hint)
