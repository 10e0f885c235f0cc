"""A real SMTP server on 127.0.0.1 (aiosmtpd) that keeps what it receives: for tests and benchmarks.

It can be stopped and restarted on the same port, to play an outage, and can require a login
(over plain SMTP, ``auth_require_tls=False``) to check that username and password are used.
"""

from __future__ import annotations

import email
import email.policy
import socket
import ssl
import threading
import time
import warnings
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Optional

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

HOST = "127.0.0.1"
# login without TLS is the point of this loopback server; aiosmtpd warns about it per connection
warnings.filterwarnings("ignore", message="Requiring AUTH while not requiring TLS")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@dataclass
class Received:
    """One message as the server got it, with the wall-clock time it arrived."""

    at: float
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage

    @property
    def event_ids(self) -> list[int]:
        value = self.message.get("X-Kiosk-Event-Ids", "")
        return [int(v) for v in str(value).split(",") if v.strip()]


class _Handler:
    def __init__(self, inbox: "LoopbackSmtp") -> None:
        self.inbox = inbox

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 (aiosmtpd's name)
        message = email.message_from_bytes(envelope.original_content or envelope.content, policy=email.policy.default)
        self.inbox._add(Received(time.time(), envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 Message accepted for delivery"


class _Authenticator:
    def __init__(self, username: str, password: str) -> None:
        self.username, self.password = username, password
        self.attempts: list[str] = []

    def __call__(self, server, session, envelope, mechanism, auth_data) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        user = auth_data.login.decode()
        self.attempts.append(user)
        ok = user == self.username and auth_data.password.decode() == self.password
        return AuthResult(success=ok, handled=False)


class LoopbackSmtp:
    """Start with ``start()`` (or as a context manager); messages land in ``received``."""

    def __init__(self, port: Optional[int] = None, username: Optional[str] = None, password: Optional[str] = None,
                 ssl_context: Optional[ssl.SSLContext] = None) -> None:
        self.port = port or free_port()
        self.ssl_context = ssl_context  # implicit TLS (like port 465) when given
        self.received: list[Received] = []
        self._cond = threading.Condition()
        self.authenticator = _Authenticator(username, password) if username is not None else None
        self._controller: Optional[Controller] = None

    def _add(self, item: Received) -> None:
        with self._cond:
            self.received.append(item)
            self._cond.notify_all()

    def start(self) -> "LoopbackSmtp":
        kwargs: dict = {"ssl_context": self.ssl_context} if self.ssl_context is not None else {}
        if self.authenticator is not None:
            kwargs.update(authenticator=self.authenticator, auth_require_tls=False, auth_required=True)
        self._controller = Controller(_Handler(self), hostname=HOST, port=self.port, **kwargs)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> "LoopbackSmtp":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def wait_for(self, count: int, timeout_s: float) -> list[Received]:
        """Wait until ``count`` messages arrived (or the timeout passed); returns all received."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while len(self.received) < count and time.monotonic() < deadline:
                self._cond.wait(deadline - time.monotonic())
            return list(self.received)

    def wait_for_events(self, event_ids: set[int], timeout_s: float) -> list[Received]:
        """Wait until the received emails account for every id in ``event_ids``."""
        deadline = time.monotonic() + timeout_s
        with self._cond:
            while not event_ids <= {i for r in self.received for i in r.event_ids} and time.monotonic() < deadline:
                self._cond.wait(max(0.0, deadline - time.monotonic()))
            return list(self.received)
