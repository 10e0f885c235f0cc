"""Helpers for the output tests: a real pseudo-terminal standing in for a USB relay board, decision events."""

from __future__ import annotations

import os
import pty
import select
import time
import tty
from datetime import datetime

from kiosk.records import DecisionEvent


def decision(decision: str = "granted", source: str = "camera") -> DecisionEvent:
    return DecisionEvent(time=datetime.now().astimezone(), kiosk_id="test-door", decision=decision,
                         label="with_mask" if decision == "granted" else "without_mask", score=0.97, faces=1,
                         source=source)


class RelayBoard:
    """The far end of a pty pair: what a USB relay board would receive, byte for byte, with arrival times."""

    def __init__(self) -> None:
        self.master, self.slave = pty.openpty()
        tty.setraw(self.slave)  # no line discipline between the kiosk and the "board"
        self.port = os.ttyname(self.slave)
        self.received = bytearray()
        self.arrivals: list[tuple[float, bytes]] = []  # (time.monotonic(), chunk)

    def read(self, count: int, timeout: float = 5.0) -> bytes:
        """The next ``count`` bytes (fewer if they do not come within ``timeout``)."""
        deadline = time.monotonic() + timeout
        got = bytearray()
        while len(got) < count:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.master], [], [], left)[0]:
                break
            chunk = os.read(self.master, count - len(got))
            self.arrivals.append((time.monotonic(), chunk))
            got += chunk
        self.received += got
        return bytes(got)

    def silent_for(self, seconds: float) -> bool:
        """Nothing more arrives for ``seconds``."""
        return select.select([self.master], [], [], seconds)[0] == []

    def unplug(self) -> None:
        """The board goes away: the kiosk's writes to the port fail from now on."""
        os.close(self.master)
        self.master = -1

    def close(self) -> None:
        for fd in (self.master, self.slave):
            if fd >= 0:
                os.close(fd)
        self.master = self.slave = -1


class HealthLog:
    """Collects ``on_health`` / ``on_manual_open`` calls, as the event log would record them."""

    def __init__(self) -> None:
        self.health: list[tuple[str, str]] = []
        self.manual: list[str] = []

    def on_health(self, what: str, note: str) -> None:
        self.health.append((what, note))

    def on_manual_open(self, reason: str) -> None:
        self.manual.append(reason)
