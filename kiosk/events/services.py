"""The one object the kiosk talks to about what happened: event log, snapshots, alerts, reports.

``on_decision`` runs on the analysis worker thread and persists everything (snapshots, event
row, outbox row) before any email is tried. Face images are kept for denials only, unless
``[storage] keep_granted_images`` (and never with ``privacy``). A demo is never a real event:
demo events are recorded with their source, but never emailed nor counted; disk problems are logged in one line and never
raised, because the person at the door must still see the decision. ``status`` only reads
in-memory counters, so the Tk thread may call it every frame.

A damaged event database found at start is moved aside, not repaired or overwritten: the kiosk
starts a fresh log whose first event is a ``health`` event saying what happened (emailed to the
administrators when email is on), and logs one warning.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Optional

from kiosk.events.alert_sender import AlertSender
from kiosk.config import Config
from kiosk.events.store import DatabaseDamaged, EventStore, move_aside
from kiosk.events.mailer import Email, Mailer
from kiosk.records import DEMO_SOURCE, DecisionEvent, is_denial
from kiosk.events.snapshots import SnapshotStore
from kiosk.events.store import OutgoingFor
from kiosk.outputs.outbox import OutboxOutput, decision_payload, health_payload

if TYPE_CHECKING:  # pragma: no cover
    from kiosk.fleet.sync import FleetSync

log = logging.getLogger(__name__)

HOUSEKEEPING_EVERY_S = 30.0
RETENTION_EVERY_S = 6 * 3600.0


def _today() -> date:
    return datetime.now().astimezone().date()


class EventServices:
    """Implements ``kiosk.records.DecisionSink`` for the kiosk (GUI and headless)."""

    def __init__(self, cfg: Config, source_kind: str = "camera") -> None:
        """``source_kind``: what the kiosk's frames come from (``FrameSource.kind``), recorded with its health events."""
        self.cfg = cfg
        self.source_kind = source_kind
        self.store = self._open_store(cfg.resolve_path(cfg.storage.database))
        self.snapshots = SnapshotStore(cfg.resolve_path(cfg.storage.snapshots), cfg.storage.retention_days)
        self.mailer = Mailer(cfg.email)
        self.sender: Optional[AlertSender] = None
        if cfg.email.enabled:
            self.sender = AlertSender(self.store, self.mailer, cfg.email, cfg.kiosk.id, cfg.storage.privacy,
                                      compose_report=self._compose_report, on_progress=self._on_outbox_progress)
        self._lock = threading.Lock()
        self._day = _today()
        counts = self.store.decision_counts(self._day)
        self._granted = counts.get("granted", 0)
        self._denied = sum(n for decision, n in counts.items() if is_denial(decision))
        self._pending = self._waiting(self.store.outbox_counts())
        self._last_storage_error: Optional[str] = None
        self._storage_errors = 0
        self._stop = threading.Event()
        self._housekeeper: Optional[threading.Thread] = None
        self._sending = False
        self.mqtt = None  # the MQTT output when [mqtt] enabled (main.py run hands it the door)
        self.outputs: list[OutboxOutput] = self._outbox_outputs()
        # what the camera is doing now, for the fleet's overview; ``main.py run`` points it at the capture
        self.camera_state: Callable[[], str] = lambda: DEMO_SOURCE if source_kind == DEMO_SOURCE else ""
        self.fleet: Optional["FleetSync"] = self._fleet_sync() if cfg.fleet.database_url else None

    def _fleet_sync(self) -> "FleetSync":
        """The copy of this log into the fleet store ([fleet] database_url); it connects once started."""
        from kiosk.fleet.store import FleetStore
        from kiosk.fleet.sync import FleetSync

        return FleetSync(self.cfg.fleet, self.cfg.kiosk.id, self.store, FleetStore.from_settings(self.cfg.fleet),
                         threading.Event(), camera_state=lambda: self.camera_state())

    def _outbox_outputs(self) -> list[OutboxOutput]:
        """MQTT and webhooks, whose messages are queued with each event (none when both are off)."""
        outputs: list[OutboxOutput] = []
        if self.cfg.mqtt.enabled:
            from kiosk.outputs.mqtt import build_mqtt_output

            self.mqtt = build_mqtt_output(self.cfg, self.store, self._building_status, self._keeps_images)
            outputs.append(self.mqtt)
        if self.cfg.webhook.urls:
            from kiosk.credentials import webhook_secret
            from kiosk.outputs.webhook import WebhookOutput

            hooks = self.cfg.webhook
            outputs.append(WebhookOutput(self.store, hooks.urls, webhook_secret(), timeout_s=hooks.timeout_s,
                                         retry_initial_s=hooks.retry_initial_s, retry_max_s=hooks.retry_max_s))
        return outputs

    def _outgoing(self, payload_of: Callable[[int], Optional[dict]]) -> Optional[OutgoingFor]:
        """What the MQTT and webhook outputs queue for an event, given its id (nothing for the demo)."""
        if not self.outputs:
            return None

        def compose(event_id: int) -> list:
            payload = payload_of(event_id)
            return [] if payload is None else [m for output in self.outputs for m in output.messages(payload)]
        return compose

    def _building_status(self) -> dict[str, Any]:
        """What the MQTT status says besides online/offline (cheap: in-memory figures)."""
        status = self.status()
        return {"camera": self.camera_state(), "granted_today": status["granted_today"],
                "denied_today": status["denied_today"]}

    def _open_store(self, path: Path) -> EventStore:
        """The event log at ``path``; a damaged one is moved aside and a fresh log says so."""
        try:
            return EventStore(path)
        except DatabaseDamaged as damaged:
            problem = damaged.problem
        aside = move_aside(path)
        store = EventStore(path)
        note = (f"event database {path} was damaged ({problem}); moved aside to {aside.name}"
                " and a fresh event log started")
        store.record_health(datetime.now().astimezone(), self.cfg.kiosk.id, "database-replaced", note,
                            alert=self.cfg.email.enabled and self.source_kind != DEMO_SOURCE, source=self.source_kind)
        log.warning("%s", note)
        return store

    # --- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        """Start the alert sender (if email is on), the fleet sync (if [fleet] database_url is set)
        and the retention/report housekeeping thread."""
        if self.sender is not None:
            self._sending = self.sender.start()
        if self.fleet is not None:
            self.fleet.start()
        for output in self.outputs:
            output.start()
        self._housekeeper = threading.Thread(target=self._housekeeping, name="event-housekeeping", daemon=True)
        self._housekeeper.start()

    def stop(self, grace_s: float = 5.0) -> None:
        """Let the sender deliver for up to ``grace_s``; whatever is left stays queued in the DB."""
        self._stop.set()
        finished = self.sender.stop(grace_s) if self.sender is not None else True
        for output in self.outputs:  # what they cannot deliver now stays queued for the next start
            output.stop(min(grace_s, 3.0))
            finished = finished and not output.running
        if self._housekeeper is not None:
            self._housekeeper.join(2.0)
        if self.fleet is not None:  # what it has not copied yet stays in the log for the next start
            copied = self.fleet.stop(2.0)
            if copied:  # else it may still hold the connection, stuck on a cut network: let the process end it
                self.fleet.fleet.close()
            finished = finished and copied
        if finished:
            self.store.close()
        if self._pending:
            log.info("%d alerts/reports stay queued for the next start", self._pending)

    # --- the sink --------------------------------------------------------------------------

    def _alert_wanted(self, event: DecisionEvent) -> bool:
        return self.cfg.email.enabled and event.decision in self.cfg.email.notify_on and event.source != DEMO_SOURCE

    def _keeps_images(self, event: DecisionEvent) -> bool:
        """Private by default: a face image is kept for a denial (staff must see who it was), for a
        grant only when ``[storage] keep_granted_images`` asks, and never in privacy mode."""
        storage = self.cfg.storage
        return not storage.privacy and (is_denial(event.decision) or storage.keep_granted_images)

    def on_decision(self, event: DecisionEvent) -> None:
        """Persist one decision episode (images, event row, alert row) and wake the sender."""
        snapshot = crop = None
        if self._keeps_images(event):
            try:
                snapshot, crop = self.snapshots.save(event)
            except Exception as exc:  # disk full, permissions, an odd frame: the event row still goes in
                self._storage_failed(f"snapshot not saved: {type(exc).__name__}: {exc}")
        alert = self._alert_wanted(event)
        try:
            _, outbox_id, repeat = self.store.record_event(
                event, snapshot, crop, alert, self.cfg.email.cooldown_s,
                outgoing=self._outgoing(lambda event_id: decision_payload(event, event_id)))
        except Exception as exc:  # the decision must still be shown at the door; never raise here
            self._storage_failed(f"event not recorded in {self.store.path}: {type(exc).__name__}: {exc}")
            return
        with self._lock:
            self._roll_day()
            if event.time.astimezone().date() == self._day and event.source != DEMO_SOURCE:
                if event.decision == "granted":
                    self._granted += 1
                elif is_denial(event.decision):
                    self._denied += 1
            if outbox_id is not None and not repeat:
                self._pending += 1
        if outbox_id is not None and not repeat and self.sender is not None:
            self.sender.wake()
        if self.fleet is not None:
            self.fleet.wake()
        for output in self.outputs:
            output.on_decision(event)

    def on_health(self, what: str, note: str, alert: bool = True) -> None:
        """Record a ``health`` event of the kiosk itself (``what``: e.g. camera-offline, ``note``: the
        sentence for people) with its alert in the same transaction when ``alert`` and email is on:
        the outbox guarantees of alerts (never for the demo). Any thread; never raises."""
        alert = alert and self.cfg.email.enabled and self.source_kind != DEMO_SOURCE
        when, kiosk_id, source = datetime.now().astimezone(), self.cfg.kiosk.id, self.source_kind
        try:
            self.store.record_health(when, kiosk_id, what, note, alert=alert, source=source, outgoing=self._outgoing(
                lambda event_id: health_payload(event_id, kiosk_id, when, source, what, note)))
        except Exception as exc:
            self._storage_failed(f"health event {what} not recorded in {self.store.path}: {type(exc).__name__}: {exc}")
            return
        if alert:
            with self._lock:
                self._pending += 1
            if self.sender is not None:
                self.sender.wake()
        for output in self.outputs:
            output.wake()

    def _storage_failed(self, message: str) -> None:
        with self._lock:
            self._storage_errors += 1
            self._last_storage_error = message
        log.error("%s", message)

    # --- status ----------------------------------------------------------------------------

    def _roll_day(self) -> None:
        today = _today()
        if today != self._day:
            self._day, self._granted, self._denied = today, 0, 0

    @staticmethod
    def _waiting(counts: dict) -> int:
        """Emails still to go (cooldown repeats are not: they ride along with the next alert)."""
        return counts.get("pending", 0) + counts.get("sending", 0)

    def _on_outbox_progress(self, counts: dict) -> None:
        with self._lock:
            self._pending = self._waiting(counts)

    def status(self) -> dict[str, Any]:
        """Cheap in-memory figures for the status bar (no disk, no network)."""
        with self._lock:
            self._roll_day()
            return {
                "granted_today": self._granted,
                "denied_today": self._denied,
                "outbox_pending": self._pending,
                "email_enabled": self.cfg.email.enabled,
                "sender_running": bool(self.sender and self.sender.running),
                "last_email_error": self.sender.last_error if self.sender else None,
                "last_email_sent_at": self.sender.last_sent_at if self.sender else None,
                "storage_errors": self._storage_errors,
                "last_storage_error": self._last_storage_error,
            }

    # --- for the admin panel and commands (worker threads only: these touch SQLite) -------

    def overview(self, day: Optional[date] = None) -> dict[str, Any]:
        """Events of ``day`` (default today) and the outbox state; slow-ish, never on the Tk thread."""
        day = day or _today()
        return {
            "day": day,
            "events": self.store.events(day=day),
            "outbox": self.store.outbox_counts(),
            "queued": self.store.outbox_rows(("pending", "sending")),
            "status": self.status(),
        }

    # --- housekeeping ----------------------------------------------------------------------

    def _housekeeping(self) -> None:
        last_retention = -RETENTION_EVERY_S
        while not self._stop.is_set():
            if time.monotonic() - last_retention >= RETENTION_EVERY_S:
                last_retention = time.monotonic()
                self.cleanup_retention()
            try:
                self._schedule_report()
                if not (self.sender and self.sender.running):  # nobody else refreshes the outbox figure
                    self._on_outbox_progress(self.store.outbox_counts())
            except (sqlite3.Error, OSError) as exc:
                log.error("housekeeping: %s", exc)
            self._stop.wait(HOUSEKEEPING_EVERY_S)

    def cleanup_retention(self, today: Optional[date] = None) -> int:
        """Delete snapshots past ``retention_days`` and forget their paths; returns files removed."""
        try:
            removed = self.snapshots.cleanup(today)
            self.store.forget_snapshots_before(self.snapshots.cutoff_day(today))
            return removed
        except (sqlite3.Error, OSError) as exc:
            log.error("retention cleanup failed: %s", exc)
            return 0

    def _schedule_report(self) -> None:
        """At ``[email] report_time`` queue the report of the previous day (once per day)."""
        report_time = self.cfg.email.report_time
        if not (self.sender is not None and self._sending and report_time):
            return
        now = datetime.now().astimezone()
        if now.strftime("%H:%M") < report_time:
            return
        day = now.date() - timedelta(days=1)
        if not self.store.report_queued(day):
            self.store.enqueue_report(day)
            log.info("daily report for %s queued for email", day)
            self.sender.wake()

    def _compose_report(self, day: date) -> Email:
        from kiosk.events.report import build_report, compose_report_email  # matplotlib only when needed

        files = build_report(self.store, day, self.cfg.resolve_path(self.cfg.storage.reports),
                             self.cfg.kiosk.id, self.cfg.storage.privacy)
        return compose_report_email(files, self.cfg.kiosk.id, self.cfg.storage.privacy)
