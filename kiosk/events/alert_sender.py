"""The background thread that empties the outbox: retries with capped exponential backoff,
the hourly cap, digests, and an orderly stop that leaves undelivered mail queued.

Rate limiting, precisely (every alert ends up in exactly one delivered email):
* one alert per decision episode (``outbox.event_id`` is UNIQUE);
* cooldown: an alert within ``cooldown_s`` of the previous leading alert is a *repeat*
  (decided when it is stored): it causes no email of its own, it is listed in the next one;
  repeats still waiting when the cooldown has run out go out together as one summary email,
  so a denial is never held back longer than ``cooldown_s`` for want of a later alert;
* hourly cap: at most ``hourly_cap`` alert emails per rolling hour; while the cap is reached,
  alerts wait, and when the window has room everything waiting goes out as ONE digest;
* backlog: whenever more than one leading alert is waiting (after an outage, a restart, the
  cap), they go out together as one digest rather than as a burst.
Each email carries the event ids it accounts for in ``X-Kiosk-Event-Ids``.
"""

from __future__ import annotations

import logging
import threading
import time
from datetime import date
from typing import Callable, Optional

from kiosk.config import EmailSection
from kiosk.errors import KioskError
from kiosk.events.store import EventStore, OutboxItem, SenderLock
from kiosk.events.mailer import Email, Mailer, compose_alert

log = logging.getLogger(__name__)

MAX_EVENTS_PER_EMAIL = 500  # a digest larger than this is split over several emails
IDLE_POLL_S = 5.0  # also look at the queue this often: another process may have queued mail
HOUR_S = 3600.0

ReportComposer = Callable[[date], Email]


class AlertSender:
    """Delivers pending outbox rows; wake it with ``wake()`` after queueing something."""

    def __init__(self, store: EventStore, mailer: Mailer, settings: EmailSection, kiosk_id: str,
                 privacy: bool, compose_report: Optional[ReportComposer] = None,
                 on_progress: Optional[Callable[[dict], None]] = None) -> None:
        self.store = store
        self.mailer = mailer
        self.settings = settings
        self.kiosk_id = kiosk_id
        self.privacy = privacy
        self.compose_report = compose_report
        self.on_progress = on_progress
        self._wake = threading.Event()
        self._stop_deadline: Optional[float] = None
        self._thread: Optional[threading.Thread] = None
        self._lock = SenderLock(store.path)
        self._failures = 0
        self._retry_at = 0.0
        self.last_error: Optional[str] = None
        self.last_sent_at: Optional[float] = None
        self.cap_window_s = HOUR_S  # the hourly cap's window (a drill may shorten it)

    # --- control ---------------------------------------------------------------------------

    def start(self) -> bool:
        """Start the thread; False when another process already sends for this database."""
        if not self._lock.acquire():
            log.warning("another kiosk process sends the alerts of %s; this one only queues them", self.store.path)
            return False
        recovered = self.store.recover()
        if recovered:
            log.warning("%d outbox rows were being sent when the last process died; sending them again", recovered)
        self._thread = threading.Thread(target=self._run, name="alert-sender", daemon=True)
        self._thread.start()
        return True

    def wake(self) -> None:
        self._wake.set()

    def stop(self, grace_s: float = 5.0) -> bool:
        """Give the sender up to ``grace_s`` to deliver what can go now; True if it finished."""
        if self._thread is None:
            return True
        self._stop_deadline = time.monotonic() + grace_s
        self._wake.set()
        self._thread.join(grace_s + 0.5)
        finished = not self._thread.is_alive()
        if finished:
            self._lock.release()
        else:
            log.warning("alert sender still busy after %.1f s; undelivered alerts stay queued", grace_s)
        return finished

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # --- loop ------------------------------------------------------------------------------

    def _stopping(self) -> bool:
        return self._stop_deadline is not None

    def _run(self) -> None:
        while True:
            try:
                wait_s = self._cycle()
            except Exception as exc:  # a bug or a broken database must not kill the sender
                log.error("alert sender: %s: %s", type(exc).__name__, exc, exc_info=log.isEnabledFor(logging.DEBUG))
                wait_s = self._backoff(f"{type(exc).__name__}: {exc}")
            self._report_progress()
            if self._stopping():
                if time.monotonic() >= self._stop_deadline:
                    return
                if wait_s != 0 and self._wake.is_set():  # queued after that look (e.g. just before stop): look again
                    self._wake.clear()
                    continue
                if wait_s != 0:
                    return
                continue
            if wait_s == 0:
                continue
            self._wake.wait(IDLE_POLL_S if wait_s is None else min(wait_s, IDLE_POLL_S))
            self._wake.clear()

    def _report_progress(self) -> None:
        if self.on_progress is None:
            return
        try:
            self.on_progress(self.store.outbox_counts())
        except Exception as exc:
            log.debug("progress report failed: %s", exc)

    def _backoff(self, error: str) -> float:
        self._failures += 1
        delay = min(self.settings.retry_max_s, self.settings.retry_initial_s * 2 ** (self._failures - 1))
        self._retry_at = time.monotonic() + delay
        self.last_error = error
        return delay

    def _cycle(self) -> Optional[float]:
        """Send at most one email. Returns 0 to go on at once, seconds to wait, or None (wait for wake)."""
        now = time.monotonic()
        if now < self._retry_at:
            return self._retry_at - now
        pending = self.store.pending()
        alerts = [p for p in pending if p.kind == "alert"]
        wait_s: Optional[float] = None
        due, repeats_wait_s = self._alerts_due(alerts)
        if due:
            recent = self.store.alert_deliveries_since(time.time() - self.cap_window_s)
            if len(recent) < self.settings.hourly_cap:
                batch = alerts[:MAX_EVENTS_PER_EMAIL]
                return self._deliver(batch, lambda: self._compose_alerts(batch))
            room_at = recent[len(recent) - self.settings.hourly_cap] + self.cap_window_s
            wait_s = max(0.5, room_at - time.time())
        elif repeats_wait_s is not None:
            wait_s = repeats_wait_s
        report = next((p for p in pending if p.kind == "report"), None)  # reports are not rate limited
        if report is not None and self.compose_report is not None:
            return self._deliver([report], lambda: self.compose_report(date.fromisoformat(report.report_day)))
        return wait_s

    def _alerts_due(self, alerts: list[OutboxItem]) -> tuple[bool, Optional[float]]:
        """Whether waiting alerts should go out now; else how long until the repeats are due.

        A leading alert is due at once. Repeats alone wait for the cooldown after the last
        leading alert, then go out as a summary.
        """
        if any(not p.repeat for p in alerts):
            return True, None
        if not alerts:
            return False, None
        last_lead = self.store.last_leading_alert_epoch()
        remaining = 0.0 if last_lead is None else last_lead + self.settings.cooldown_s - time.time()
        return (True, None) if remaining <= 0 else (False, max(0.5, remaining))

    def _compose_alerts(self, batch: list[OutboxItem]) -> Email:
        repeat_ids = {p.event_id for p in batch if p.repeat}
        events = self.store.events_by_ids(p.event_id for p in batch)
        leads = [e for e in events if e.id not in repeat_ids]
        repeats = [e for e in events if e.id in repeat_ids]
        if not leads:  # repeats whose cooldown ran out with no newer alert: they lead their own email
            leads, repeats = repeats, []
        return compose_alert(self.kiosk_id, leads, repeats, self.privacy)

    def _deliver(self, items: list[OutboxItem], compose: Callable[[], Email]) -> float:
        token = self.store.claim([p.id for p in items])
        if token is None:
            return 0
        try:
            mail = compose()
        except Exception as exc:  # a report that cannot be built would block the queue forever
            if items[0].kind != "report":
                self.store.release(token, f"cannot compose: {exc}")
                raise
            log.error("daily report for %s not emailed: %s: %s", items[0].report_day, type(exc).__name__, exc)
            self.store.fail(token, f"{type(exc).__name__}: {exc}")
            return 0
        try:
            self.mailer.send(mail)
        except BaseException as exc:
            message = str(exc) if isinstance(exc, KioskError) else f"{type(exc).__name__}: {exc}"
            self.store.release(token, message)
            if not isinstance(exc, Exception):
                raise
            delay = self._backoff(message)
            log.warning("email not sent (%d alerts/reports in it, retry %d in %.1f s): %s",
                        len(items), self._failures, delay, message)
            return delay
        self.store.mark_sent(token, mail.kind, mail.message_id, time.time())
        self._failures, self._retry_at = 0, 0.0
        self.last_error, self.last_sent_at = None, time.time()
        return 0
