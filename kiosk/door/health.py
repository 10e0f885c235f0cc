"""The kiosk's own health: turns the camera's state and the analysis' failures into health events.

A door whose camera is gone, or whose classifier fails on every frame, lets nobody in and tells
nobody why. The watchdog is fed from the analysis thread (``kiosk.door.runtime``) with what it
sees and when, and reports through one callback, ``report(what, note)``, which the event services
record as a ``health`` event and email like an alert (never for the demo):

- ``camera-offline`` once the source has been offline (or never opened) for ``alert_after_s``;
  ``camera-back`` when it delivers frames again after such a report. A shorter gap says nothing.
- ``analysis-failed`` once the analysis has failed on every frame for ``alert_after_s``;
  ``analysis-back`` when it has then worked for ``alert_after_s`` (so a classifier that fails on
  faces only, between empty frames that work, is one outage, not two emails per visitor).

At most one report per outage or failure streak, never one per frame. Pure logic: time is passed
in (``now`` in seconds on any monotonic clock), so it is unit-tested without sleeping.
"""

from __future__ import annotations

import logging
from typing import Callable, Optional

log = logging.getLogger(__name__)

CAMERA_OFFLINE = "camera-offline"
CAMERA_BACK = "camera-back"
ANALYSIS_FAILED = "analysis-failed"
ANALYSIS_BACK = "analysis-back"
MODEL_FAILED = "model-failed"  # recorded by ``main.py run`` when the model cannot be loaded at start

DOWN_STATES = ("offline", "connecting")  # no picture, and the capture thread is trying to get one back
UP_STATES = ("live", "demo")  # frames flow ("ended": a finished file is not an outage)

HealthReport = Callable[[str, str], None]


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min {seconds % 60} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"


class HealthWatchdog:
    """One per runtime, fed from one thread (the analysis thread): not thread-safe by design."""

    def __init__(self, alert_after_s: float, report: HealthReport, source_label: str = "camera") -> None:
        self.alert_after_s = alert_after_s
        self.source_label = source_label
        self._report = report
        self._down_since: Optional[float] = None
        self._down_reported = False
        self._down_detail = ""
        self._failing_since: Optional[float] = None
        self._last_failure_at = 0.0
        self._failures = 0
        self._last_error = ""
        self._failure_reported = False
        self.reports: list[str] = []  # what was reported, in order (for the log and tests)

    def source_state(self, state: str, now: float, detail: str = "") -> None:
        """The capture thread's state (``SourceStatus.state``) at ``now``; ``detail`` its text."""
        if state in DOWN_STATES:
            if self._down_since is None:
                self._down_since, self._down_detail = now, ""
            self._down_detail = detail or self._down_detail
            if not self._down_reported and now - self._down_since >= self.alert_after_s:
                self._down_reported = True
                reason = f" ({self._down_detail})" if self._down_detail else ""
                self._tell(CAMERA_OFFLINE, f"{self.source_label}: no picture for {_duration(now - self._down_since)}"
                                           f"{reason}; the door shows OUT OF SERVICE", logging.WARNING)
        elif state in UP_STATES:
            if self._down_reported and self._down_since is not None:
                self._tell(CAMERA_BACK, f"{self.source_label} is back after {_duration(now - self._down_since)}"
                                        " without a picture", logging.INFO)
            self._down_since, self._down_reported = None, False
        else:  # ended: nothing will come back, and nothing needs to
            self._down_since, self._down_reported = None, False

    def analysis(self, ok: bool, now: float, error: str = "") -> None:
        """One frame's analysis at ``now``: ``ok``, or failed with ``error``."""
        if not ok:
            if self._failing_since is None:
                self._failing_since, self._failures = now, 0
            self._failures += 1
            self._last_failure_at, self._last_error = now, error
            if not self._failure_reported and now - self._failing_since >= self.alert_after_s:
                self._failure_reported = True
                self._tell(ANALYSIS_FAILED, f"the analysis failed on every frame for "
                                            f"{_duration(now - self._failing_since)} ({self._failures} frames): "
                                            f"{self._last_error or 'unknown error'}", logging.WARNING)
            return
        if self._failing_since is None:
            return
        if not self._failure_reported:
            self._failing_since = None  # a streak shorter than alert_after_s: a few odd frames
        elif now - self._last_failure_at >= self.alert_after_s:
            self._tell(ANALYSIS_BACK, f"the analysis works again (no failure for {_duration(now - self._last_failure_at)},"
                                      f" {self._failures} frames failed)", logging.INFO)
            self._failing_since, self._failure_reported = None, False

    def _tell(self, what: str, note: str, level: int) -> None:
        log.log(level, "health: %s: %s", what, note)
        self.reports.append(what)
        try:
            self._report(what, note)
        except Exception:  # the door goes on; the recorder says what went wrong
            log.exception("health event %s could not be recorded", what)
