"""Records that cross the whole data path (one per detected face, one per decision, one per stored event)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Optional, Protocol

import numpy as np

from kiosk.vision.preprocessing import Box


@dataclass(frozen=True)
class FaceResult:
    """A face found in a frame and what the classifier thinks of it."""

    box: Box  # x, y, w, h in pixels of the frame as read
    label: str  # one of the model's classes
    score: float  # confidence of ``label``, 0..1
    mask_probability: float  # P(with_mask), what access decisions use

    def to_json(self) -> dict:
        return {"box": [int(v) for v in self.box], "label": self.label, "score": round(float(self.score), 4)}


@dataclass
class DecisionEvent:
    """One decision episode: a person was granted or denied access.

    Produced once per episode by the decision engine (not once per frame) and handed to every
    ``DecisionSink``: the event log, the alert outbox, the UI.
    """

    time: datetime  # timezone-aware, local time of the decision
    kiosk_id: str
    decision: str  # "granted" | "denied" | "uncertain" (denied: no confident decision in time)
    label: str  # label of the deciding face
    score: float  # confidence of that label
    faces: int  # faces in the deciding frame
    box: Optional[Box] = None  # the deciding face in ``frame``
    frame: Optional[np.ndarray] = field(default=None, repr=False)  # BGR frame the decision was made on
    policy_note: str = ""  # e.g. "soft policy: allowed without mask"
    source: str = "camera"  # the kind of source the frame came from (SOURCE_KINDS), given to the decision engine

    def to_json(self) -> dict:
        return {
            "time": self.time.isoformat(timespec="milliseconds"),
            "decision": self.decision,
            "label": self.label,
            "score": round(float(self.score), 4),
            "faces": int(self.faces),
        }


@dataclass(frozen=True)
class StoredEvent:
    """An event as read back from the event database, with its alert state: a decision, or a health event.

    One record type crosses the rest of the pipeline (mailer, report, event table, admin panel),
    so a renamed or missing column fails where the row is read, not as a string key deep in an email.
    """

    id: int
    time: str  # ISO 8601 with UTC offset, exactly as stored (listings and CSV show this text)
    kiosk_id: str
    decision: str  # "granted" | "denied"
    label: str
    score: float
    faces: int
    policy_note: str
    snapshot_path: Optional[str]  # None: privacy, no frame, or cleaned up
    crop_path: Optional[str]
    alert_state: str  # none | pending | pending-repeat | sending | sent | failed
    delivery_id: Optional[int]  # the email that carried its alert
    kind: str = "decision"  # "decision" (a visitor) | "health" (the kiosk itself: decision "health", note says what)
    source: str = "camera"  # camera | stream | file | folder | demo (SOURCE_KINDS)

    @property
    def thumbnail_path(self) -> Optional[str]:
        """The image a thumbnail is made from: the face crop, else the whole frame."""
        return self.crop_path or self.snapshot_path

    def as_dict(self) -> dict[str, Any]:
        """Column name to value, for tabular outputs (CSV)."""
        return asdict(self)


# What an event's frames came from. A demo is never a real event: demo events are recorded (and
# listed on request) but never emailed or counted; file and folder replays count unless a report
# leaves them out.
SOURCE_KINDS = ("camera", "stream", "file", "folder", "demo")
DEMO_SOURCE = "demo"
REPLAY_SOURCES = ("file", "folder")

DENIALS = frozenset({"denied", "uncertain"})  # decisions that keep the door closed and alert staff


def is_denial(decision: str) -> bool:
    """An uncertain visitor is denied like one without a mask: fail secure."""
    return decision in DENIALS


class DecisionSink(Protocol):
    """Anything that wants to hear about decisions (event log, alert outbox, UI queue).

    Called from the analysis worker thread, never from the Tk main thread, so it may touch disk.
    """

    def on_decision(self, event: DecisionEvent) -> None: ...
