"""The durable outbox with a real SQLite file and a real SMTP server on 127.0.0.1:
outages, kill -9, restarts, cooldown, hourly cap and digests; nothing lost, nothing twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter
from datetime import datetime, timedelta

import pytest

from tests.helpers.events import make_config, write_config
from tests.helpers import wait_until
from tools.alert_drill import denial
from kiosk.config import Config
from kiosk.events.services import EventServices
from kiosk.events.store import EventStore
from tools.loopback_smtp import LoopbackSmtp, free_port

# aiosmtpd warns that the loopback test server allows login without TLS: that is intended here
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")

from tests.helpers import PROJECT_ROOT


def delivered_ids(server: LoopbackSmtp) -> Counter:
    return Counter(i for mail in server.received for i in mail.event_ids)


def kiosk_with_server_down(tmp_path, denials: int) -> tuple[int, Config, EventServices]:
    """A started kiosk whose SMTP port has no server, after ``denials`` denials."""
    port = free_port()
    cfg = make_config(tmp_path, port)
    services = EventServices(cfg)
    services.start()
    for _ in range(denials):
        services.on_decision(denial(cfg))  # the SMTP server is down: must not raise
    return port, cfg, services


def test_outage_queues_everything_and_delivers_each_alert_exactly_once(tmp_path):
    port, cfg, services = kiosk_with_server_down(tmp_path, 8)
    assert wait_until(lambda: services.status()["last_email_error"] is not None)
    assert services.status()["last_email_error"] == f"cannot connect to 127.0.0.1:{port}: Connection refused"
    assert services.status()["denied_today"] == 8
    with LoopbackSmtp(port=port) as server:
        server.wait_for_events(set(range(1, 9)), timeout_s=20)
        services.stop()
    assert delivered_ids(server) == Counter({i: 1 for i in range(1, 9)})
    store = EventStore(cfg.resolve_path(cfg.storage.database))
    assert store.outbox_counts() == {"pending": 0, "repeats": 0, "sending": 0, "sent": 8, "failed": 0}
    assert {e.alert_state for e in store.events()} == {"sent"}


def test_kill_9_with_alerts_pending_then_restart_delivers_them(tmp_path):
    port = free_port()
    config = write_config(tmp_path, port)
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    producer = subprocess.Popen([sys.executable, "-m", "tools.alert_drill", "--config", str(config), "produce", "12"],
                                stdout=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
    assert producer.stdout.readline().strip() == "queued"
    producer.send_signal(signal.SIGKILL)
    producer.wait(10)
    assert producer.returncode == -signal.SIGKILL

    pending = EventStore(tmp_path / "events.sqlite3").outbox_counts()
    assert pending["pending"] + pending["sending"] == 12 and pending["sent"] == 0
    with LoopbackSmtp(port=port) as server:
        restarted = subprocess.run([sys.executable, "-m", "tools.alert_drill", "--config", str(config), "deliver", "30"],
                                   capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60)
    assert restarted.returncode == 0, restarted.stderr
    assert delivered_ids(server) == Counter({i: 1 for i in range(1, 13)})


def test_orderly_stop_leaves_undelivered_alerts_queued_for_the_next_start(tmp_path):
    port, cfg, services = kiosk_with_server_down(tmp_path, 3)
    services.stop(grace_s=0.5)
    assert not services.sender.running  # it gave up within the grace period instead of retrying on
    assert EventStore(cfg.resolve_path(cfg.storage.database)).outbox_counts()["pending"] == 3

    with LoopbackSmtp(port=port) as server:
        again = EventServices(cfg)
        again.start()
        server.wait_for_events({1, 2, 3}, timeout_s=20)
        again.stop()
    assert delivered_ids(server) == Counter({1: 1, 2: 1, 3: 1})


def test_wrong_password_keeps_the_service_running_and_the_alert_queued(tmp_path, monkeypatch):
    monkeypatch.setenv("KIOSK_SMTP_PASSWORD", "wrong")
    with LoopbackSmtp(username="door-kiosk", password="right") as server:
        cfg = make_config(tmp_path, server.port, email={"username": "door-kiosk"})
        services = EventServices(cfg)
        services.start()
        services.on_decision(denial(cfg))
        assert wait_until(lambda: services.status()["last_email_error"] is not None)
        status = services.status()
        assert status["last_email_error"].startswith("login failed for user door-kiosk: 535")
        assert status["sender_running"] and status["outbox_pending"] == 1
        services.on_decision(denial(cfg))  # still accepts decisions
        monkeypatch.setenv("KIOSK_SMTP_PASSWORD", "right")  # the operator fixes the password
        server.wait_for_events({1, 2}, timeout_s=20)
        services.stop()
    assert delivered_ids(server) == Counter({1: 1, 2: 1})


def test_person_denied_for_60_s_gets_exactly_one_email(tmp_path):
    """Even if the engine reported the same person once a second, the cooldown sends one email."""
    with LoopbackSmtp() as server:
        cfg = make_config(tmp_path, server.port, email={"cooldown_s": 60.0})
        services = EventServices(cfg)
        services.start()
        start = datetime.now().astimezone()
        for second in range(60):
            services.on_decision(denial(cfg, when=start + timedelta(seconds=second)))
        first = server.wait_for(1, timeout_s=15)[0]
        carried = len(first.event_ids)  # the lead, plus repeats that were already queued with it
        assert first.event_ids == list(range(1, carried + 1))
        store = EventStore(cfg.resolve_path(cfg.storage.database))
        assert wait_until(lambda: store.outbox_counts()["sent"] == carried)
        services.sender.wake()  # repeats alone cause no email while the cooldown runs
        assert not wait_until(lambda: len(server.received) > 1, timeout=1.0)
        assert len(server.received) == 1
        assert Counter(e.alert_state for e in store.events()) == {"sent": carried, "pending-repeat": 60 - carried}
        assert wait_until(lambda: services.status()["outbox_pending"] == 0)  # repeats are not "stuck" mail

        # the next person after the cooldown: one email that also accounts for the 59 repeats
        services.on_decision(denial(cfg, when=start + timedelta(seconds=61)))
        server.wait_for(2, timeout_s=15)
        services.stop()
    assert len(server.received) == 2
    assert delivered_ids(server) == Counter({i: 1 for i in range(1, 62)})


def test_repeats_go_out_as_a_summary_once_the_cooldown_has_run_out(tmp_path):
    """A second person denied within the cooldown is not held back until some later denial."""
    with LoopbackSmtp() as server:
        cfg = make_config(tmp_path, server.port, email={"cooldown_s": 2.0})
        services = EventServices(cfg)
        services.start()
        now = datetime.now().astimezone()
        services.on_decision(denial(cfg, when=now))
        server.wait_for(1, timeout_s=15)
        services.on_decision(denial(cfg, when=now + timedelta(seconds=0.5)))  # within the cooldown
        assert not wait_until(lambda: len(server.received) > 1, timeout=0.8)
        summary = server.wait_for(2, timeout_s=15)[1]  # after the cooldown, with no newer alert
        services.stop()
    assert summary.event_ids == [2]
    assert delivered_ids(server) == Counter({1: 1, 2: 1})


def test_hourly_cap_rolls_further_alerts_into_one_digest(tmp_path):
    with LoopbackSmtp() as server:
        cfg = make_config(tmp_path, server.port, email={"hourly_cap": 2})
        services = EventServices(cfg)
        services.sender.cap_window_s = 3.0  # a short "hour" so the drill does not take one
        services.start()
        services.on_decision(denial(cfg))
        server.wait_for(1, timeout_s=15)
        services.on_decision(denial(cfg))
        server.wait_for(2, timeout_s=15)
        for _ in range(5):
            services.on_decision(denial(cfg))  # the cap is reached: these wait
        server.wait_for_events(set(range(1, 8)), timeout_s=20)
        services.stop()
    assert len(server.received) == 3
    digest = server.received[2]
    assert digest.event_ids == [3, 4, 5, 6, 7]
    assert digest.message["Subject"].startswith("[test-door] Digest: 5 alerts")
    assert delivered_ids(server) == Counter({i: 1 for i in range(1, 8)})


def test_two_processes_on_one_database_send_each_alert_once(tmp_path):
    """Only the holder of the sender lock sends; the other process only queues."""
    with LoopbackSmtp() as server:
        cfg = make_config(tmp_path, server.port)
        first, second = EventServices(cfg), EventServices(cfg)
        first.start()
        second.start()
        assert first.status()["sender_running"] and not second.status()["sender_running"]
        second.on_decision(denial(cfg))  # queued by the second process, found by the first's idle poll
        server.wait_for_events({1}, timeout_s=15)
        first.on_decision(denial(cfg))
        server.wait_for_events({1, 2}, timeout_s=15)
        second.stop()
        first.stop()
    assert delivered_ids(server) == Counter({1: 1, 2: 1})
