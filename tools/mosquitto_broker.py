"""A real Mosquitto broker on 127.0.0.1 and a subscriber that keeps what it hears: for tests and benchmarks.

The broker (Debian's ``mosquitto``, ``apt-get install mosquitto``) runs from a generated config in
its own folder, on a free loopback port; it can be stopped and started again on the same port to
play an outage. It persists sessions across that restart (``persistence true``), so a subscriber
with a persistent session (``clean_session=False``) misses nothing published while it reconnects.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import paho.mqtt.client as mqtt

from tools.loopback_smtp import HOST, free_port


class MosquittoBroker:
    """``start()`` / ``stop()`` (clean, saving sessions) as often as wanted; ``close()`` at the end."""

    def __init__(self, folder: Path, port: Optional[int] = None) -> None:
        executable = shutil.which("mosquitto") or ("/usr/sbin/mosquitto" if Path("/usr/sbin/mosquitto").exists() else None)
        if executable is None:
            raise RuntimeError("mosquitto is not installed: apt-get install -y mosquitto mosquitto-clients")
        self.executable = executable
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.config = self.folder / "mosquitto.conf"
        self.log = self.folder / "mosquitto.log"
        self.config.write_text(
            f"listener {self.port} {HOST}\n"
            "allow_anonymous true\n"
            "persistence true\n"
            f"persistence_location {self.folder}/\n"
            "user root\n"  # only read when started as root: stay root, the folder is ours
            f"log_dest file {self.log}\n"
            "log_type error\nlog_type warning\nlog_type notice\n")
        self._process: Optional[subprocess.Popen] = None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self, timeout: float = 10.0) -> "MosquittoBroker":
        if self.running:
            return self
        self._process = subprocess.Popen([self.executable, "-c", str(self.config)], stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"mosquitto exited with {self._process.returncode}; see {self.log}")
            try:
                with socket.create_connection((HOST, self.port), timeout=0.2):
                    return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError(f"mosquitto did not listen on {HOST}:{self.port} within {timeout} s")

    def stop(self, timeout: float = 10.0) -> None:
        """A clean stop (SIGTERM): sessions and retained messages are saved for the next start."""
        if self._process is None:
            return
        if self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None

    close = stop

    def __enter__(self) -> "MosquittoBroker":
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.close()


@dataclass(frozen=True)
class Heard:
    """One message as the subscriber got it, with the wall-clock time it arrived."""

    at: float
    topic: str
    payload: bytes
    retain: bool

    def json(self) -> dict:
        return json.loads(self.payload)


class Subscriber:
    """A paho client subscribed to ``topics`` at QoS 1 with a persistent session; keeps every message."""

    def __init__(self, port: int, topics: list[str], client_id: str = "test-subscriber") -> None:
        self.topics = topics
        self.heard: list[Heard] = []
        self._changed = threading.Condition()
        self.subscribed = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=False)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *args: self.subscribed.set()
        self.client.reconnect_delay_set(1, 2)
        self.client.connect_async(HOST, port, keepalive=10)
        self.client.loop_start()

    def _on_connect(self, client, userdata, flags, reason, properties) -> None:
        if not reason.is_failure:
            client.subscribe([(topic, 1) for topic in self.topics])

    def _on_message(self, client, userdata, message) -> None:
        with self._changed:
            self.heard.append(Heard(time.time(), message.topic, bytes(message.payload), bool(message.retain)))
            self._changed.notify_all()

    def on(self, topic: str) -> list[Heard]:
        with self._changed:
            return [h for h in self.heard if h.topic == topic]

    def wait_for(self, condition: Callable[[list[Heard]], bool], timeout: float = 15.0) -> bool:
        deadline = time.monotonic() + timeout
        with self._changed:
            while not condition(self.heard):
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._changed.wait(min(left, 0.2))
            return True

    def publish(self, topic: str, payload: str) -> None:
        self.client.publish(topic, payload, qos=1).wait_for_publish(5)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()

    def __enter__(self) -> "Subscriber":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
