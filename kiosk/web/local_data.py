"""``ConsoleData`` over one kiosk's own SQLite event log, so a single entrance needs no server.

The log has no heartbeats: a kiosk counts as online when its newest event (a decision or a
health event) is younger than ``[web] online_within_s``. Its camera is offline after a
``camera-offline`` health event that no ``camera-back`` followed, else the demo feed when its
newest event came from the demo, live while online, and unknown otherwise. The images are the files the
kiosk wrote under ``[storage] snapshots``; with ``[storage] privacy`` there are none.
"""

from __future__ import annotations

import logging
from datetime import date, datetime
from pathlib import Path
from typing import Optional, Sequence

from kiosk.config import DECISION_KINDS, Config
from kiosk.door.health import CAMERA_BACK, CAMERA_OFFLINE
from kiosk.errors import KioskError
from kiosk.events.store import EventStore
from kiosk.events.snapshots import SNAPSHOT_RE
from kiosk.records import DEMO_SOURCE, StoredEvent
from kiosk.web.data import ConsoleEvent, EventFilter, KioskSummary

log = logging.getLogger(__name__)


class LocalConsoleData:
    """Implements ``kiosk.web.data.ConsoleData`` for one event log (``EventStore``)."""

    def __init__(self, cfg: Config, store: EventStore, online_within_s: float) -> None:
        self.cfg = cfg
        self.store = store
        self.online_within_s = online_within_s

    def close(self) -> None:
        self.store.close()

    # --- reading ---------------------------------------------------------------------------

    def _has_image(self, event: StoredEvent) -> bool:
        return self._image_path(event) is not None

    def _image_path(self, event: StoredEvent, face_first: bool = False) -> Optional[Path]:
        """The event's annotated frame, else its face crop (``face_first``: the other way round):
        only files the kiosk wrote, and still there."""
        if self.cfg.storage.privacy:
            return None
        images = (event.snapshot_path, event.crop_path)
        for value in images[::-1] if face_first else images:
            path = Path(value) if value else None
            if path is not None and SNAPSHOT_RE.match(path.name) and path.is_file():
                return path
        return None

    def _console_event(self, event: StoredEvent) -> ConsoleEvent:
        return ConsoleEvent(kiosk_id=event.kiosk_id, event_id=event.id, time=datetime.fromisoformat(event.time),
                            kind=event.kind, decision=event.decision, label=event.label, score=event.score,
                            source=event.source, note=event.policy_note, has_snapshot=self._has_image(event))

    def kiosk_ids(self) -> list[str]:
        """The kiosks of the log, and the configured one even before its first event."""
        return sorted({*self.store.kiosk_ids(), self.cfg.kiosk.id})

    def kiosks(self, day: date) -> list[KioskSummary]:
        """Every kiosk in the log (the configured one even before its first event), by name."""
        newest = self.store.newest_per_kiosk()
        counts: dict[str, dict[str, int]] = {kiosk: {} for kiosk in [*newest, self.cfg.kiosk.id]}
        counts.update(self.store.decision_counts_by_kiosk(day))
        now = datetime.now().astimezone()
        summaries = []
        for kiosk, decided in sorted(counts.items()):
            event = newest.get(kiosk)
            seen = datetime.fromisoformat(event.time) if event else None
            online = seen is not None and (now - seen).total_seconds() < self.online_within_s
            summaries.append(KioskSummary(kiosk, seen, online, self._camera_state(kiosk, event, online),
                                          *(decided.get(outcome, 0) for outcome in DECISION_KINDS)))
        return summaries

    def _camera_state(self, kiosk_id: str, newest: Optional[StoredEvent], online: bool) -> str:
        """offline after a camera-offline health event not yet followed by camera-back; else demo
        when the newest event came from the demo feed, live while the kiosk is online, "" unknown."""
        reports = [found[0] for label in (CAMERA_OFFLINE, CAMERA_BACK)
                   if (found := self.store.search(kiosk_id=kiosk_id, kind="health", label=label, limit=1)[0])]
        if reports and max(reports, key=lambda e: e.id).label == CAMERA_OFFLINE:  # ids grow with time
            return "offline"
        if newest is not None and newest.source == DEMO_SOURCE:
            return "demo"
        return "live" if online else ""

    def events(self, where: EventFilter, offset: int, limit: int) -> tuple[list[ConsoleEvent], int]:
        kind = None if where.kind == "any" else where.kind
        rows, total = self.store.search(kiosk_id=where.kiosk_id, day=where.day, decision=where.decision,
                                        label=where.label, kind=kind, offset=offset, limit=limit)
        return [self._console_event(row) for row in rows], total

    def _stored(self, kiosk_id: str, event_id: int) -> Optional[StoredEvent]:
        event = self.store.event(event_id)
        return event if event is not None and event.kiosk_id == kiosk_id else None

    def event(self, kiosk_id: str, event_id: int) -> Optional[ConsoleEvent]:
        event = self._stored(kiosk_id, event_id)
        return self._console_event(event) if event else None

    def snapshot(self, kiosk_id: str, event_id: int) -> Optional[bytes]:
        """The annotated frame the decision was made on (the face crop when there is no frame)."""
        return self._image(kiosk_id, event_id, face_first=False)

    def face_image(self, kiosk_id: str, event_id: int) -> Optional[bytes]:
        """The face crop, for the listings' thumbnails (beyond ``ConsoleData``: for a store without
        it the console scales the snapshot down)."""
        return self._image(kiosk_id, event_id, face_first=True)

    def _image(self, kiosk_id: str, event_id: int, face_first: bool) -> Optional[bytes]:
        event = self._stored(kiosk_id, event_id)
        path = self._image_path(event, face_first) if event else None
        if path is None:
            return None
        try:
            return path.read_bytes()
        except OSError as exc:  # cleaned up meanwhile, permissions
            log.warning("cannot read the image of event %d: %s", event_id, exc.strerror or exc)
            return None

    def hourly_counts(self, day: date, kiosk_id: Optional[str]) -> dict[str, Sequence[int]]:
        from kiosk.events.report import hourly_counts  # matplotlib only when a report is asked for

        events = self.store.events(day=day, exclude_sources=(DEMO_SOURCE,))
        return hourly_counts([e for e in events if e.kind == "decision" and kiosk_id in (None, e.kiosk_id)])

    # --- privacy ---------------------------------------------------------------------------

    def delete_event(self, kiosk_id: str, event_id: int) -> bool:
        """What ``main.py events --delete`` does: images, record, queued alert, and the day's report
        rewritten without it."""
        from kiosk.commands.events import delete_event

        if self._stored(kiosk_id, event_id) is None:
            return False
        try:
            log.info("%s", delete_event(self.cfg, event_id))
        except KioskError:
            if self._stored(kiosk_id, event_id) is None:  # deleted by someone else meanwhile
                return False
            raise
        return True
