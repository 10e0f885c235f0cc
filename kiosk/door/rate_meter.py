"""Frames per second over the last couple of seconds: what the eye sees, not an average since start.

One meter for the analysis thread (``KioskRuntime``) and the display (``KioskWindow``).
"""

from __future__ import annotations

import time
from collections import deque
from typing import Callable

DEFAULT_WINDOW_S = 2.0
STALL_S = 1.0  # no tick for this long: the feed stalled, and the rate reads 0


class RateMeter:
    """Ticks inside a sliding window of ``window_s`` seconds; ``rate`` is ticks per second in it."""

    def __init__(self, window_s: float = DEFAULT_WINDOW_S, clock: Callable[[], float] = time.perf_counter) -> None:
        self.window_s = window_s
        self.clock = clock
        self._times: deque[float] = deque()

    def tick(self) -> None:
        now = self.clock()
        self._times.append(now)
        while self._times and now - self._times[0] > self.window_s:
            self._times.popleft()

    @property
    def rate(self) -> float:
        if len(self._times) < 2:
            return 0.0
        if self.clock() - self._times[-1] > STALL_S:
            return 0.0
        return (len(self._times) - 1) / (self._times[-1] - self._times[0])
