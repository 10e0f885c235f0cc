"""The door strike: a grant seen by a live camera unlocks the door for ``[door] open_s`` seconds.

``DoorOutput`` holds the rules every relay shares; ``serial_relay``, ``gpio_relay`` and
``http_relay`` only say how to reach theirs. The rules:

* Only a grant opens, and only from a live source (a camera or a stream, both for the kiosk's
  source and for the event): never a denial, an uncertain visitor, the demo or a replayed file.
* ``on_decision`` only queues a request; the door's own thread ("door") drives the relay, so a
  slow port or controller never holds up the analysis. A grant while the door is open extends
  the pulse: the door locks ``open_s`` after the latest grant.
* Fail secure. The relay is told to lock when it is connected, so a board left latched by a crash
  is locked again at start. Any error locks it where it still can, drops the connection (the next
  grant reconnects) and is reported once per outage: one log line and ``on_health(what, note)``,
  which the kiosk records as a ``health`` event. Stopping locks the door.
* Staff can open it by hand (``open_manually``), whatever the source; ``on_manual_open(reason)``
  hears of each manual opening so it can be recorded.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from abc import abstractmethod
from dataclasses import dataclass
from typing import Callable, Optional

from kiosk.config import Config
from kiosk.outputs.base import Output
from kiosk.records import DecisionEvent

log = logging.getLogger(__name__)

LIVE_SOURCES = ("camera", "stream")  # frames that are a person at the door now; files, folders and the demo are not
HEALTH_DOOR_FAILED = "door-output-failed"  # the ``what`` of the health events this module reports
QUEUE_SIZE = 16  # pending open requests; more while the relay is stuck are dropped (the door is being opened anyway)

HealthCallback = Callable[[str, str], None]  # (what, note): a short name and a sentence for people
ManualOpenCallback = Callable[[str], None]  # (reason)


@dataclass(frozen=True)
class OpenRequest:
    reason: str  # "granted" or "manual: <reason>"
    queued_at: float  # time.monotonic() when it was asked for
    manual: bool = False


_STOP = OpenRequest("stop", 0.0)


class DoorOutput(Output):
    """A relay that unlocks the door; subclasses implement ``_connect``, ``_unlock``, ``_lock``, ``_disconnect``.

    Those four run on the door thread only. ``_unlock`` and ``_lock`` raise on any failure.
    """

    def __init__(self, open_s: float, *, source_kind: str, target: str,
                 on_health: Optional[HealthCallback] = None,
                 on_manual_open: Optional[ManualOpenCallback] = None) -> None:
        """``source_kind``: the kind of the kiosk's frame source (``FrameSource.kind``); only a live
        one opens the door. ``target`` names the relay in messages, e.g. "serial relay /dev/ttyUSB0"."""
        if open_s <= 0:
            raise ValueError("open_s must be positive")
        self.open_s = float(open_s)
        self.source_kind = source_kind
        self.target = target
        self.on_health = on_health
        self.on_manual_open = on_manual_open
        self.opens = 0  # successful unlocks (grants and manual)
        self.failures = 0
        self.last_error: Optional[str] = None
        self.last_unlocked_at: Optional[float] = None  # time.monotonic() of the newest unlock command sent
        self._requests: "queue.Queue[OpenRequest]" = queue.Queue(maxsize=QUEUE_SIZE)
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._connected = False
        self._open_until: Optional[float] = None  # door thread only
        self._failing = False  # door thread only: an outage already reported

    # --- what a relay does (door thread only) ------------------------------------------------

    def _connect(self) -> None:
        """Open the port, pin or session; nothing to do by default."""

    @abstractmethod
    def _unlock(self, reason: str) -> None:
        """Energise the relay: the door opens."""

    @abstractmethod
    def _lock(self) -> None:
        """Release the relay: the door locks."""

    def _disconnect(self) -> None:
        """Release what ``_connect`` opened; may be called after a failure."""

    # --- the sink ------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name="door", daemon=True)
        self._thread.start()

    def on_decision(self, event: DecisionEvent) -> None:
        if event.decision != "granted":
            return  # denied and uncertain keep the door shut
        if self.source_kind not in LIVE_SOURCES or event.source not in LIVE_SOURCES:
            log.debug("grant from a %s source: the door stays closed", event.source)
            return
        self._ask(OpenRequest("granted", time.monotonic()))

    def open_manually(self, reason: str) -> bool:
        """Staff open the door (admin panel, a remote command); returns at once, False when stopped
        or not started. ``on_manual_open(reason)`` hears of it once the relay has unlocked."""
        if self._thread is None or self._stop.is_set():
            return False
        return self._ask(OpenRequest(reason, time.monotonic(), manual=True))

    def stop(self, timeout: float = 2.0) -> None:
        """Lock the door and release the relay."""
        if self._thread is None or self._stop.is_set():
            return
        self._stop.set()
        try:
            self._requests.put_nowait(_STOP)  # wakes the thread at once
        except queue.Full:
            pass  # it looks at the stop event after each request
        self._thread.join(timeout)

    @property
    def state(self) -> str:
        """closed | open | failed | stopped, for a status display (read from any thread)."""
        if self._stop.is_set():
            return "stopped"
        if self._failing:
            return "failed"
        return "open" if self._open_until is not None else "closed"

    def _ask(self, request: OpenRequest) -> bool:
        try:
            self._requests.put_nowait(request)
            return True
        except queue.Full:
            log.warning("door: %d open requests waiting on the %s; this one is dropped", QUEUE_SIZE, self.target)
            return False

    # --- the door thread -----------------------------------------------------------------

    def _run(self) -> None:
        self._reconnect()  # a missing port is reported now, not when the first visitor comes
        try:
            while not self._stop.is_set():
                timeout = None if self._open_until is None else max(0.0, self._open_until - time.monotonic())
                try:
                    request = self._requests.get(timeout=timeout)
                except queue.Empty:
                    self._close_door()
                    continue
                if request is _STOP:
                    break
                self._open_door(request)
        except Exception as exc:  # a bug here must still leave the door locked
            log.exception("door thread failed")
            self._fail(f"door thread failed: {type(exc).__name__}: {exc}")
        finally:
            if self._open_until is not None:
                self._close_door()
            self._drop_connection()

    def _reconnect(self) -> bool:
        """Connect and lock at once (a relay left on is locked); False, reported, when it cannot."""
        if self._connected:
            return True
        try:
            self._connect()
            self._connected = True
            self._lock()
        except Exception as exc:
            self._fail(f"cannot reach the {self.target}: {_describe(exc)}")
            return False
        return True

    def _open_door(self, request: OpenRequest) -> None:
        if not self._reconnect():
            return
        try:
            self._unlock(request.reason)
        except Exception as exc:
            self._fail(f"could not unlock the door through the {self.target}: {_describe(exc)}")
            return
        self.last_unlocked_at = time.monotonic()
        self._open_until = self.last_unlocked_at + self.open_s
        self.opens += 1
        if self._failing:
            self._failing = False
            log.info("door: the %s works again", self.target)
        log.info("door unlocked for %g s (%s, %.0f ms after it was asked)", self.open_s, request.reason,
                 (self.last_unlocked_at - request.queued_at) * 1000)
        if request.manual:
            self._tell(self.on_manual_open, request.reason)

    def _close_door(self) -> None:
        """The pulse is over: lock, on a fresh connection if the first try fails."""
        self._open_until = None
        try:
            self._lock()
        except Exception as first:
            log.warning("door: locking through the %s failed (%s); trying once more on a new connection",
                        self.target, _describe(first))
            self._drop_connection()
            try:
                self._connect()
                self._connected = True
                self._lock()
            except Exception as exc:
                self._fail(f"could not lock the door through the {self.target}: {_describe(exc)}", locked=False)
                return
        log.info("door locked")

    def _fail(self, note: str, locked: bool = True) -> None:
        """Fail secure: lock where possible, drop the connection, report the first failure of an outage."""
        unlocked = self._open_until is not None  # a pulse was running: the relay may still be on
        self._open_until = None
        if self._connected:
            try:
                self._lock()
                unlocked = False
            except Exception:
                pass  # the failure being reported is what matters; the connection goes anyway
        self._drop_connection()
        locked = locked and not unlocked
        self.failures += 1
        self.last_error = note
        if self._failing:
            log.warning("door: %s", note)
            return
        self._failing = True
        outcome = "the door stays locked" if locked else "it may still be unlocked: check the door"
        log.error("door: %s; %s", note, outcome)
        self._tell(self.on_health, HEALTH_DOOR_FAILED, f"{note}; {outcome}")

    def _drop_connection(self) -> None:
        self._connected = False
        try:
            self._disconnect()
        except Exception as exc:
            log.debug("door: closing the %s: %s", self.target, exc)

    @staticmethod
    def _tell(callback: Optional[Callable[..., None]], *args: str) -> None:
        if callback is None:
            return
        try:
            callback(*args)
        except Exception:  # recording it failed; the door itself is unaffected
            log.exception("door: reporting to %s failed", getattr(callback, "__qualname__", callback))


def _describe(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def build_door_output(cfg: Config, source_kind: str, *, on_health: Optional[HealthCallback] = None,
                      on_manual_open: Optional[ManualOpenCallback] = None) -> Optional[DoorOutput]:
    """The relay ``[door] output`` names (not started), or None for "none"."""
    door = cfg.door
    callbacks = dict(open_s=door.open_s, source_kind=source_kind, on_health=on_health, on_manual_open=on_manual_open)
    if door.output == "serial":
        from kiosk.outputs.serial_relay import SerialRelay

        return SerialRelay(door.serial_port, door.baudrate, bytes.fromhex(door.on_frame),
                           bytes.fromhex(door.off_frame), **callbacks)
    if door.output == "gpio":
        from kiosk.outputs.gpio_relay import GpioRelay

        return GpioRelay(door.gpio_pin, active_high=door.gpio_active_high, **callbacks)
    if door.output == "http":
        from kiosk.outputs.http_relay import HttpRelay

        return HttpRelay(door.http_url, door.http_method, door.http_timeout_s, kiosk_id=cfg.kiosk.id, **callbacks)
    return None
