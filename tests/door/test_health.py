"""The health watchdog on a fake clock: camera outages and analysis failure streaks become at most
one health event each way, never one per frame."""

from __future__ import annotations

import logging
from typing import Callable

import pytest

from kiosk.door.health import (ANALYSIS_BACK, ANALYSIS_FAILED, CAMERA_BACK, CAMERA_OFFLINE, HealthWatchdog)

FRAME_S = 0.1


class Recorder:
    def __init__(self) -> None:
        self.events: list[tuple[str, str]] = []

    def __call__(self, what: str, note: str) -> None:
        self.events.append((what, note))

    @property
    def whats(self) -> list[str]:
        return [what for what, _ in self.events]


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


def feed(step: Callable[[float], None], start: float, seconds: float) -> float:
    """``step(now)`` every FRAME_S from ``start`` for ``seconds``; returns the time after."""
    now = start
    while now < start + seconds - 1e-9:
        step(now)
        now = round(now + FRAME_S, 6)
    return now


def feed_state(watchdog: HealthWatchdog, state: str, start: float, seconds: float, detail: str = "") -> float:
    return feed(lambda now: watchdog.source_state(state, now, detail), start, seconds)


def feed_analysis(watchdog: HealthWatchdog, ok: bool, start: float, seconds: float, error: str = "") -> float:
    return feed(lambda now: watchdog.analysis(ok, now, error), start, seconds)


def test_a_camera_offline_past_the_limit_is_one_event_and_its_return_another(recorder):
    watchdog = HealthWatchdog(60.0, recorder, "camera 7")
    now = feed_state(watchdog, "live", 0.0, 5.0)
    now = feed_state(watchdog, "offline", now, 59.9, "camera 7 not available — retrying")
    assert recorder.events == []  # not yet: a minute is the limit
    now = feed_state(watchdog, "offline", now, 240.0)
    assert recorder.whats == [CAMERA_OFFLINE]  # once per outage, however long it lasts
    assert recorder.events[0][1] == ("camera 7: no picture for 60 s (camera 7 not available — retrying);"
                                     " the door shows OUT OF SERVICE")
    feed_state(watchdog, "live", now, 10.0)
    assert recorder.whats == [CAMERA_OFFLINE, CAMERA_BACK]
    assert recorder.events[1][1] == "camera 7 is back after 5 min 0 s without a picture"


def test_a_short_gap_says_nothing_either_way(recorder):
    watchdog = HealthWatchdog(60.0, recorder)
    now = feed_state(watchdog, "live", 0.0, 1.0)
    now = feed_state(watchdog, "offline", now, 30.0)
    now = feed_state(watchdog, "live", now, 1.0)
    now = feed_state(watchdog, "offline", now, 30.0)  # a new outage starts from zero
    feed_state(watchdog, "live", now, 1.0)
    assert recorder.events == []


def test_a_camera_that_never_opened_counts_from_the_first_look_and_connecting_is_down(recorder):
    watchdog = HealthWatchdog(1.0, recorder)
    now = feed_state(watchdog, "connecting", 100.0, 0.5)
    now = feed_state(watchdog, "offline", now, 0.6)
    assert recorder.whats == [CAMERA_OFFLINE]
    feed_state(watchdog, "live", now, 0.1)
    assert recorder.whats == [CAMERA_OFFLINE, CAMERA_BACK]


def test_every_outage_is_reported_on_its_own(recorder):
    watchdog = HealthWatchdog(1.0, recorder)
    now = 0.0
    for _ in range(3):
        now = feed_state(watchdog, "offline", now, 2.0)
        now = feed_state(watchdog, "live", now, 2.0)
    assert recorder.whats == [CAMERA_OFFLINE, CAMERA_BACK] * 3


def test_an_ended_file_and_the_demo_are_no_outage(recorder):
    watchdog = HealthWatchdog(1.0, recorder)
    now = feed_state(watchdog, "demo", 0.0, 5.0)
    feed_state(watchdog, "ended", now, 600.0)
    assert recorder.events == []


def test_analysis_failing_on_every_frame_is_one_event_until_it_has_worked_for_the_limit(recorder):
    watchdog = HealthWatchdog(5.0, recorder)
    now = feed_analysis(watchdog, True, 0.0, 1.0)
    now = feed_analysis(watchdog, False, now, 4.9, "interpreter error")
    assert recorder.events == []
    now = feed_analysis(watchdog, False, now, 60.0, "interpreter error")
    assert recorder.whats == [ANALYSIS_FAILED]
    assert recorder.events[0][1] == "the analysis failed on every frame for 5 s (51 frames): interpreter error"
    # a classifier that fails on faces only: empty frames work in between; still the same outage
    for _ in range(5):
        now = feed_analysis(watchdog, True, now, 2.0)
        now = feed_analysis(watchdog, False, now, 1.0, "interpreter error")
    assert recorder.whats == [ANALYSIS_FAILED]
    feed_analysis(watchdog, True, now, 5.1)
    assert recorder.whats == [ANALYSIS_FAILED, ANALYSIS_BACK]
    assert recorder.events[1][1].startswith("the analysis works again (no failure for 5 s, ")


def test_a_few_odd_frames_are_no_streak(recorder):
    watchdog = HealthWatchdog(1.0, recorder)
    now = 0.0
    for _ in range(50):
        now = feed_analysis(watchdog, False, now, 0.5, "odd frame")
        now = feed_analysis(watchdog, True, now, 0.1)
    assert recorder.events == []


def test_a_recorder_that_fails_is_logged_and_the_watchdog_goes_on(caplog):
    def broken(what: str, note: str) -> None:
        raise OSError("disk full")

    watchdog = HealthWatchdog(1.0, broken)
    with caplog.at_level(logging.INFO, logger="kiosk.door.health"):
        now = feed_state(watchdog, "offline", 0.0, 3.0)
        feed_state(watchdog, "live", now, 1.0)
    assert watchdog.reports == [CAMERA_OFFLINE, CAMERA_BACK]
    failures = [r for r in caplog.records if "could not be recorded" in r.getMessage()]
    assert len(failures) == 2 and "disk full" in failures[0].exc_text
