"""The staff PIN that guards the admin panel and quitting: how it is stored, checked and throttled.

Only a salted scrypt hash is stored, in ``[ui] admin_pin_hash`` (``main.py set-pin`` writes it):
``scrypt$n=16384,r=8,p=1$<salt hex>$<hash hex>``. Checking compares in constant time. An empty
hash means no PIN: nothing is asked.

Wrong PINs are throttled (``PinThrottle``): every third wrong PIN in a row locks the PIN out, for
30 s the first time, then twice as long each time (60 s, 120 s, ... at most an hour), until the
right PIN is given. While locked out no PIN is checked at all, the right one included.

A short PIN stays guessable by anyone who can read the config file (10 000 four-digit PINs take
minutes to try offline); the online throttle is what protects it at the kiosk itself.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import time
from typing import Callable, Optional

MIN_PIN_LENGTH = 4
SCHEME = "scrypt"
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2 ** 14, 8, 1  # 16 MiB, about 0.1 s on a small kiosk PC
SALT_BYTES = 16
HASH_BYTES = 32
MAX_SCRYPT_MEMORY = 256 * 2 ** 20  # a hand-edited hash cannot make a check take minutes or gigabytes
_HASH_RE = re.compile(r"^scrypt\$n=(\d+),r=(\d+),p=(\d+)\$([0-9a-f]{16,128})\$([0-9a-f]{32,128})$")

TRIES_BEFORE_LOCKOUT = 3
FIRST_LOCKOUT_S = 30.0
MAX_LOCKOUT_S = 3600.0


def pin_problem(pin: str) -> Optional[str]:
    """Why ``pin`` cannot be a PIN (too short, only spaces), or None."""
    if len(pin) < MIN_PIN_LENGTH:
        return f"a PIN needs at least {MIN_PIN_LENGTH} digits or characters"
    if not pin.strip():
        return "a PIN cannot be only spaces"
    return None


def _scrypt(pin: str, salt: bytes, n: int, r: int, p: int, length: int = HASH_BYTES) -> bytes:
    return hashlib.scrypt(pin.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=length,
                          maxmem=2 * MAX_SCRYPT_MEMORY)


def hash_pin(pin: str) -> str:
    """The text stored in ``[ui] admin_pin_hash`` for ``pin`` (a new random salt each time)."""
    problem = pin_problem(pin)
    if problem:
        raise ValueError(problem)
    salt = os.urandom(SALT_BYTES)
    digest = _scrypt(pin, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return f"{SCHEME}$n={SCRYPT_N},r={SCRYPT_R},p={SCRYPT_P}${salt.hex()}${digest.hex()}"


def _parse(stored: str) -> Optional[tuple[int, int, int, bytes, bytes]]:
    match = _HASH_RE.match(stored) if isinstance(stored, str) else None
    if match is None:
        return None
    n, r, p = (int(match.group(i)) for i in (1, 2, 3))
    salt, digest = match.group(4), match.group(5)
    if n < 2 or n & (n - 1) or not 1 <= r <= 32 or not 1 <= p <= 16 or 128 * r * (n + p) > MAX_SCRYPT_MEMORY:
        return None
    if len(salt) % 2 or len(digest) % 2:
        return None
    return n, r, p, bytes.fromhex(salt), bytes.fromhex(digest)


def is_pin_hash(stored: str) -> bool:
    """``stored`` is a hash ``verify_pin`` can check."""
    return _parse(stored) is not None


def verify_pin(pin: str, stored: str) -> bool:
    """``pin`` is the PIN ``stored`` was made from; the digests are compared in constant time."""
    parsed = _parse(stored)
    if parsed is None:
        return False
    n, r, p, salt, digest = parsed
    return hmac.compare_digest(_scrypt(pin, salt, n, r, p, len(digest)), digest)


class PinThrottle:
    """Counts wrong PINs in a row and says how long the PIN is locked out.

    ``check(pin)`` returns "ok", "wrong" or "locked". It lives as long as the kiosk window, so
    closing and reopening the PIN dialog does not end a lockout.
    """

    def __init__(self, stored_hash: str, clock: Callable[[], float] = time.monotonic) -> None:
        self.stored_hash = stored_hash
        self.clock = clock
        self.failures = 0  # wrong PINs since the last right one
        self.lockouts = 0  # lockouts since the last right PIN
        self.locked_until = float("-inf")

    @property
    def required(self) -> bool:
        """A PIN is set: staff must give it."""
        return bool(self.stored_hash)

    def wait_s(self) -> float:
        """Seconds left in the current lockout (0 when none)."""
        return max(0.0, self.locked_until - self.clock())

    def tries_left(self) -> int:
        """Wrong PINs still allowed before the next lockout."""
        return TRIES_BEFORE_LOCKOUT - self.failures % TRIES_BEFORE_LOCKOUT

    def next_lockout_s(self) -> float:
        """How long the next lockout will be."""
        return min(MAX_LOCKOUT_S, FIRST_LOCKOUT_S * 2 ** self.lockouts)

    def check(self, pin: str) -> str:
        if not self.required:
            return "ok"
        if self.wait_s() > 0:
            return "locked"  # not even the right PIN is checked now
        if verify_pin(pin, self.stored_hash):
            self.failures = self.lockouts = 0
            return "ok"
        self.failures += 1
        if self.failures % TRIES_BEFORE_LOCKOUT == 0:
            self.locked_until = self.clock() + self.next_lockout_s()
            self.lockouts += 1
            return "locked"
        return "wrong"
