"""The kiosk's engine room: capture thread -> analysis thread -> ``FrameUpdate`` for the screen.

The window (or the headless runner) only reads ``KioskRuntime.updates``; it never waits on the
camera, the model or the disk. The analysis thread detects and classifies faces, feeds the
decision engine and hands each new decision to the sinks (event log, alerts).

The screen should move at the camera's pace, not the detector's: in live mode every captured
frame is published at once with the newest analysed faces (boxes lag the picture by one analysis,
as on any NVR), and the analysis thread itself publishes only when the decision state changes.
In lossless mode (headless replay of a file) one update is published per analysed frame.
``updates`` is small and drops its oldest entry when full, so a busy screen shows the present,
not a backlog; a decision riding on a dropped update moves to the next one.
"""

from __future__ import annotations

import dataclasses
import logging
import queue
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Optional, Sequence

import numpy as np

from kiosk.camera.capture import CapturedFrame, CaptureThread, LatestSlot, SourceStatus
from kiosk.config import Config
from kiosk.door.decision import DecisionEngine, DecisionState, media_clock, wall_clock
from kiosk.door.health import UP_STATES, HealthReport, HealthWatchdog
from kiosk.door.presence import PresenceMeter
from kiosk.door.rate_meter import RateMeter
from kiosk.vision.pipeline import FrameAnalyzer
from kiosk.records import DecisionEvent, DecisionSink, FaceResult
from kiosk.camera.sources import FrameSource

log = logging.getLogger(__name__)

UPDATES_MAXSIZE = 2
STATUS_REFRESH_S = 0.5  # while no frames arrive (offline, ended), the screen still hears from us this often
POLL_S = 0.1
RESULTS_MAX_AGE_S = 0.5  # older analysed faces are not drawn on a new frame (the person may have left) ...
RESULTS_MAX_HOLD_S = 3.0  # ... unless the analysis of one frame takes longer: then they stay until the next (up to this)


@dataclass(frozen=True)
class FrameUpdate:
    frame: np.ndarray  # BGR frame as captured (NOT annotated; the UI draws with kiosk.vision.annotate)
    results: list[FaceResult]  # faces found and classified in this frame
    state: DecisionState  # what the banner shows now
    decision: Optional[DecisionEvent]  # set ONLY on the one update where a new decision episode was decided
    source_label: str  # e.g. "camera 0", "demo", "video.mp4", "rtsp://host/..."
    source_state: str  # "live" | "demo" | "offline" | "ended"
    status_text: str  # "" or e.g. "No camera found: showing the demo feed", "Camera offline — reconnecting"
    analysis_fps: float
    frame_index: int
    captured_at: float = 0.0  # time.monotonic() when the frame was read (0 for status-only updates)
    hint: str = ""  # while checking: what would help the visitor (kiosk.door.decision HINT_*), else ""


class _PreviewSlot(LatestSlot[CapturedFrame]):
    """The analysis thread's mailbox that also hands every captured frame to the screen."""

    def __init__(self, on_put) -> None:
        super().__init__()
        self._on_put = on_put

    def put(self, item: CapturedFrame) -> None:
        super().put(item)
        self._on_put(item)


class KioskRuntime:
    """Capture thread + analysis thread; pushes ``FrameUpdate`` into ``updates`` (latest wins).

    ``lossless=True`` (headless replay of a file or the demo) analyses every frame and runs the
    decision engine on the media timestamps, so results do not depend on machine speed.
    ``max_frames`` stops after that many analysed frames. ``on_health(what, note)`` hears of the
    camera offline or the analysis failing for ``[camera] alert_offline_after_s``, and of their return
    (``kiosk.door.health``; the event services record and email them).
    """

    def __init__(self, cfg: Config, analyzer: FrameAnalyzer, sinks: Sequence[DecisionSink], source: FrameSource,
                 *, lossless: bool = False, max_frames: Optional[int] = None,
                 on_health: Optional[HealthReport] = None) -> None:
        self.cfg = cfg
        self.analyzer = analyzer
        self.sinks = list(sinks)
        self.source = source
        self.max_frames = max_frames
        self.media_clock = lossless and source.is_media
        self.updates: "queue.Queue[FrameUpdate]" = queue.Queue(maxsize=UPDATES_MAXSIZE)
        self.preview = not lossless
        self.frames = _PreviewSlot(self._preview) if self.preview else LatestSlot[CapturedFrame]()
        self.capture = CaptureThread(source, self.frames, offline_after_s=cfg.camera.offline_after_s,
                                     reconnect_max_s=cfg.camera.reconnect_max_s, lossless=lossless)
        # a replay's events are stamped media_origin + media time, so the same file gives the same times
        self.media_origin = datetime.now().astimezone()
        event_time = media_clock(self.media_origin) if self.media_clock else wall_clock
        self.engine = DecisionEngine(cfg.decision, cfg.kiosk.id, event_time=event_time, source_kind=source.kind)
        share = cfg.decision.presence_share
        self.presence: Optional[PresenceMeter] = PresenceMeter(share) if share > 0 else None
        self.health = HealthWatchdog(cfg.camera.alert_offline_after_s, on_health or (lambda what, note: None),
                                     source.label)
        self.model_name = f"{analyzer.classifier.name} · {analyzer.detector.name}"
        self.frames_analyzed = 0
        self.decisions = 0
        self.updates_dropped = 0
        self.analysis_errors = 0
        self.finished = threading.Event()  # the source ended and every frame was analysed, or max_frames
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._rate = RateMeter()
        self._last_frame: Optional[np.ndarray] = None
        self._last_index = -1
        self._last_published: Optional[tuple[str, str]] = None
        self._last_published_at = 0.0
        self._last_results: list[FaceResult] = []
        self._last_results_at = 0.0
        self._analysis_s = 0.0  # how long the newest analysis took
        self._shown_state = DecisionState.WAITING  # the state of the newest update published
        self._hint = ""  # the engine's newest hint (analysis thread), shown with CHECKING
        self._publish_lock = threading.Lock()  # capture and analysis threads both publish

    # --- lifecycle --------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            return
        self.capture.start()
        self._thread = threading.Thread(target=self._run, name="analysis", daemon=True)
        self._thread.start()
        log.info("kiosk runtime started: source %s, %s", self.source.label, self.model_name)

    def stop(self, timeout: float = 2.0) -> None:
        """Stop both threads; the current frame finishes its analysis and its decision reaches the sinks."""
        self._stop.set()
        self.capture.stop(timeout)
        if self._thread is not None:
            self._thread.join(timeout)
        log.info("kiosk runtime stopped after %d frames (%d dropped by capture, %d decisions)",
                 self.frames_analyzed, self.frames.dropped, self.decisions)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def wait(self, timeout: Optional[float] = None) -> bool:
        """Block (not in the Tk thread!) until the runtime has finished; True when it has."""
        return self.finished.wait(timeout)

    # --- analysis thread --------------------------------------------------------------------

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                item = self.frames.get(timeout=POLL_S)
                if item is None:
                    if self._idle():
                        break
                    continue
                self._analyse(item)
                if self.max_frames is not None and self.frames_analyzed >= self.max_frames:
                    log.info("stopping after --max-frames %d", self.max_frames)
                    break
        except Exception:  # the screen must say something rather than freeze silently
            log.exception("analysis thread failed")
        finally:
            self.finished.set()

    def _analyse(self, item: CapturedFrame) -> None:
        started = time.monotonic()
        now = item.timestamp if self.media_clock else time.monotonic()
        present = False
        try:
            results = self.analyzer.analyze(item.image)
            if self.presence is not None:
                present = self.presence.update(item.image, bool(results), now)
        except Exception as exc:  # one bad frame never stops the kiosk
            self.analysis_errors += 1
            if self.analysis_errors in (1, 10, 100) or self.analysis_errors % 1000 == 0:
                log.warning("frame %d could not be analysed (%d so far): %s", item.index, self.analysis_errors, exc)
            results = []
            self.health.analysis(False, time.monotonic(), f"{type(exc).__name__}: {exc}")
        else:
            self.health.analysis(True, time.monotonic())
        step = self.engine.update(results, now, frame=item.image, present=present)
        if step.event is not None:
            self.decisions += 1
            self._deliver(step.event)
        self.frames_analyzed += 1
        self._rate.tick()
        self._last_frame, self._last_index = item.image, item.index
        self._last_results, self._last_results_at = results, time.monotonic()
        status = self.capture.status
        self.health.source_state(status.state, self._last_results_at, status.text)  # frames flow: a camera back
        self._analysis_s = self._last_results_at - started
        hint_changed = step.hint != self._hint
        self._hint = step.hint
        if not self.preview or step.event is not None or step.state != self._shown_state or hint_changed:
            self._publish(item.image, results, step.state, step.event, self.capture.status, item.index,
                          item.captured_at)

    def _preview(self, item: CapturedFrame) -> None:
        """Capture thread: show this frame now, with the newest analysed faces if still fresh. On a
        slow machine (one analysis longer than RESULTS_MAX_AGE_S) they stay until the next analysis
        replaces them; a cut-off shorter than the analysis would leave most frames without boxes."""
        max_age = max(RESULTS_MAX_AGE_S, min(RESULTS_MAX_HOLD_S, 1.5 * self._analysis_s))
        fresh = time.monotonic() - self._last_results_at <= max_age
        self._last_frame = item.image
        self._publish(item.image, self._last_results if fresh else [], None, None,
                      self.capture.status, item.index, item.captured_at)

    def _idle(self) -> bool:
        """No new frame: keep the screen informed (offline, ended); True when the runtime is done."""
        status = self.capture.status
        done = self.capture.finished and self.frames.pending() == 0
        now = time.monotonic()
        self.health.source_state(status.state, now, status.text)
        event = None
        if status.state not in UP_STATES:  # ended, frozen or offline: no decision stays on screen
            state = self.engine.source_lost().state
        elif self.media_clock:
            state = self.engine.state  # media time only moves with frames
        else:
            # the clock moves on without frames: a person who cannot be seen leaves in time, and a
            # change of mind held back by hold_s (e.g. mask put on) is decided when the hold ends
            step = self.engine.update([], now)
            state, event = step.state, step.event
            if event is not None:
                self.decisions += 1
                self._deliver(event)
        changed = (status.state, status.text) != self._last_published
        stale = status.state not in UP_STATES and now - self._last_published_at >= STATUS_REFRESH_S
        if event is not None or changed or stale or state != self._shown_state:
            self._publish(self._placeholder(), [], state, event, status, self._last_index)
        return done and (self.media_clock or status.state == "ended" or self._stop.is_set())

    def _placeholder(self) -> np.ndarray:
        if self._last_frame is not None:
            return self._last_frame
        return np.full((self.cfg.camera.height, self.cfg.camera.width, 3), 32, np.uint8)

    def _deliver(self, event: DecisionEvent) -> None:
        log.info("decision: %s (%s %.2f, %d face(s))%s", event.decision, event.label, event.score, event.faces,
                 f" [{event.policy_note}]" if event.policy_note else "")
        for sink in self.sinks:
            try:
                sink.on_decision(event)
            except Exception:  # a broken sink must not stop the door or the other sinks
                log.exception("decision sink %s failed", type(sink).__name__)

    def _publish(self, frame: np.ndarray, results: list[FaceResult], state: Optional[DecisionState],
                 decision: Optional[DecisionEvent], status: SourceStatus, index: int,
                 captured_at: float = 0.0) -> None:
        """Queue an update for the screen; ``state`` None keeps the state shown last (previews),
        so a preview can never show a decision before the update that carries its event."""
        source_state = status.state if status.state != "connecting" else "offline"
        with self._publish_lock:
            shown = self._shown_state if state is None else state
            update = FrameUpdate(frame=frame, results=list(results), state=shown, decision=decision,
                                 source_label=self.source.label, source_state=source_state, status_text=status.text,
                                 analysis_fps=round(self._rate.rate, 1), frame_index=index, captured_at=captured_at,
                                 hint=self._hint if shown == DecisionState.CHECKING else "")
            self._put_latest(update)
            self._shown_state = shown
            self._last_published = (status.state, status.text)
            self._last_published_at = time.monotonic()

    def _put_latest(self, update: FrameUpdate) -> None:
        """Never block: drop the oldest update, but never lose the decision it carried."""
        while True:
            try:
                self.updates.put_nowait(update)
                return
            except queue.Full:
                try:
                    dropped = self.updates.get_nowait()
                except queue.Empty:
                    continue
                self.updates_dropped += 1
                if dropped.decision is not None and update.decision is None:
                    update = dataclasses.replace(update, decision=dropped.decision)
