"""Outputs that must not lose a message (MQTT, webhooks): queued durably with their event, sent by their own thread.

How a message travels:

1. The event services record an event (a decision or a health event) and, in the same SQLite
   transaction, the messages each ``OutboxOutput`` wants for it (``messages(payload)``) in the
   event log's ``deliveries_out`` table. A message therefore exists exactly when its event does,
   even after a ``kill -9`` or a power cut.
2. The output's sender thread ("mqtt-sender", "webhook-sender") sends pending rows oldest first
   and marks them delivered once the far end has them (an MQTT PUBACK, a 2xx answer). A failure
   leaves the row pending; its target (the broker, one URL) backs off, doubling from
   ``retry_initial_s`` up to ``retry_max_s``, while other targets go on.
3. Delivery is at least once. A message can arrive twice (the kiosk died after the far end had it
   and before the row was marked), never zero times. Every payload carries ``id``
   ("<kiosk id>:<event id>"), the same on every attempt, so receivers drop duplicates.

The demo is never published: ``event_payload`` of a demo event is None, and ``messages`` is not asked.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from abc import abstractmethod
from datetime import datetime
from typing import Any, Optional

from kiosk.events.store import EventStore, OutgoingRow, SenderLock
from kiosk.outputs.base import Output
from kiosk.records import DEMO_SOURCE, DecisionEvent

log = logging.getLogger(__name__)

BATCH = 100  # rows read from the outbox at a time
IDLE_POLL_S = 5.0  # look at the outbox this often anyway (another thread of this process may have queued)
FORGET_SENT_AFTER_S = 7 * 86400.0  # delivered rows are kept this long (the event row stays for good)
FORGET_EVERY_S = 3600.0


def event_payload(kind: str, event_id: int, kiosk_id: str, when: datetime, source: str,
                  **fields: Any) -> Optional[dict]:
    """The JSON every output sends about one stored event; None for the demo, which is never sent.

    ``id`` is the same on every delivery attempt of this event, for receivers to drop duplicates.
    """
    if source == DEMO_SOURCE:
        return None
    return {"id": f"{kiosk_id}:{event_id}", "event_id": event_id, "kiosk_id": kiosk_id, "kind": kind,
            "time": when.isoformat(timespec="milliseconds"), "source": source, **fields}


def decision_payload(event: DecisionEvent, event_id: int) -> Optional[dict]:
    """A decision as sent: no image, ever (snapshots are a separate, optional MQTT topic)."""
    return event_payload("decision", event_id, event.kiosk_id, event.time, event.source,
                         decision=event.decision, label=event.label, score=round(float(event.score), 4),
                         faces=int(event.faces), policy_note=event.policy_note)


def health_payload(event_id: int, kiosk_id: str, when: datetime, source: str, what: str,
                   note: str) -> Optional[dict]:
    """A health event of the kiosk itself (camera offline, door relay failed, ...)."""
    return event_payload("health", event_id, kiosk_id, when, source, what=what, note=note)


class OutboxOutput(Output):
    """An output whose messages go through ``deliveries_out``; subclasses say what to queue and how to send one.

    ``messages`` runs inside the event's transaction (no I/O there); ``_send`` on the sender
    thread. ``on_decision`` (after the event is stored) only wakes the sender.
    """

    channel = ""  # "mqtt" | "webhook": the rows of deliveries_out this output owns

    def __init__(self, store: EventStore, *, retry_initial_s: float, retry_max_s: float) -> None:
        self.store = store
        self.retry_initial_s = retry_initial_s
        self.retry_max_s = retry_max_s
        self.delivered_count = 0
        self.last_error: Optional[str] = None
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._lock = SenderLock(store.path, self.channel)
        self._sending = False  # this process holds the channel's lock
        self._in_flight: set[int] = set()  # rows sent whose acknowledgement has not come yet (sender thread)
        self._acked: "collections.deque[int]" = collections.deque()  # rows acknowledged (any thread)
        self._failures: dict[str, int] = {}  # target -> failures in a row (sender thread)
        self._paused_until: dict[str, float] = {}  # target -> epoch seconds (sender thread)
        self._forgot_at = 0.0

    # --- what a channel does --------------------------------------------------------------

    @abstractmethod
    def messages(self, payload: dict) -> list:
        """The ``kiosk.events.store.Outgoing`` rows to queue for one event's ``payload`` (may be [])."""

    @abstractmethod
    def _send(self, row: OutgoingRow) -> bool:
        """Send one row (sender thread). True: delivered now; False: on the wire, ``_acknowledged(row.id)``
        follows. Raises when it cannot be sent."""

    def _ready(self) -> bool:
        """Whether anything can be sent now (e.g. the broker is connected)."""
        return True

    def _describe_target(self, target: str) -> str:
        return target

    # --- lifecycle ----------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            return
        self._sending = self._lock.acquire()
        if not self._sending:
            log.warning("another kiosk process sends the %s messages of %s; this one only queues them",
                        self.channel, self.store.path)
            return
        self._thread = threading.Thread(target=self._run, name=f"{self.channel}-sender", daemon=True)
        self._thread.start()

    def on_decision(self, event: DecisionEvent) -> None:
        self.wake()

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 2.0) -> None:
        """Give what is queued up to ``timeout`` to go out; the rest stays queued for the next start."""
        if self._thread is None or self._stop.is_set():
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self._thread.is_alive() and self.pending_here():
            self._wake.set()
            time.sleep(0.05)
        self._stop.set()
        self._wake.set()
        self._thread.join(max(0.1, deadline - time.monotonic()))
        if not self._thread.is_alive():
            self._lock.release()
        left = self.pending_here()
        if left:
            log.info("%d %s messages stay queued for the next start", left, self.channel)

    def pending_here(self) -> int:
        """Rows of this channel not delivered yet (queued or on the wire)."""
        try:
            return self.store.outgoing_counts().get(self.channel, {}).get("pending", 0)
        except Exception:  # the store is closed or broken: nothing more can be done now anyway
            return 0

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # --- the sender thread --------------------------------------------------------------

    def _acknowledged(self, row_id: int) -> None:
        """The far end has row ``row_id`` (any thread, e.g. the MQTT network thread)."""
        self._acked.append(row_id)
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                wait_s = self._cycle()
            except Exception as exc:  # a bug or a broken database must not end the sender
                log.error("%s sender: %s: %s", self.channel, type(exc).__name__, exc,
                          exc_info=log.isEnabledFor(logging.DEBUG))
                wait_s = IDLE_POLL_S
            if wait_s > 0:
                self._wake.wait(wait_s)
                self._wake.clear()
        try:
            self._mark_acknowledged()
        except Exception as exc:
            log.debug("%s sender: marking the last deliveries: %s", self.channel, exc)

    def _cycle(self) -> float:
        """Send what is due; returns how long to wait before the next look (0: at once)."""
        self._mark_acknowledged()
        self._forget_old()
        if not self._ready():
            return IDLE_POLL_S
        now = time.time()
        paused = {target for target, until in self._paused_until.items() if until > now}
        room = BATCH - len(self._in_flight)
        rows = self.store.due_outgoing(self.channel, now, room, skip_ids=self._in_flight,
                                       skip_targets=paused) if room > 0 else []
        delivered = []
        for row in rows:
            if self._stop.is_set() or not self._ready():
                break
            if row.target in paused:  # failed earlier in this batch
                continue
            try:
                done = self._send(row)
            except Exception as exc:
                self._failed(row, exc)
                paused.add(row.target)
                continue
            self._failures.pop(row.target, None)
            if done:
                delivered.append(row.id)
            else:
                self._in_flight.add(row.id)
        if delivered:
            self._record_delivered(delivered)
        self._idle_work()  # after the messages: a status counting a decision follows the decision
        if rows and len(rows) == room:
            return 0  # more may be due
        due = self.store.next_outgoing_due(self.channel, skip_targets=paused)
        waits = [IDLE_POLL_S]
        if due is not None and not (self._in_flight and due <= now):
            waits.append(max(0.0, due - time.time()))
        waits += [until - time.time() for target, until in self._paused_until.items() if target in paused]
        return max(0.0, min(waits))

    def _idle_work(self) -> None:
        """Anything else the sender thread does each cycle it can send (MQTT: keep the status current)."""

    def _mark_acknowledged(self) -> None:
        ids = []
        while self._acked:
            ids.append(self._acked.popleft())
        if ids:
            self._in_flight.difference_update(ids)
            self._record_delivered(ids)

    def _record_delivered(self, ids: list[int]) -> None:
        self.store.delivered(ids, time.time())
        self.delivered_count += len(ids)
        if self.last_error is not None:
            log.info("%s: delivering again", self.channel)
            self.last_error = None

    def _failed(self, row: OutgoingRow, exc: Exception) -> None:
        """One failed attempt: the target backs off, the row waits with the reason kept."""
        error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        failures = self._failures.get(row.target, 0) + 1
        self._failures[row.target] = failures
        delay = min(self.retry_max_s, self.retry_initial_s * 2 ** (failures - 1))
        retry_at = time.time() + delay
        self._paused_until[row.target] = retry_at
        self.store.retry_later(row.id, error, retry_at)
        if failures == 1 or self.last_error is None:
            log.warning("%s: %s failed (%s); retrying in %.1f s, messages stay queued", self.channel,
                        self._describe_target(row.target), error, delay)
        else:
            log.debug("%s: %s failed again (%s); retry %d in %.1f s", self.channel,
                      self._describe_target(row.target), error, failures, delay)
        self.last_error = error

    def _forget_old(self) -> None:
        now = time.time()
        if now - self._forgot_at >= FORGET_EVERY_S:
            self._forgot_at = now
            self.store.forget_delivered(now - FORGET_SENT_AFTER_S)
