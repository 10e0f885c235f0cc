"""FleetSync copies each kiosk's log into a real PostgreSQL: at least once, never twice, nothing lost
across a server outage or a kill -9 of the kiosk; demo events stay on the kiosk."""

from __future__ import annotations

import logging
import os
import signal
import sqlite3
import subprocess
import sys
import threading
from datetime import datetime, timedelta

import psycopg
import pytest

from kiosk.events.services import EventServices
from kiosk.events.store import EventStore
from kiosk.fleet.store import FleetStore
from kiosk.fleet.sync import MARK, FleetSync
from kiosk.records import DecisionEvent
from tests.fleet.conftest import fleet_config
from tests.helpers import PROJECT_ROOT, wait_until
from tools.alert_drill import denial, write_toml


def rows(url: str, password: str, sql: str = "SELECT kiosk_id, event_id, source FROM events ORDER BY event_id"):
    with psycopg.connect(url, password=password) as conn:
        return conn.execute(sql).fetchall()


def count(url: str, password: str) -> int:
    """Events in the fleet store; -1 before the kiosk made the schema or while the server is down."""
    try:
        return len(rows(url, password))
    except psycopg.Error:
        return -1


def visitor(cfg, decision: str, source: str = "camera", when=None) -> DecisionEvent:
    event = denial(cfg, when=when, with_frame=False)
    event.decision, event.source = decision, source
    event.label = "with_mask" if decision == "granted" else "without_mask"
    return event


def make_sync(cfg, store: EventStore, **kwargs) -> FleetSync:
    return FleetSync(cfg.fleet, cfg.kiosk.id, store, FleetStore.from_settings(cfg.fleet), threading.Event(), **kwargs)


def test_decisions_and_health_events_arrive_with_their_fields(tmp_path, fleet_url, postgres):
    cfg = fleet_config(tmp_path, fleet_url)
    store = EventStore(tmp_path / "events.sqlite3")
    when = datetime(2026, 3, 2, 8, 15, 30, 250000).astimezone()
    store.record_event(visitor(cfg, "denied", when=when), None, None, False, 0)
    store.record_event(visitor(cfg, "granted", when=when + timedelta(seconds=9)), None, None, False, 0)
    store.record_health(when + timedelta(seconds=20), cfg.kiosk.id, "camera-offline", "no frame for 30 s", False)
    sync = make_sync(cfg, store)
    assert sync.sync_all() == 3 and sync.copied == 3
    stored = rows(fleet_url, postgres.password,
                  "SELECT kiosk_id, event_id, time, day, kind, decision, label, score, faces, source, note, thumbnail"
                  " FROM events ORDER BY event_id")
    assert [r[:2] for r in stored] == [("north-door", 1), ("north-door", 2), ("north-door", 3)]
    assert stored[0][2] == when and stored[0][3] == when.date()
    assert stored[0][4:11] == ("decision", "denied", "without_mask", pytest.approx(0.93), 1, "camera", "")
    assert stored[1][5] == "granted"
    assert stored[2][4:7] == ("health", "health", "camera-offline") and stored[2][10] == "no frame for 30 s"
    assert all(r[11] is None for r in stored)  # no images unless [fleet] sync_images
    assert store.copy_mark(MARK) == 3


def test_demo_events_stay_local_and_replays_keep_their_source(tmp_path, fleet_url, postgres):
    cfg = fleet_config(tmp_path, fleet_url)
    store = EventStore(tmp_path / "events.sqlite3")
    for source in ("demo", "file", "demo", "folder", "stream", "demo"):
        store.record_event(visitor(cfg, "denied", source), None, None, False, 0)
    store.record_health(datetime.now().astimezone(), cfg.kiosk.id, "camera-offline", "demo feed", False, source="demo")
    sync = make_sync(cfg, store)
    assert sync.sync_all() == 7
    assert rows(fleet_url, postgres.password) == [("north-door", 2, "file"), ("north-door", 4, "folder"),
                                                  ("north-door", 5, "stream")]
    assert store.copy_mark(MARK) == 7  # the demo is passed, not waited for
    assert sync.sync_all() == 0


def test_copying_again_duplicates_nothing(tmp_path, fleet_url, postgres):
    cfg = fleet_config(tmp_path, fleet_url)
    store = EventStore(tmp_path / "events.sqlite3")
    for _ in range(12):
        store.record_event(visitor(cfg, "denied"), None, None, False, 0)
    sync = make_sync(cfg, store, batch=5)
    assert sync.sync_all() == 12 and sync.copied == 12
    assert sync.sync_all() == 0
    with sqlite3.connect(tmp_path / "events.sqlite3") as db:  # as if every copy mark had been lost
        db.execute("UPDATE copy_marks SET event_id = 0")
    again = make_sync(cfg, store, batch=5)
    assert again.sync_all() == 12 and again.copied == 0
    assert [r[1] for r in rows(fleet_url, postgres.password)] == list(range(1, 13))


def test_images_are_copied_only_when_asked(tmp_path, fleet_url, postgres, portrait):
    for sync_images, expect_image in ((False, False), (True, True)):
        folder = tmp_path / str(sync_images)
        cfg = fleet_config(folder, fleet_url, kiosk_id=f"door-{sync_images}".lower(), sync_images=sync_images)
        services = EventServices(cfg)
        services.on_decision(denial(cfg, frame=portrait))
        services.fleet.sync_all()
        services.stop()
        image = FleetStore.from_settings(cfg.fleet).snapshot(cfg.kiosk.id, 1)
        assert (image is not None) == expect_image
        if image is not None:
            assert image.startswith(b"\x89PNG")


def test_an_outage_loses_and_repeats_nothing(tmp_path, fleet_url, postgres, caplog):
    caplog.set_level(logging.INFO, logger="kiosk.fleet")
    cfg = fleet_config(tmp_path, fleet_url)
    services = EventServices(cfg)
    services.start()
    services.on_decision(visitor(cfg, "granted"))
    assert wait_until(lambda: count(fleet_url, postgres.password) == 1)
    postgres.stop()
    try:
        for n in range(20):
            services.on_decision(visitor(cfg, "denied" if n % 2 else "granted"))
        assert wait_until(lambda: services.fleet.last_error is not None)
    finally:
        postgres.start()
    assert wait_until(lambda: count(fleet_url, postgres.password) == 21, timeout=30)
    assert wait_until(lambda: services.fleet.last_error is None)
    services.stop()
    assert [r[1] for r in rows(fleet_url, postgres.password)] == list(range(1, 22))
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1, [r.getMessage() for r in warnings]  # one line per outage, not per retry
    assert "events stay in the local log" in warnings[0].getMessage()
    assert any("reachable again" in r.getMessage() for r in caplog.records)


def test_a_network_cut_loses_and_repeats_nothing(tmp_path, fleet_url, postgres):
    """The link to PostgreSQL is cut (open connections reset, new ones refused) while 20 decisions
    happen, then comes back: every event arrives once, in order."""
    from urllib.parse import urlsplit

    from tests.helpers.tcp_proxy import TcpProxy

    parts = urlsplit(fleet_url)
    proxy = TcpProxy(parts.port)
    try:
        cfg = fleet_config(tmp_path, parts._replace(netloc=f"{parts.username}@127.0.0.1:{proxy.port}").geturl())
        services = EventServices(cfg)
        services.start()
        services.on_decision(visitor(cfg, "granted"))
        assert wait_until(lambda: count(fleet_url, postgres.password) == 1)
        proxy.cut()
        for n in range(20):
            services.on_decision(visitor(cfg, "denied" if n % 2 else "granted"))
        assert wait_until(lambda: services.fleet.last_error is not None)
        assert count(fleet_url, postgres.password) == 1  # nothing got through the cut
        proxy.restore()
        assert wait_until(lambda: count(fleet_url, postgres.password) == 21, timeout=30)
        services.stop()
        assert [r[1] for r in rows(fleet_url, postgres.password)] == list(range(1, 22))
    finally:
        proxy.close()


def run_sync_process(config, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "tests.fleet.sync_process", str(config), *args], cwd=PROJECT_ROOT,
                            stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)})


def test_kill_9_of_the_kiosk_loses_and_repeats_nothing(tmp_path, fleet_url, postgres):
    cfg_path = write_toml(tmp_path / "kiosk.toml", {
        "kiosk": {"id": "north-door"}, "fleet": {"database_url": fleet_url, "retry_initial_s": 0.1},
        "storage": {"database": str(tmp_path / "events.sqlite3")}})
    cfg = fleet_config(tmp_path, fleet_url)
    store = EventStore(tmp_path / "events.sqlite3")
    for n in range(300):
        store.record_event(visitor(cfg, "granted" if n % 3 else "denied"), None, None, False, 0)

    # killed after PostgreSQL committed its 3rd batch and before the copy mark moved
    first = run_sync_process(cfg_path, "--hold-after", "3")
    try:
        assert first.stdout.readline().split() == ["committed", "15"]
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    assert len(rows(fleet_url, postgres.password)) == 15 and store.copy_mark(MARK) == 10

    # killed somewhere in the middle of copying, wherever it is
    second = run_sync_process(cfg_path)
    try:
        assert second.stdout.readline().strip() == "syncing"
        assert wait_until(lambda: count(fleet_url, postgres.password) >= 100, timeout=60)
    finally:
        second.send_signal(signal.SIGKILL)
        second.wait(10)
    assert len(rows(fleet_url, postgres.password)) < 300

    third = run_sync_process(cfg_path)
    try:
        assert wait_until(lambda: store.copy_mark(MARK) == 300, timeout=60)
    finally:
        third.send_signal(signal.SIGKILL)
        third.wait(10)
    assert [r[1] for r in rows(fleet_url, postgres.password)] == list(range(1, 301))


def test_the_heartbeat_says_the_camera_state(tmp_path, fleet_url, postgres):
    cfg = fleet_config(tmp_path, fleet_url)
    state = ["live"]
    sync = make_sync(cfg, EventStore(tmp_path / "events.sqlite3"), camera_state=lambda: state[0], poll_s=0.05)
    sync.fleet.ensure_schema()
    sync.start()
    try:
        query = "SELECT camera_state, last_seen > now() - interval '5 s' FROM kiosks WHERE kiosk_id = 'north-door'"
        assert wait_until(lambda: rows(fleet_url, postgres.password, query) == [("live", True)])
        state[0] = "offline"
        assert wait_until(lambda: rows(fleet_url, postgres.password, query) == [("offline", True)])
    finally:
        assert sync.stop(5)


def test_a_wrong_password_is_one_warning_without_the_password(tmp_path, fleet_url, monkeypatch, caplog):
    monkeypatch.setenv("KIOSK_FLEET_PASSWORD", "not-the-password-4711")
    cfg = fleet_config(tmp_path, fleet_url)
    store = EventStore(tmp_path / "events.sqlite3")
    store.record_event(visitor(cfg, "denied"), None, None, False, 0)
    sync = make_sync(cfg, store)
    sync.start()
    try:
        assert wait_until(lambda: sync.last_error is not None)
    finally:
        sync.stop(5)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "password authentication failed" in warnings[0], warnings
    assert "\n" not in warnings[0] and "4711" not in caplog.text
    assert store.copy_mark(MARK) == 0
