"""Webhooks against a real HTTP server on loopback: signed posts, outages and failures retried, at least once."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator, Optional

import pytest

from kiosk.config import build_config
from kiosk.credentials import CredentialsError
from kiosk.events.services import EventServices
from kiosk.outputs.webhook import signature_matches
from tests.helpers import wait_until
from tests.helpers.events import kiosk_settings
from tests.helpers.relay import decision
from tools.mosquitto_broker import free_port

SECRET = "a-long-random-webhook-secret"


class Receiver:
    """A building system's webhook endpoint: checks each signature, keeps every post; can go down and come back."""

    def __init__(self, port: Optional[int] = None) -> None:
        self.port = port or free_port()
        self.posts: list[dict] = []  # {"id", "header_id", "body", "signed"}
        self.status = 200
        self._server: Optional[ThreadingHTTPServer] = None
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/kiosk-hook"

    def start(self) -> "Receiver":
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver._lock:
                    receiver.posts.append({"id": json.loads(body)["id"], "header_id": self.headers["X-Kiosk-Event-Id"],
                                           "body": json.loads(body), "path": self.path,
                                           "signed": signature_matches(SECRET, body, self.headers["X-Kiosk-Signature"])})
                self.send_response(receiver.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def ids(self) -> list[str]:
        with self._lock:
            return [p["id"] for p in self.posts]


@pytest.fixture()
def receiver() -> Iterator[Receiver]:
    running = Receiver().start()
    yield running
    running.stop()


def kiosk(tmp_path, monkeypatch, urls: list[str]) -> EventServices:
    monkeypatch.setenv("KIOSK_WEBHOOK_SECRET", SECRET)
    settings = kiosk_settings(tmp_path)
    settings["webhook"] = {"urls": urls, "timeout_s": 2.0, "retry_initial_s": 0.2, "retry_max_s": 0.5}
    services = EventServices(build_config(settings), "camera")
    services.start()
    return services


def test_each_event_is_posted_signed_with_its_id_and_never_the_demo(tmp_path, monkeypatch, receiver):
    services = kiosk(tmp_path, monkeypatch, [receiver.url])
    try:
        services.on_decision(decision("denied"))
        services.on_decision(decision("granted", source="demo"))
        services.on_decision(decision("granted", source="folder"))
        services.on_health("door-output-failed", "cannot reach the serial relay /dev/ttyUSB0")
        assert wait_until(lambda: len(receiver.posts) == 3)
        assert wait_until(lambda: services.store.outgoing_counts() == {"webhook": {"sent": 3}})
    finally:
        services.stop()
    assert all(p["signed"] and p["header_id"] == p["id"] and p["path"] == "/kiosk-hook" for p in receiver.posts)
    bodies = [p["body"] for p in receiver.posts]
    assert [(b["kind"], b.get("decision"), b["source"]) for b in bodies] == [
        ("decision", "denied", "camera"), ("decision", "granted", "folder"), ("health", None, "camera")]
    assert [b["id"] for b in bodies] == ["test-door:1", "test-door:3", "test-door:4"]  # 2 was the demo
    assert bodies[2]["what"] == "door-output-failed" and "ttyUSB0" in bodies[2]["note"]


def test_a_receiver_down_for_a_while_gets_everything_once_it_is_up(tmp_path, monkeypatch, caplog):
    down = Receiver()  # not listening yet: connections are refused
    up = Receiver().start()
    services = kiosk(tmp_path, monkeypatch, [down.url, up.url])
    try:
        for i in range(10):
            services.on_decision(decision("denied" if i % 2 else "granted"))
        assert wait_until(lambda: len(up.posts) == 10)  # one URL down holds back no other
        assert wait_until(lambda: services.store.outgoing_counts()["webhook"] == {"sent": 10, "pending": 10})
        down.start()
        assert wait_until(lambda: len(down.posts) == 10, timeout=15)
        assert wait_until(lambda: services.store.outgoing_counts()["webhook"] == {"sent": 20})
    finally:
        services.stop()
        down.stop()
        up.stop()
    assert sorted(down.ids()) == sorted(up.ids()) == sorted(f"test-door:{i}" for i in range(1, 11))
    refusals = [r for r in caplog.records if "failed" in r.getMessage() and r.levelname == "WARNING"]
    assert len(refusals) == 1 and "Connection refused" in refusals[0].getMessage()  # once per outage
    assert SECRET not in caplog.text


def test_an_error_answer_is_retried_and_a_repeat_carries_the_same_id(tmp_path, monkeypatch, receiver):
    receiver.status = 500
    services = kiosk(tmp_path, monkeypatch, [receiver.url])
    try:
        services.on_decision(decision("denied"))
        assert wait_until(lambda: len(receiver.posts) >= 2)  # refused twice: the kiosk tries again
        receiver.status = 204
        assert wait_until(lambda: services.store.outgoing_counts()["webhook"] == {"sent": 1})
    finally:
        services.stop()
    assert set(receiver.ids()) == {"test-door:1"} and len(receiver.ids()) >= 3  # duplicates: drop by id
    assert all(p["signed"] for p in receiver.posts)


def test_webhooks_without_a_secret_refuse_to_start(tmp_path, monkeypatch):
    monkeypatch.delenv("KIOSK_WEBHOOK_SECRET", raising=False)
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    settings = kiosk_settings(tmp_path)
    settings["webhook"] = {"urls": ["http://127.0.0.1:9/h"]}
    with pytest.raises(CredentialsError, match="no secret to sign the posts with"):
        EventServices(build_config(settings), "camera")
