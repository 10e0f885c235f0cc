"""The one rate meter used for analysis fps and display fps, on a fake clock."""

from __future__ import annotations

import pytest

from kiosk.door.rate_meter import RateMeter


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_rate_counts_ticks_per_second_inside_the_window():
    clock = FakeClock()
    meter = RateMeter(window_s=2.0, clock=clock)
    assert meter.rate == 0.0
    for _ in range(31):  # 30 intervals of 1/30 s
        meter.tick()
        clock.now += 1 / 30
    clock.now -= 1 / 30
    assert meter.rate == pytest.approx(30.0)


def test_old_ticks_leave_the_window_and_a_stalled_feed_reads_zero():
    clock = FakeClock()
    meter = RateMeter(window_s=1.0, clock=clock)
    for _ in range(11):  # 10 fps for one second
        meter.tick()
        clock.now += 0.1
    for _ in range(21):  # then 20 fps: the 10 fps ticks age out
        meter.tick()
        clock.now += 0.05
    clock.now -= 0.05
    assert meter.rate == pytest.approx(20.0)
    clock.now += 1.5  # nothing for 1.5 s
    assert meter.rate == 0.0
