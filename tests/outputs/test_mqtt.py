"""MQTT against a real Mosquitto broker on loopback: what subscribers hear, outages, commands, Home Assistant."""

from __future__ import annotations

import json
import signal
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Optional

import pytest

from kiosk.config import build_config
from kiosk.events.services import EventServices
from kiosk.outputs.serial_relay import SerialRelay
from tests.helpers import wait_until
from tests.helpers.cli import start_headless
from tests.helpers.events import kiosk_settings
from tests.helpers.relay import decision
from tools.alert_drill import write_toml
from tools.bench_mqtt import Kiosk
from tools.mosquitto_broker import MosquittoBroker, Subscriber

BASE = "kiosks/test-door"
ON, OFF = bytes.fromhex("A0 01 01 A2"), bytes.fromhex("A0 01 00 A1")


@pytest.fixture()
def broker(tmp_path) -> Iterator[MosquittoBroker]:
    with MosquittoBroker(tmp_path / "broker") as running:
        yield running


def mqtt_settings(tmp_path, broker: MosquittoBroker, **mqtt) -> dict:
    settings = kiosk_settings(tmp_path)
    settings["mqtt"] = {"enabled": True, "host": "127.0.0.1", "port": broker.port, "topic_prefix": "kiosks",
                        "retry_max_s": 1.0, **mqtt}
    return settings


def kiosk(tmp_path, broker: MosquittoBroker, door: Optional[dict] = None, **mqtt) -> EventServices:
    settings = mqtt_settings(tmp_path, broker, **mqtt)
    settings["door"] = door or {}
    services = EventServices(build_config(settings), "camera")
    services.start()
    return services


def listen(broker: MosquittoBroker, *topics: str) -> Subscriber:
    subscriber = Subscriber(broker.port, list(topics) or [f"{BASE}/#"])
    assert subscriber.subscribed.wait(10)
    return subscriber


def online(subscriber: Subscriber) -> bool:
    return subscriber.wait_for(lambda heard: any(h.topic == f"{BASE}/status" and h.json()["state"] == "online"
                                                 for h in heard))


@contextmanager
def running(tmp_path, broker: MosquittoBroker, **mqtt) -> Iterator[tuple[EventServices, Subscriber]]:
    """A subscriber to the kiosk's topics, then the kiosk's event services with MQTT, once online; stopped
    after, and heard saying so (offline) before the subscriber goes."""
    with listen(broker) as subscriber:
        services = kiosk(tmp_path, broker, **mqtt)
        try:
            assert online(subscriber)
            yield services, subscriber
        finally:
            services.stop()
        subscriber.wait_for(lambda heard: heard[-1].topic == f"{BASE}/status" and heard[-1].json()["state"] == "offline",
                            timeout=5)


def test_each_decision_and_health_event_is_published_with_its_id_and_never_the_demo(tmp_path, broker):
    with running(tmp_path, broker) as (services, subscriber):
        services.on_decision(decision("denied"))
        services.on_decision(decision("granted", source="file"))  # a replay: published, saying so
        services.on_decision(decision("granted", source="demo"))  # never
        services.on_health("camera-offline", "no frame for 3 s")
        assert subscriber.wait_for(lambda heard: len([h for h in heard if h.topic.endswith("/decision")]) == 2
                                   and any(h.topic.endswith("/health") for h in heard))
        assert wait_until(lambda: services.store.outgoing_counts()["mqtt"] == {"sent": 3})
        assert subscriber.wait_for(lambda heard: [h.json() for h in heard if h.topic == f"{BASE}/status"][-1].get(
            "granted_today") == 1)
    decisions = [h.json() for h in subscriber.on(f"{BASE}/decision")]
    assert [(d["decision"], d["source"], d["kind"]) for d in decisions] == [("denied", "camera", "decision"),
                                                                            ("granted", "file", "decision")]
    assert all(d["id"] == f"test-door:{d['event_id']}" and "frame" not in d and "image" not in json.dumps(d)
               for d in decisions)
    health = subscriber.on(f"{BASE}/health")[0].json()
    assert (health["what"], health["note"], health["kind"]) == ("camera-offline", "no frame for 3 s", "health")
    status = [h.json() for h in subscriber.on(f"{BASE}/status")]
    assert status[-1]["state"] == "offline"  # said when it stopped
    assert max(s.get("denied_today", 0) for s in status) == 1  # the demo never counts
    assert all(not h.retain for h in subscriber.on(f"{BASE}/decision"))


def test_twenty_decisions_during_a_broker_outage_all_arrive_once_it_is_back(tmp_path, broker):
    with running(tmp_path, broker) as (services, subscriber):
        services.on_decision(decision("denied"))
        assert subscriber.wait_for(lambda heard: any(h.topic.endswith("/decision") for h in heard))
        broker.stop()
        assert wait_until(lambda: not services.mqtt.connected)
        for i in range(20):
            services.on_decision(decision("denied" if i % 2 else "granted"))
        assert services.store.outgoing_counts()["mqtt"] == {"sent": 1, "pending": 20}
        broker.start()
        assert subscriber.wait_for(lambda heard: len({h.json()["id"] for h in heard
                                                      if h.topic.endswith("/decision")}) == 21, timeout=30)
        assert wait_until(lambda: services.store.outgoing_counts()["mqtt"] == {"sent": 21}, timeout=10)
    ids = [h.json()["event_id"] for h in subscriber.on(f"{BASE}/decision")]
    assert sorted(set(ids)) == list(range(1, 22))  # none lost; a repeat would carry the same id


def test_home_assistant_discovery_makes_one_device_with_sensors(tmp_path, broker):
    with listen(broker, "homeassistant/#", f"{BASE}/status") as subscriber:
        services = kiosk(tmp_path, broker, homeassistant=True)
        try:
            assert subscriber.wait_for(lambda heard: len([h for h in heard if h.topic.startswith("homeassistant/")]) == 4)
        finally:
            services.stop()
    configs = {h.topic: h.json() for h in subscriber.heard if h.topic.startswith("homeassistant/")}
    assert sorted(configs) == [f"homeassistant/sensor/test-door_{name}/config"
                               for name in ("camera", "denied_today", "granted_today", "last_decision")]
    with Subscriber(broker.port, ["homeassistant/#", f"{BASE}/status"], client_id="home-assistant") as later:
        assert later.wait_for(lambda heard: len(heard) == 5)  # kept by the broker for whoever comes later
        assert all(h.retain for h in later.heard) and later.on(f"{BASE}/status")[0].json()["state"] == "offline"
    granted = configs["homeassistant/sensor/test-door_granted_today/config"]
    assert granted["state_topic"] == granted["availability_topic"] == f"{BASE}/status"
    assert granted["unique_id"] == "test-door_granted_today" and granted["payload_available"] == "online"
    assert {c["device"]["identifiers"][0] for c in configs.values()} == {"mask-kiosk-test-door"}
    assert configs["homeassistant/sensor/test-door_last_decision/config"]["state_topic"] == f"{BASE}/decision"


def command(subscriber: Subscriber, text: str) -> dict:
    """Send one command and return the kiosk's answer."""
    answers = len(subscriber.on(f"{BASE}/command/result"))
    subscriber.publish(f"{BASE}/command", text)
    assert subscriber.wait_for(lambda heard: len([h for h in heard if h.topic == f"{BASE}/command/result"]) > answers)
    return subscriber.on(f"{BASE}/command/result")[-1].json()


def test_open_reaches_the_relay_only_when_remote_opening_is_allowed(tmp_path, broker, board):
    for allowed in (False, True):
        folder = tmp_path / str(allowed)
        with listen(broker) as subscriber:
            services = kiosk(folder, broker, door={"allow_remote_open": allowed})
            relay = SerialRelay(board.port, 9600, ON, OFF, open_s=0.3, source_kind="camera",
                                on_manual_open=lambda reason: services.on_health("manual_open", reason, alert=False))
            services.mqtt.door = relay
            relay.start()
            try:
                assert board.read(4) == OFF and online(subscriber)
                answer = command(subscriber, json.dumps({"command": "open", "id": "req-1"}))
                if allowed:
                    assert answer == {"command": "open", "ok": True, "detail": "door opening", "kiosk_id": "test-door",
                                      "id": "req-1"}
                    assert board.read(4) == ON and board.read(4) == OFF
                    assert subscriber.wait_for(lambda heard: any(h.topic.endswith("/health")
                                                                 and h.json()["what"] == "manual_open" for h in heard))
                else:
                    assert answer["ok"] is False and "allow_remote_open is false" in answer["detail"]
                    assert board.silent_for(0.5)
            finally:
                relay.stop()
                services.stop()


def test_snapshot_and_reload_config_commands_are_answered(tmp_path, broker, portrait):
    with running(tmp_path, broker, snapshots=True) as (services, subscriber):
        assert command(subscriber, "snapshot")["ok"] is False  # no picture yet
        denial = decision("denied")
        denial.frame = portrait
        services.on_decision(denial)
        assert subscriber.wait_for(lambda heard: any(h.topic == f"{BASE}/snapshot" for h in heard))
        assert subscriber.on(f"{BASE}/snapshot")[0].payload[:2] == b"\xff\xd8"  # a JPEG
        granted = decision("granted")
        granted.frame = portrait  # a grant's picture is not kept by default, so not sent either
        services.on_decision(granted)
        assert subscriber.wait_for(lambda heard: len([h for h in heard if h.topic.endswith("/decision")]) == 2)
        answer = command(subscriber, "SNAPSHOT")
        assert answer["ok"] is True
        assert subscriber.wait_for(lambda heard: len([h for h in heard if h.topic == f"{BASE}/snapshot"]) == 2)
        reload = command(subscriber, "reload_config")  # event services alone: nothing to restart
        assert reload["ok"] is False and reload["detail"].startswith("refused: this kiosk cannot restart itself")
        assert command(subscriber, "dance")["detail"] == "unknown command; known: open, snapshot, reload_config"


def kiosk_toml(tmp_path, broker: MosquittoBroker, **mqtt) -> Path:
    return write_toml(tmp_path / "kiosk.toml", mqtt_settings(tmp_path, broker, **mqtt))


def test_the_last_will_says_offline_when_the_kiosk_is_killed(tmp_path, broker):
    """The real kiosk (main.py run) on a camera that is not there: online, camera offline; kill -9: offline."""
    config = kiosk_toml(tmp_path, broker, keepalive_s=5)
    with listen(broker) as subscriber:
        kiosk = start_headless("--source", "9", "--config", str(config))
        try:
            assert subscriber.wait_for(lambda heard: any(h.topic == f"{BASE}/status" and h.json().get("camera")
                                                         == "offline" for h in heard), timeout=120)
            assert subscriber.on(f"{BASE}/status")[-1].json()["state"] == "online"
            kiosk.send_signal(signal.SIGKILL)
            kiosk.wait(30)
            assert subscriber.wait_for(lambda heard: heard[-1].json()["state"] == "offline", timeout=20)
        finally:
            if kiosk.poll() is None:
                kiosk.kill()
            kiosk.communicate()
    with Subscriber(broker.port, [f"{BASE}/status"], client_id="later") as later:  # retained for newcomers
        assert later.wait_for(lambda heard: len(heard) == 1) and later.heard[0].json()["state"] == "offline"


def test_reload_config_restarts_the_kiosk_on_a_valid_file_and_refuses_a_broken_one(tmp_path, broker):
    """The real kiosk (main.py run): a broken file is refused and the kiosk runs on; a valid one
    stops it cleanly (offline) and it starts again on the new file (online, same process)."""
    config = kiosk_toml(tmp_path, broker)
    good = config.read_text(encoding="utf-8")
    with listen(broker) as subscriber:
        kiosk = start_headless("--source", "9", "--config", str(config))
        try:
            assert online(subscriber)
            config.write_text(good + "\n[decision]\nhold_s = -1\n", encoding="utf-8")
            refused = command(subscriber, "reload_config")
            assert refused["ok"] is False and "hold_s = -1" in refused["detail"] and kiosk.poll() is None
            config.write_text(good + "\n[decision]\nhold_s = 2.5\n", encoding="utf-8")
            answer = command(subscriber, "reload_config")
            assert answer["ok"] is True and "the kiosk restarts on it" in answer["detail"]
            states = lambda heard: [h.json()["state"] for h in heard if h.topic == f"{BASE}/status"]  # noqa: E731
            assert subscriber.wait_for(lambda heard: states(heard)[-2:] == ["offline", "online"], timeout=120), \
                states(subscriber.heard)
            assert kiosk.poll() is None  # the same process, started again
        finally:
            kiosk.send_signal(signal.SIGTERM)
            _, stderr = kiosk.communicate(timeout=60)
    assert "restarting to apply the config file (reload_config)" in stderr
    assert stderr.count("MQTT: connected to") == 2, stderr  # the second start on the new file


def test_decisions_queued_during_an_outage_survive_a_kill_9(tmp_path, broker):
    config = write_toml(tmp_path / "kiosk.toml", {
        "kiosk": {"id": "bench-door"}, "storage": kiosk_settings(tmp_path)["storage"],
        "mqtt": {"enabled": True, "host": "127.0.0.1", "port": broker.port, "topic_prefix": "bench",
                 "retry_max_s": 1.0}})
    with Subscriber(broker.port, ["bench/bench-door/decision"]) as subscriber:
        assert subscriber.subscribed.wait(10)
        broker.stop()
        kiosk = Kiosk(config, count=5, interval=0.01)
        kiosk.wait_for("done")
        kiosk.kill()  # the five decisions are only in the kiosk's SQLite file now
        broker.start()
        kiosk = Kiosk(config, count=0, interval=0.01)
        try:
            assert subscriber.wait_for(lambda heard: {h.json()["event_id"] for h in heard} == {1, 2, 3, 4, 5},
                                       timeout=30)
        finally:
            kiosk.stop()
    assert {h.json()["id"] for h in subscriber.heard} == {f"bench-door:{i}" for i in range(1, 6)}
