"""Failed console logins, counted per user name and per client address, each with a lockout.

After ``free_failures`` failures in a row a name (or an address) is locked out for ``first_wait_s``;
each failure after that doubles the wait, up to ``max_wait_s``. While locked out, a login is
refused without looking at the password, so guessing costs the guesser time, not the server.
A successful login clears its name and address. Names that do not exist are counted like the
others, so a lockout tells nobody which names exist. The counts live in memory: one console
process, and no table that an attacker could fill on disk (the oldest entries go first).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Callable


@dataclass
class _Failures:
    count: int = 0
    locked_until: float = 0.0
    last: float = 0.0


class LoginThrottle:
    def __init__(self, free_failures: int = 5, first_wait_s: float = 30.0, max_wait_s: float = 3600.0,
                 clock: Callable[[], float] = time.monotonic, max_entries: int = 10_000) -> None:
        self.free_failures = free_failures
        self.first_wait_s = first_wait_s
        self.max_wait_s = max_wait_s
        self.clock = clock
        self.max_entries = max_entries
        self._failures: dict[tuple[str, str], _Failures] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _keys(name: str, address: str) -> tuple[tuple[str, str], tuple[str, str]]:
        return ("user", name.casefold()), ("address", address)

    def wait_s(self, name: str, address: str) -> float:
        """Seconds before ``name`` may try again from ``address``; 0 when it may now."""
        now = self.clock()
        with self._lock:
            waits = [entry.locked_until - now for key in self._keys(name, address)
                     if (entry := self._failures.get(key)) is not None]
        return max([0.0, *waits])

    def failed(self, name: str, address: str) -> float:
        """Count one failure; returns the wait it starts (0 while still within the free failures)."""
        now = self.clock()
        wait = 0.0
        with self._lock:
            for key in self._keys(name, address):
                entry = self._failures.setdefault(key, _Failures())
                entry.count += 1
                entry.last = now
                beyond = entry.count - self.free_failures
                if beyond >= 0:
                    entry.locked_until = now + min(self.max_wait_s, self.first_wait_s * 2 ** min(beyond, 32))
                    wait = max(wait, entry.locked_until - now)
            self._forget_oldest()
        return wait

    def succeeded(self, name: str, address: str) -> None:
        with self._lock:
            for key in self._keys(name, address):
                self._failures.pop(key, None)

    def _forget_oldest(self) -> None:
        """Keep at most ``max_entries``: the entries whose last failure is oldest go."""
        excess = len(self._failures) - self.max_entries
        if excess > 0:
            for key in sorted(self._failures, key=lambda k: self._failures[k].last)[:excess]:
                del self._failures[key]
