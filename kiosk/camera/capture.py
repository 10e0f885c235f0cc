"""The capture thread: reads a ``FrameSource`` and keeps only the newest frame.

A kiosk must react to what is in front of it *now*. If analysis is slower than the camera,
queued frames would make the screen lag further and further behind, so the hand-off is a
one-slot mailbox: a new frame replaces an unread one (counted as dropped) and memory never
grows. Headless replays of files use the same thread in *lossless* mode, where the reader waits
for the slot instead, so every frame of the file is analysed.

The thread also owns the source's health: offline detection, reconnection with exponential
backoff, "ended" for a finished file, and ignoring malformed frames. While it waits to reconnect
it asks the source every ``PROBE_INTERVAL_S`` for a cheap sign of life (``FrameSource.probe``)
and reopens at once when there is one, so a camera is back within seconds of its return even
when the backoff has grown to ``reconnect_max_s`` over a long outage.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Callable, Generic, Optional, TypeVar

import numpy as np

from kiosk.camera.frame_source import FrameSource, SourceEnded, SourceUnavailable

log = logging.getLogger(__name__)

T = TypeVar("T")

OFFLINE_TEXT = "Camera offline — reconnecting"
ENDED_TEXT = "Video ended"
FIRST_BACKOFF_S = 0.5
PROBE_INTERVAL_S = 2.0  # how often a source waited on is asked whether it is back


class LatestSlot(Generic[T]):
    """A one-item mailbox between two threads: ``put`` replaces an unread item, never blocks."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._item: Optional[T] = None
        self.dropped = 0  # items replaced before anyone read them
        self.delivered = 0

    def put(self, item: T) -> None:
        with self._cond:
            if self._item is not None:
                self.dropped += 1
            self._item = item
            self._cond.notify_all()

    def put_wait(self, item: T, stop: threading.Event, poll_s: float = 0.1) -> bool:
        """Lossless hand-off: wait until the slot is free (or ``stop``); False when stopped."""
        with self._cond:
            while self._item is not None:
                if stop.is_set():
                    return False
                self._cond.wait(poll_s)
            self._item = item
            self._cond.notify_all()
            return True

    def get(self, timeout: Optional[float] = None) -> Optional[T]:
        """The newest item, or None when nothing new arrived within ``timeout``."""
        with self._cond:
            if self._item is None:
                self._cond.wait(timeout)
            item, self._item = self._item, None
            if item is not None:
                self.delivered += 1
                self._cond.notify_all()
            return item

    def pending(self) -> int:
        with self._cond:
            return 0 if self._item is None else 1


@dataclass(frozen=True)
class CapturedFrame:
    image: np.ndarray  # BGR uint8, H x W x 3
    index: int  # frames read from the source so far (0-based)
    timestamp: float  # seconds: media time (index / fps) for files and the demo, else time.monotonic()
    captured_at: float = 0.0  # time.monotonic() when it was read: for latency figures


@dataclass(frozen=True)
class SourceStatus:
    state: str  # "connecting" | "live" | "demo" | "offline" | "ended"
    text: str  # "" or a note for the operator


def as_bgr_frame(frame: object) -> Optional[np.ndarray]:
    """The frame as H x W x 3 uint8, or None when it is not a usable image (never raises)."""
    if not isinstance(frame, np.ndarray) or frame.size == 0 or frame.dtype != np.uint8:
        return None
    if frame.ndim == 2:
        return np.repeat(frame[:, :, None], 3, axis=2)
    if frame.ndim == 3 and frame.shape[2] == 3:
        return frame
    if frame.ndim == 3 and frame.shape[2] == 4:
        return np.ascontiguousarray(frame[:, :, :3])
    return None


class CaptureThread:
    """Reads frames from ``source`` into ``slot`` until stopped or the source ends."""

    def __init__(self, source: FrameSource, slot: LatestSlot[CapturedFrame], *, offline_after_s: float,
                 reconnect_max_s: float, lossless: bool = False, paced: bool = True,
                 clock: Callable[[], float] = time.monotonic,
                 wait: Optional[Callable[[float], bool]] = None) -> None:
        """``clock`` and ``wait`` (sleep up to n seconds, True when stopped) are the real ones
        unless a test plays a long outage in simulated time."""
        self.source = source
        self.slot = slot
        self.offline_after_s = offline_after_s
        self.reconnect_max_s = reconnect_max_s
        self.lossless = lossless
        self.paced = paced and source.is_media and not lossless  # files and demo play in real time
        self._clock = clock
        self._stop = threading.Event()
        self._wait = wait or self._stop.wait
        self._thread: Optional[threading.Thread] = None
        self._status = SourceStatus("live" if source.is_open else "connecting", source.status_text)
        self._last_frame_at = clock()
        self.frames_read = 0
        self.bad_frames = 0
        self.reconnects = 0  # connections dropped because no frame came for offline_after_s
        self.connect_attempts = 0
        self.probes = 0

    # --- status seen by the analysis thread ----------------------------------------------

    @property
    def status(self) -> SourceStatus:
        """Current health. A read stuck inside the driver still shows as offline after ``offline_after_s``."""
        status = self._status
        if status.state == "live" and self._clock() - self._last_frame_at > self.offline_after_s and not self.source.is_media:
            return SourceStatus("offline", OFFLINE_TEXT)
        if status.state == "live":
            return SourceStatus(self.source.live_state, self.source.status_text)
        return status

    @property
    def finished(self) -> bool:
        """The thread has stopped for good (source ended, or stopped)."""
        return self._thread is not None and not self._thread.is_alive()

    def _set_status(self, state: str, text: str) -> None:
        if self._status.state != state or self._status.text != text:
            log.info("source %s: %s%s", self.source.label, state, f" ({text})" if text else "")
        self._status = SourceStatus(state, text)

    # --- lifecycle --------------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="capture", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 2.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning("capture thread did not stop within %.1f s (driver read blocked)", timeout)
                return  # never release a device another thread is still reading from
        self.source.close()

    # --- the loop ---------------------------------------------------------------------------

    def _connect(self, backoff: float) -> Optional[float]:
        """Try to open the source; on failure wait ``backoff`` (or until the source shows a sign
        of life) and return the next backoff (None: the source can never work, give up)."""
        self.connect_attempts += 1
        try:
            self.source.open()
        except SourceUnavailable as exc:
            if self._status.text != OFFLINE_TEXT:  # a camera lost while running keeps saying so
                self._set_status("offline", str(exc))
            self._wait_to_reconnect(backoff)
            return min(backoff * 2, self.reconnect_max_s)
        except Exception as exc:  # e.g. a file deleted while the kiosk runs: it cannot come back
            log.error("source %s cannot be opened: %s", self.source.label, exc)
            self._set_status("ended", str(exc).splitlines()[0] if str(exc) else ENDED_TEXT)
            return None
        self._last_frame_at = self._clock()
        if self._status.state != "offline":  # after an outage it is live with its first frame, not when it opens:
            self._set_status("live", self.source.status_text)  # a camera that opens but sends nothing stays offline
        return FIRST_BACKOFF_S

    def _run(self) -> None:
        backoff = FIRST_BACKOFF_S
        started = self._clock()
        try:
            while not self._stop.is_set():
                if not self.source.is_open:
                    next_backoff = self._connect(backoff)
                    if next_backoff is None:
                        return
                    backoff = next_backoff
                    continue
                try:
                    raw = self.source.read()
                except SourceEnded:
                    self._set_status("ended", ENDED_TEXT)
                    return
                except Exception as exc:  # a driver hiccup must not kill the thread
                    log.warning("source %s read failed: %s", self.source.label, exc)
                    raw = None
                frame = as_bgr_frame(raw)
                if frame is None:
                    if raw is not None:
                        self.bad_frames += 1
                    self._handle_missing_frame()
                    continue
                self._last_frame_at = self._clock()
                if self._status.state != "live":
                    self._set_status("live", self.source.status_text)
                index = self.frames_read
                self.frames_read += 1
                if self.source.is_media:
                    timestamp = index / float(self.source.fps or 25.0)
                    if self.paced:
                        delay = started + timestamp - self._clock()
                        if delay > 0 and self._wait(delay):
                            return
                else:
                    timestamp = self._last_frame_at
                item = CapturedFrame(frame, index, timestamp, self._clock())
                if self.lossless:
                    if not self.slot.put_wait(item, self._stop):
                        return
                else:
                    self.slot.put(item)
        finally:
            log.debug("capture thread for %s stopped after %d frames", self.source.label, self.frames_read)

    def _handle_missing_frame(self) -> None:
        """No usable frame: wait a little; after ``offline_after_s`` drop the connection and reconnect."""
        if self._clock() - self._last_frame_at < self.offline_after_s:
            self._wait(0.01)
            return
        if self.source.retry:
            self._set_status("offline", OFFLINE_TEXT)
            self.source.close()
            self.reconnects += 1
        else:
            self._wait(0.05)

    def _wait_to_reconnect(self, backoff: float) -> None:
        """Wait ``backoff`` seconds, asking the source every ``PROBE_INTERVAL_S`` whether it is back;
        a sign of life ends the wait. The backoff spares a camera that is certainly gone from
        being opened ever more often; the probe keeps a returned one from waiting it out."""
        deadline = self._clock() + backoff
        while True:
            left = deadline - self._clock()
            if left <= 0 or self._wait(min(left, PROBE_INTERVAL_S)):
                return
            if deadline - self._clock() <= 0:
                return  # the open attempt is due anyway
            self.probes += 1
            try:
                if self.source.probe():
                    return
            except Exception as exc:  # a probe is only a hint: a failing one means "not yet"
                log.debug("source %s probe failed: %s", self.source.label, exc)
