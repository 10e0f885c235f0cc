"""What the console reads, whatever store it reads from: one small protocol, two implementations.

``kiosk.web.local_data`` reads one kiosk's SQLite event log (a single entrance needs no server);
``kiosk.fleet.store`` reads the fleet's PostgreSQL store. Pages only ever see these records.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Optional, Protocol, Sequence


@dataclass(frozen=True)
class KioskSummary:
    """One entrance on the fleet overview."""

    kiosk_id: str
    last_seen: Optional[datetime]  # newest event or heartbeat; None when never heard from
    online: bool  # heard from within the store's online window
    camera_state: str  # "live" | "offline" | "demo" | "" (unknown)
    granted: int  # today's decisions (demo events never count)
    denied: int
    uncertain: int


@dataclass(frozen=True)
class ConsoleEvent:
    """One recorded event as the console shows it."""

    kiosk_id: str
    event_id: int  # the kiosk's own id: (kiosk_id, event_id) is unique in the fleet
    time: datetime
    kind: str  # "decision" | "health"
    decision: str  # "granted" | "denied" | "uncertain" ("health" for health events)
    label: str
    score: float
    source: str  # "camera" | "stream" | "file" | "folder" | "demo"
    note: str  # policy note or health text
    has_snapshot: bool


@dataclass(frozen=True)
class EventFilter:
    kiosk_id: Optional[str] = None
    day: Optional[date] = None
    decision: Optional[str] = None
    label: Optional[str] = None
    kind: str = "decision"  # "decision" | "health" | "any"


class ConsoleData(Protocol):
    """Read (and, for admins, delete) what the console shows."""

    def kiosks(self, day: date) -> list[KioskSummary]: ...

    def kiosk_ids(self) -> list[str]:
        """Every kiosk the listings can filter on, sorted: a name list, not a day's summaries."""
        ...

    def events(self, where: EventFilter, offset: int, limit: int) -> tuple[list[ConsoleEvent], int]:
        """A page of events, newest first, and how many match in all."""
        ...

    def event(self, kiosk_id: str, event_id: int) -> Optional[ConsoleEvent]: ...

    def snapshot(self, kiosk_id: str, event_id: int) -> Optional[bytes]:
        """The event's face image as JPEG or PNG bytes, or None (no image kept, or privacy)."""
        ...

    def hourly_counts(self, day: date, kiosk_id: Optional[str]) -> dict[str, Sequence[int]]:
        """{"granted": [24], "denied": [24], "uncertain": [24]} for one kiosk or the whole fleet."""
        ...

    def delete_event(self, kiosk_id: str, event_id: int) -> bool:
        """A privacy request: the event and its image are gone; False when there was none."""
        ...
