"""The HTTP relay against a real HTTP server on loopback: what the door controller receives, and its failures."""

from __future__ import annotations

import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Iterator

import pytest

from kiosk.outputs.door import HEALTH_DOOR_FAILED
from kiosk.outputs.http_relay import HttpRelay
from tests.helpers import wait_until
from tests.helpers.relay import decision


class DoorController(ThreadingHTTPServer):
    """A Shelly or Home Assistant stand-in: records each request; ``status`` and ``delay_s`` set its answer."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.requests: list[dict] = []
        self.status = 200
        self.delay_s = 0.0
        self.release = threading.Event()  # ends a delay early, so a hung answer does not outlive its test

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: DoorController

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        self.server.requests.append({"method": self.command, "path": self.path, "body": body,
                                     "content_type": self.headers.get("Content-Type")})
        if self.server.delay_s:
            self.server.release.wait(self.server.delay_s)
        self.send_response(self.server.status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    do_GET = do_POST = _answer

    def log_message(self, *args) -> None:
        pass


@pytest.fixture()
def controller() -> Iterator[DoorController]:
    server = DoorController()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.release.set()
    server.shutdown()
    server.server_close()


def relay(url: str, events, method: str = "POST", timeout_s: float = 2.0, source_kind: str = "camera") -> HttpRelay:
    door = HttpRelay(url, method, timeout_s, 3.0, kiosk_id="test-door", source_kind=source_kind,
                     on_health=events.on_health, on_manual_open=events.on_manual_open)
    door.start()
    return door


def test_a_grant_posts_the_opening_as_json(controller, events):
    door = relay(controller.url + "/api/webhook/kiosk-door", events)
    try:
        door.on_decision(decision("granted"))
        assert wait_until(lambda: controller.requests, timeout=5)
        request = controller.requests[0]
        assert (request["method"], request["path"], request["content_type"]) == (
            "POST", "/api/webhook/kiosk-door", "application/json")
        assert json.loads(request["body"]) == {"action": "open", "kiosk_id": "test-door", "open_s": 3.0,
                                               "reason": "granted"}
        assert wait_until(lambda: door.opens == 1) and events.health == []
    finally:
        door.stop()


def test_a_get_fills_in_the_seconds_like_a_shelly_timer(controller, events):
    door = relay(controller.url + "/relay/0?turn=on&timer={open_s}", events, method="GET")
    try:
        door.on_decision(decision("granted", source="camera"))
        assert wait_until(lambda: controller.requests, timeout=5)
        assert controller.requests[0]["method"] == "GET"
        assert controller.requests[0]["path"] == "/relay/0?turn=on&timer=3"
    finally:
        door.stop()


@pytest.mark.parametrize("event", [decision("denied"), decision("uncertain"), decision("granted", source="demo"),
                                   decision("granted", source="folder")], ids=["denied", "uncertain", "demo", "folder"])
def test_nothing_is_sent_for_anything_but_a_live_grant(controller, events, event):
    door = relay(controller.url + "/open", events)
    try:
        door.on_decision(event)
        time.sleep(0.3)
        assert controller.requests == []
    finally:
        door.stop()


def test_manual_open_is_sent_with_its_reason(controller, events):
    door = relay(controller.url + "/open", events, source_kind="demo")
    try:
        assert door.open_manually("admin panel")
        assert wait_until(lambda: events.manual == ["admin panel"], timeout=5)
        assert json.loads(controller.requests[0]["body"])["reason"] == "admin panel"
    finally:
        door.stop()


def test_an_error_answer_is_reported(controller, events):
    controller.status = 500
    door = relay(controller.url + "/open", events)
    try:
        door.on_decision(decision("granted"))
        assert wait_until(lambda: events.health, timeout=5)
        what, note = events.health[0]
        assert what == HEALTH_DOOR_FAILED and "answered HTTP 500" in note and note.endswith("the door stays locked")
        assert door.opens == 0 and door.state == "failed"
        controller.status = 200  # the controller is back: the next grant opens and the outage is over
        door.on_decision(decision("granted"))
        assert wait_until(lambda: door.opens == 1, timeout=5) and door.state == "open"
        assert len(events.health) == 1
    finally:
        door.stop()


def test_a_controller_that_is_down_is_reported_without_blocking(events):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}/open"
    door = relay(url, events)
    try:
        started = time.perf_counter()
        door.on_decision(decision("granted"))
        assert time.perf_counter() - started < 0.05
        assert wait_until(lambda: events.health, timeout=5)
        assert "Connection refused" in events.health[0][1] and door.opens == 0
    finally:
        door.stop()


def test_a_controller_that_does_not_answer_times_out_and_is_reported(controller, events):
    controller.delay_s = 30
    door = relay(controller.url + "/open", events, timeout_s=0.5)
    try:
        started = time.perf_counter()
        door.on_decision(decision("granted"))
        assert time.perf_counter() - started < 0.05  # the analysis thread is not the one waiting
        assert wait_until(lambda: events.health, timeout=5)
        assert 0.45 <= time.perf_counter() - started <= 3
        assert "timed out" in events.health[0][1] and door.opens == 0 and door.state == "failed"
    finally:
        controller.release.set()
        door.stop()
