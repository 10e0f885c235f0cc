"""The kiosk without a window: same pipeline and decisions, one JSON line per decision on stdout.

For servers (a kiosk box without a screen), tests and benchmarks. A video file, image folder or
the demo is replayed *losslessly*: every frame is analysed and the decision engine runs on the
media timestamps (frame index / fps), so the same file always gives the same decisions however
fast the machine is. Live cameras keep latest-frame semantics. Logs go to stderr; stdout carries
only the decisions. SIGTERM and SIGINT stop it cleanly: the runtime finishes the current frame,
then the event services flush.
"""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
from typing import TYPE_CHECKING, Any, Optional, Sequence, TextIO

from kiosk.config import Config
from kiosk.module_cli import discard_stdout
from kiosk.vision.pipeline import FrameAnalyzer
from kiosk.records import DecisionEvent, DecisionSink
from kiosk.door.runtime import KioskRuntime
from kiosk.camera.sources import FrameSource

if TYPE_CHECKING:  # pragma: no cover
    from kiosk.events.services import EventServices

log = logging.getLogger(__name__)

WAIT_SLICE_S = 0.2  # how often the main thread looks at the stop request


class JsonLinesSink:
    """Writes each decision as one JSON line (``DecisionEvent.to_json()``) and flushes it at once.

    When the reader of the stream goes away (``| head``, a crashed consumer), the kiosk keeps
    working and recording: it says so once and stops printing, instead of a traceback per decision.
    """

    def __init__(self, stream: Optional[TextIO] = None) -> None:
        self.stream = stream if stream is not None else sys.stdout
        self._lock = threading.Lock()
        self.lines = 0
        self.reader_gone = False

    def on_decision(self, event: DecisionEvent) -> None:
        line = json.dumps(event.to_json(), ensure_ascii=False)
        with self._lock:
            if self.reader_gone:
                return
            try:
                self.stream.write(line + "\n")
                self.stream.flush()
            except BrokenPipeError:
                self.reader_gone = True
                if self.stream is sys.stdout:
                    discard_stdout()
                log.warning("the reader of the decision lines went away: no more are printed;"
                            " decisions are still recorded in the event log")
                return
            self.lines += 1


class StopRequest:
    """SIGTERM / SIGINT set a flag instead of killing the process mid-write."""

    SIGNALS = (signal.SIGTERM, signal.SIGINT)

    def __init__(self) -> None:
        self.event = threading.Event()
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> "StopRequest":
        if threading.current_thread() is threading.main_thread():
            for sig in self.SIGNALS:
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, _frame: Any) -> None:
        log.info("%s received: stopping", signal.Signals(signum).name)
        self.event.set()

    def __exit__(self, *exc_info: Any) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


def build_headless_runtime(cfg: Config, analyzer: FrameAnalyzer, source: FrameSource, services: Optional["EventServices"] = None,
                           max_frames: Optional[int] = None, stream: Optional[TextIO] = None,
                           outputs: Sequence[DecisionSink] = ()) -> KioskRuntime:
    """The runtime for headless use: lossless for files and the demo, JSON lines added as a sink;
    ``outputs`` (the door relay) hear of each decision first, ``services`` of health events too."""
    sinks = [*outputs] + ([services] if services is not None else []) + [JsonLinesSink(stream)]
    return KioskRuntime(cfg, analyzer, sinks, source, lossless=source.is_media, max_frames=max_frames,
                        on_health=services.on_health if services is not None else None)


def run_headless(runtime: KioskRuntime, services: Optional["EventServices"] = None) -> int:
    """Run until the source ends, ``max_frames`` is reached or a stop signal arrives; exit code 0."""
    with StopRequest() as stop:
        runtime.start()
        try:
            while not stop.event.is_set() and not runtime.wait(WAIT_SLICE_S):
                pass
        finally:
            runtime.stop()
            if services is not None:
                services.stop()
    log.info("headless run finished: %d frames analysed, %d decisions", runtime.frames_analyzed, runtime.decisions)
    return 0
