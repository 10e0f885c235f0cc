"""FleetSync: the thread that copies one kiosk's event log into the fleet store, and beats its heart there.

Durable and at least once: the local SQLite log is the outbox. The sync reads events in id order
after its copy mark (kept in the same SQLite file), stores a batch in PostgreSQL in one
transaction, and only after that commit moves the mark past the batch. A crash (even ``kill -9``)
between the two commits copies that batch again, which the store's (kiosk_id, event_id) key turns
into a no-op: nothing is lost, nothing is stored twice. While PostgreSQL cannot be reached the
events wait in the log; the sync retries with a doubling wait from ``retry_initial_s`` to
``retry_max_s``, says so once per outage and once when it is back.
Demo events stay on the kiosk (the mark passes them); replays are copied with their source.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from typing import Callable, Optional

from kiosk.config import FleetSection
from kiosk.errors import KioskError
from kiosk.events.store import EventStore
from kiosk.fleet.store import FleetStore
from kiosk.records import DEMO_SOURCE, StoredEvent

log = logging.getLogger(__name__)

MARK = "fleet"  # the copy mark's name in the local log
BATCH = 200  # events per PostgreSQL transaction
POLL_S = 2.0  # look for events written by others (health events, other processes) this often
HEARTBEAT_S = 30.0  # kiosks.last_seen at least this often (the console's online window is three of them)
THUMBNAIL_PX = 320  # longest side of a face copied with [fleet] sync_images


class FleetSync:
    """Copies ``events`` (this kiosk's log) into ``fleet``; ``start``, ``wake`` on a new event, ``stop``."""

    def __init__(self, settings: FleetSection, kiosk_id: str, events: EventStore, fleet: FleetStore,
                 stop_event: threading.Event, camera_state: Callable[[], str] = lambda: "",
                 batch: int = BATCH, poll_s: float = POLL_S, heartbeat_s: float = HEARTBEAT_S) -> None:
        """``camera_state``: what the kiosk's camera is doing now (live, offline, demo or ''), for the heartbeat."""
        self.settings = settings
        self.kiosk_id = kiosk_id
        self.events = events
        self.fleet = fleet
        self.camera_state = camera_state
        self.batch = batch
        self.poll_s = poll_s
        self.heartbeat_s = heartbeat_s
        self._stop = stop_event
        self._wake = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self.copied = 0  # events this sync stored that were new to the fleet store
        self.last_error: Optional[str] = None  # the current outage's reason; None while copying works

    # --- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="fleet-sync", daemon=True)
            self._thread.start()

    def wake(self) -> None:
        """A new event is in the log: copy it now rather than at the next poll."""
        self._wake.set()

    def stop(self, timeout: float = 3.0) -> bool:
        """Stop the thread after one last pass, which copies what the last moments recorded when the
        store is reachable; True when it ended within ``timeout``. Whatever is not copied yet stays
        in the log for the next start."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            return not self._thread.is_alive()
        return True

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # --- copying ---------------------------------------------------------------------------

    def _thumbnail(self, event: StoredEvent) -> Optional[bytes]:
        """The face as a small PNG when images are copied and the kiosk kept one (never with privacy: none is kept)."""
        if not (self.settings.sync_images and event.thumbnail_path):
            return None
        from kiosk.events.snapshots import thumbnail_png  # OpenCV only when images are copied

        return thumbnail_png(event.thumbnail_path, THUMBNAIL_PX)

    def sync_once(self) -> int:
        """Copy the next batch of events; returns how many local events it covered (0: none waiting).

        Raises ``FleetError`` when PostgreSQL fails (the mark stays: the batch is copied again).
        """
        batch = self.events.events_after(self.events.copy_mark(MARK), self.batch)
        if not batch:
            return 0
        shared = [(event, self._thumbnail(event)) for event in batch if event.source != DEMO_SOURCE]
        if shared:
            self.copied += self.fleet.store_events(self.kiosk_id, shared, self.camera_state())
        self.events.set_copy_mark(MARK, batch[-1].id)  # only now: PostgreSQL has committed the batch
        return len(batch)

    def sync_all(self) -> int:
        """Copy every event waiting (tools and tests); returns how many local events were covered."""
        covered = total = self.sync_once()
        while covered == self.batch:
            covered = self.sync_once()
            total += covered
        return total

    def _run(self) -> None:
        delay = self.settings.retry_initial_s
        last_beat, last_state = float("-inf"), None
        while True:
            stopping = self._stop.is_set()  # then one last pass copies what the last moments recorded
            try:
                covered = self.sync_once()
                state = self.camera_state()
                if covered:
                    last_beat, last_state = time.monotonic(), state  # store_events noted the kiosk as seen
                elif time.monotonic() - last_beat >= self.heartbeat_s or state != last_state:
                    self.fleet.heartbeat(self.kiosk_id, state)
                    last_beat, last_state = time.monotonic(), state
            except (KioskError, sqlite3.Error, OSError) as exc:  # FleetError, a newer schema, the local log
                if stopping:
                    break
                self._failed(exc, delay)
                self._stop.wait(delay)
                delay = min(delay * 2, self.settings.retry_max_s)
                continue
            if self.last_error is not None:
                log.info("fleet store %s reachable again; copying the events recorded meanwhile", self.fleet.where)
                self.last_error = None
            delay = self.settings.retry_initial_s
            if stopping:  # one batch at most: stopping must not wait for a long backlog
                break
            if covered == self.batch:  # more are waiting: go on at once
                continue
            self._wake.wait(self.poll_s)
            self._wake.clear()

    def _failed(self, exc: BaseException, delay: float) -> None:
        message = str(exc) if isinstance(exc, KioskError) else f"event log: {type(exc).__name__}: {exc}"
        if self.last_error is None:  # once per outage, not once per retry
            log.warning("%s; events stay in the local log and are copied when it works again (next try in %.3g s)",
                        message, delay)
        else:
            log.debug("fleet sync still failing: %s", message)
        self.last_error = message
