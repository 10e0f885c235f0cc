"""The console's accounts and login sessions, in one SQLite file (``[web] users_db``).

Passwords are stored as argon2id hashes (argon2-cffi's defaults), never as text. A session is a
random token in an HttpOnly cookie; the file keeps only its SHA-256, so a copy of the file
opens no session. Each session carries its own CSRF token for the forms it posts. Signing out,
removing the user or the session's end (``[web] session_hours``) closes it.

The accounts live next to the kiosk's event log even when the console reads the fleet's
PostgreSQL store: each console has its own users for now.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from kiosk.errors import KioskError

ROLES = ("admin", "viewer")  # admins may also delete one person's records; viewers only look
MIN_PASSWORD_CHARS = 10
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")

SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    name          TEXT PRIMARY KEY,
    role          TEXT NOT NULL CHECK (role IN ('admin', 'viewer')),
    password_hash TEXT NOT NULL,  -- argon2id, with its own salt and parameters
    created       REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
    token_sha256 TEXT PRIMARY KEY,  -- the cookie's token itself is never stored
    user_name    TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
    csrf         TEXT NOT NULL,
    created      REAL NOT NULL,
    expires      REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_expires ON sessions(expires);
"""


class AccountError(KioskError):
    """A name, role or password the console cannot accept, or a user who does not exist; one line."""


@dataclass(frozen=True)
class User:
    name: str
    role: str  # admin | viewer
    created: float

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


@dataclass(frozen=True)
class Session:
    user: User
    csrf: str  # what this session's forms must carry
    expires: float


def name_problem(name: str) -> Optional[str]:
    if _NAME_RE.match(name):
        return None
    return "a user name is 1-64 letters, digits, '.', '_', '@' or '-', starting with a letter or digit"


def password_problem(password: str) -> Optional[str]:
    if len(password) < MIN_PASSWORD_CHARS:
        return f"a password needs at least {MIN_PASSWORD_CHARS} characters"
    return None


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class AccountStore:
    """Users and sessions; thread-safe (one connection behind a lock, like the event log)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._hasher = PasswordHasher()
        self._dummy_hash = self._hasher.hash(secrets.token_hex(16))  # unknown names cost as much as known ones
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            os.close(os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600))  # password hashes: this account only
            self._db = sqlite3.connect(str(self.path), timeout=10, check_same_thread=False, isolation_level=None)
            self._db.row_factory = sqlite3.Row
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._db.executescript(SCHEMA)
        except (sqlite3.Error, OSError) as exc:
            raise KioskError(f"cannot open the console's accounts {self.path}: {' '.join(str(exc).split())}") from None
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _run(self, sql: str, params: tuple = ()) -> sqlite3.Cursor:
        with self._lock:
            return self._db.execute(sql, params)

    # --- users -----------------------------------------------------------------------------

    def add_user(self, name: str, role: str, password: str) -> User:
        for problem in (name_problem(name), None if role in ROLES else f"role must be one of {', '.join(ROLES)}",
                        password_problem(password)):
            if problem:
                raise AccountError(problem)
        user = User(name, role, time.time())
        try:
            self._run("INSERT INTO users (name, role, password_hash, created) VALUES (?, ?, ?, ?)",
                      (name, role, self._hasher.hash(password), user.created))
        except sqlite3.IntegrityError:
            raise AccountError(f"user {name} already exists (remove it first to change it)") from None
        return user

    def users(self) -> list[User]:
        return [User(r["name"], r["role"], r["created"])
                for r in self._run("SELECT name, role, created FROM users ORDER BY name").fetchall()]

    def remove_user(self, name: str) -> bool:
        """Remove the user and every session of theirs; False when there was no such user."""
        return self._run("DELETE FROM users WHERE name = ?", (name,)).rowcount > 0

    def verify(self, name: str, password: str) -> Optional[User]:
        """The user when ``password`` is theirs; None otherwise, in about the same time for a name
        that does not exist (no telling which names do)."""
        row = self._run("SELECT * FROM users WHERE name = ?", (name,)).fetchone()
        try:
            self._hasher.verify(row["password_hash"] if row else self._dummy_hash, password)
        except (VerificationError, InvalidHashError):
            return None
        if row is None:
            return None
        if self._hasher.check_needs_rehash(row["password_hash"]):  # argon2's defaults grew stronger
            self._run("UPDATE users SET password_hash = ? WHERE name = ?", (self._hasher.hash(password), name))
        return User(row["name"], row["role"], row["created"])

    # --- sessions --------------------------------------------------------------------------

    def open_session(self, user: User, hours: float) -> tuple[str, Session]:
        """A new session for ``user``: (the cookie's token, the session)."""
        token, now = secrets.token_urlsafe(32), time.time()
        session = Session(user, secrets.token_urlsafe(32), now + hours * 3600)
        self._run("DELETE FROM sessions WHERE expires <= ?", (now,))
        self._run("INSERT INTO sessions (token_sha256, user_name, csrf, created, expires) VALUES (?, ?, ?, ?, ?)",
                  (_digest(token), user.name, session.csrf, now, session.expires))
        return token, session

    def session(self, token: str) -> Optional[Session]:
        """The live session of a cookie's token; None when unknown, signed out or past its end."""
        if not token:
            return None
        row = self._run("SELECT s.csrf, s.expires, u.name, u.role, u.created FROM sessions s"
                        " JOIN users u ON u.name = s.user_name WHERE s.token_sha256 = ? AND s.expires > ?",
                        (_digest(token), time.time())).fetchone()
        if row is None:
            return None
        return Session(User(row["name"], row["role"], row["created"]), row["csrf"], row["expires"])

    def close_session(self, token: str) -> None:
        self._run("DELETE FROM sessions WHERE token_sha256 = ?", (_digest(token),))
