"""The SQLite event log: one row per episode with its alert state, WAL, the claim/mark protocol,
and atomicity when the process is killed in the middle of writing."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

from tests.helpers.events import make_config
from tools.alert_drill import denial
from kiosk.events.services import EventServices
from kiosk.events.store import EventStore
from kiosk.records import DecisionEvent, StoredEvent

from tests.helpers import PROJECT_ROOT

WRITER = """
import sys
from tools.alert_drill import denial
from kiosk.config import build_config
from kiosk.events.store import EventStore
cfg = build_config({})
store = EventStore(sys.argv[1])
print("ready", flush=True)
while True:
    store.record_event(denial(cfg, with_frame=False), None, None, alert=True, cooldown_s=0)
"""


def test_events_are_stored_with_all_fields_and_alert_state(tmp_path):
    cfg = make_config(tmp_path)  # email off: no alert rows
    services = EventServices(cfg)
    event = denial(cfg)
    services.on_decision(event)
    services.on_decision(DecisionEvent(time=event.time + timedelta(seconds=5), kiosk_id="test-door",
                                       decision="granted", label="with_mask", score=0.99, faces=2))
    rows = services.store.events()
    assert [(r.decision, r.label, r.faces, r.alert_state) for r in rows] == [
        ("denied", "without_mask", 1, "none"), ("granted", "with_mask", 2, "none")]
    assert rows[0].time == event.time.isoformat(timespec="milliseconds")
    assert abs(rows[0].score - 0.93) < 1e-9 and rows[0].kiosk_id == "test-door"
    assert Path(rows[0].snapshot_path).is_file() and Path(rows[0].crop_path).is_file()
    assert rows[1].snapshot_path is None  # no frame handed over
    assert services.status()["denied_today"] == 1 and services.status()["granted_today"] == 1
    mode = sqlite3.connect(tmp_path / "events.sqlite3").execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_every_read_gives_the_same_typed_record(tmp_path):
    store = EventStore(tmp_path / "e.sqlite3")
    event_id = store.record_event(denial(make_config(tmp_path), with_frame=False), None, None, alert=True,
                                  cooldown_s=0)[0]
    stored = store.event(event_id)
    assert isinstance(stored, StoredEvent) and store.events() == store.events_by_ids([event_id]) == [stored]
    assert (stored.alert_state, stored.delivery_id, stored.thumbnail_path) == ("pending", None, None)
    assert stored.as_dict()["label"] == "without_mask" and store.event(event_id + 1) is None


def test_counts_survive_a_restart(tmp_path):
    cfg = make_config(tmp_path)
    first = EventServices(cfg)
    for _ in range(3):
        first.on_decision(denial(cfg))
    first.stop()
    assert EventServices(cfg).status()["denied_today"] == 3


def test_claim_mark_release_recover_protocol(tmp_path):
    store = EventStore(tmp_path / "e.sqlite3")
    cfg = make_config(tmp_path)
    ids = [store.record_event(denial(cfg, with_frame=False), None, None, alert=True, cooldown_s=0)[1] for _ in range(3)]
    token = store.claim(ids[:2])
    assert token is not None and store.claim(ids[:2]) is None  # already claimed: nobody else takes them
    store.release(token, "cannot connect")
    assert store.outbox_counts() == {"pending": 3, "repeats": 0, "sending": 0, "sent": 0, "failed": 0}
    assert {r.last_error for r in store.outbox_rows() if r.id in ids[:2]} == {"cannot connect"}

    token = store.claim(ids)
    # the process dies here: a new one recovers the claimed rows as pending
    assert EventStore(tmp_path / "e.sqlite3").recover() == 3
    token = store.claim(ids)
    delivery = store.mark_sent(token, "digest", "<m@x>", time.time())
    assert store.outbox_counts() == {"pending": 0, "repeats": 0, "sending": 0, "sent": 3, "failed": 0}
    assert store.deliveries()[0].id == delivery and store.deliveries()[0].alert_count == 3


def test_cooldown_marks_later_alerts_as_repeats(tmp_path):
    store = EventStore(tmp_path / "e.sqlite3")
    cfg = make_config(tmp_path)
    start = datetime.now().astimezone()
    for offset in (0, 10, 59, 60, 100):
        store.record_event(denial(cfg, with_frame=False, when=start + timedelta(seconds=offset)), None, None,
                           alert=True, cooldown_s=60)
    assert [item.repeat for item in store.pending()] == [False, True, True, False, True]


def test_kill_9_mid_write_leaves_a_consistent_database(tmp_path):
    db = tmp_path / "crash.sqlite3"
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    writer = subprocess.Popen([sys.executable, "-c", WRITER, str(db)], stdout=subprocess.PIPE, text=True, env=env)
    assert writer.stdout.readline().strip() == "ready"
    store = EventStore(db)
    deadline = time.monotonic() + 30
    while len(store.events(limit=60)) < 50 and time.monotonic() < deadline:
        time.sleep(0.01)
    writer.send_signal(signal.SIGKILL)  # lands somewhere inside the write loop
    writer.wait(10)
    store.close()

    check = sqlite3.connect(db)
    assert check.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    events = check.execute("SELECT count(*) FROM events").fetchone()[0]
    alerts = check.execute("SELECT count(*) FROM outbox").fetchone()[0]
    orphans = check.execute("SELECT count(*) FROM events e LEFT JOIN outbox o ON o.event_id = e.id"
                            " WHERE o.id IS NULL").fetchone()[0]
    assert events >= 50 and events == alerts and orphans == 0  # event and alert rows commit together


def test_a_full_disk_is_logged_once_per_event_and_never_raised(tmp_path, caplog):
    cfg = make_config(tmp_path)
    services = EventServices(cfg)
    services.on_decision(denial(cfg, with_frame=False))
    pages = services.store._db.execute("PRAGMA page_count").fetchone()[0]
    services.store._db.execute(f"PRAGMA max_page_count = {pages}")  # SQLite now reports SQLITE_FULL
    for _ in range(2000):  # the last free page fills up, then every write fails
        services.on_decision(denial(cfg, with_frame=False))  # must not raise
        if services.status()["storage_errors"] >= 3:
            break
    status = services.status()
    assert status["last_storage_error"].startswith("event not recorded in ")
    assert "full" in status["last_storage_error"]
    assert status["denied_today"] > 0
    errors = [r for r in caplog.records if "event not recorded" in r.getMessage()]
    assert len(errors) == status["storage_errors"] and all("\n" not in r.getMessage() for r in errors)
    services.store._db.execute("PRAGMA max_page_count = 1073741823")  # space again: recording resumes
    before = len(services.store.events())
    services.on_decision(denial(cfg, with_frame=False))
    assert len(services.store.events()) == before + 1
