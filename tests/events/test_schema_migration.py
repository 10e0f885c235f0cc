"""The event database's schema is versioned (PRAGMA user_version) and an older file is migrated
in place: here databases made by the SQL of the schema before versioning (no ``kind`` column) and
of version 1 (no ``source`` column, ids that a delete could free for reuse)."""

from __future__ import annotations

import sqlite3
from datetime import date, datetime

import pytest

from kiosk.events import store as store_module
from kiosk.events.store import MIGRATED_SOURCE, SCHEMA_VERSION, EventStore, StoreError
from kiosk.records import StoredEvent

# The schema as the kiosk created it before versioning (user_version 0), verbatim.
SCHEMA_V0 = """
CREATE TABLE IF NOT EXISTS events (
    id            INTEGER PRIMARY KEY,
    time          TEXT    NOT NULL,  -- ISO 8601 with UTC offset, as the kiosk saw it
    epoch         REAL    NOT NULL,  -- same instant, seconds since 1970, for ordering and windows
    day           TEXT    NOT NULL,  -- local calendar day YYYY-MM-DD (reports, 'today')
    kiosk_id      TEXT    NOT NULL,
    decision      TEXT    NOT NULL,  -- granted | denied
    label         TEXT    NOT NULL,
    score         REAL    NOT NULL,
    faces         INTEGER NOT NULL,
    policy_note   TEXT    NOT NULL DEFAULT '',
    snapshot_path TEXT,              -- annotated frame (NULL: privacy, no frame, or cleaned up)
    crop_path     TEXT               -- face crop
);
CREATE INDEX IF NOT EXISTS events_day ON events(day);
CREATE INDEX IF NOT EXISTS events_epoch ON events(epoch);

CREATE TABLE IF NOT EXISTS deliveries (
    id          INTEGER PRIMARY KEY,
    kind        TEXT    NOT NULL,    -- alert | digest | report
    message_id  TEXT    NOT NULL,
    sent_at     REAL    NOT NULL,
    alert_count INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS deliveries_sent ON deliveries(sent_at);

CREATE TABLE IF NOT EXISTS outbox (
    id          INTEGER PRIMARY KEY,
    kind        TEXT    NOT NULL,    -- alert | report
    event_id    INTEGER UNIQUE REFERENCES events(id),  -- UNIQUE: one alert per decision episode
    report_day  TEXT,
    repeat      INTEGER NOT NULL DEFAULT 0,  -- 1: within cooldown of an earlier alert, rides along
    state       TEXT    NOT NULL,    -- pending | sending | sent | failed (reports only)
    created_at  REAL    NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    last_error  TEXT,
    claim       TEXT,
    delivery_id INTEGER REFERENCES deliveries(id)
);
CREATE INDEX IF NOT EXISTS outbox_state ON outbox(state);
"""

OLD_EVENTS = [  # time, epoch, day, decision, label, score, faces, policy note, snapshot, crop
    ("2026-11-20T08:00:00.000+01:00", 1795158000.0, "2026-11-20", "granted", "with_mask", 0.98, 1, "", None, None),
    ("2026-11-20T08:01:00.000+01:00", 1795158060.0, "2026-11-20", "denied", "without_mask", 0.91, 1, "",
     "/s/1.jpg", "/s/1-face.jpg"),
    ("2026-11-20T08:02:00.000+01:00", 1795158120.0, "2026-11-20", "granted", "without_mask", 0.88, 2,
     "soft policy: allowed without mask", None, None),
]


def old_database(path, schema: str = SCHEMA_V0, extra: tuple[str, ...] = ()) -> None:
    """A WAL database with an old schema, three events and a sent alert, as the old kiosk left it
    (then the ``extra`` statements)."""
    db = sqlite3.connect(path)
    db.execute("PRAGMA journal_mode=WAL")
    db.executescript(schema)
    db.executemany("INSERT INTO events (time, epoch, day, kiosk_id, decision, label, score, faces, policy_note,"
                   " snapshot_path, crop_path) VALUES (?,?,?,'old-door',?,?,?,?,?,?,?)", OLD_EVENTS)
    db.execute("INSERT INTO deliveries (kind, message_id, sent_at, alert_count) VALUES ('alert', '<m@x>', 1.0, 1)")
    db.execute("INSERT INTO outbox (kind, event_id, state, created_at, delivery_id) VALUES ('alert', 2, 'sent', 1.0, 1)")
    for statement in extra:
        db.execute(statement)
    db.commit()
    db.close()


def columns(path, table: str = "events") -> list[str]:
    db = sqlite3.connect(path)
    try:
        return [row[1] for row in db.execute(f"PRAGMA table_info({table})")]
    finally:
        db.close()


def user_version(path) -> int:
    db = sqlite3.connect(path)
    try:
        return db.execute("PRAGMA user_version").fetchone()[0]
    finally:
        db.close()


def test_a_database_of_the_old_schema_is_migrated_in_place_and_keeps_every_row(tmp_path):
    path = tmp_path / "events.sqlite3"
    old_database(path)
    assert user_version(path) == 0 and "kind" not in columns(path)
    store = EventStore(path)
    events = store.events()
    assert [e.kind for e in events] == ["decision"] * 3
    assert [(e.time, e.decision, e.label, e.score, e.faces, e.policy_note, e.snapshot_path, e.crop_path)
            for e in events] == [(t, d, lab, s, f, n, sp, cp) for t, _, _, d, lab, s, f, n, sp, cp in OLD_EVENTS]
    assert [e.alert_state for e in events] == ["none", "sent", "none"] and events[1].delivery_id == 1
    health_id, _ = store.record_health(datetime.fromisoformat(events[-1].time), "old-door", "database-replaced",
                                       "a note", alert=False)
    assert store.event(health_id).kind == "health"
    assert store.decision_counts(date(2026, 11, 20)) == {"granted": 2, "denied": 1}  # health is no decision
    store.close()
    assert user_version(path) == SCHEMA_VERSION == 3
    fresh = tmp_path / "fresh.sqlite3"
    EventStore(fresh).close()
    assert columns(path) == columns(fresh)  # migrated and new files have the same layout
    assert all(columns(path, t) == columns(fresh, t) for t in ("outbox", "deliveries"))
    EventStore(path).close()  # opening a current file again changes nothing
    assert user_version(path) == 3


def test_a_new_database_has_the_current_version_and_a_kind_for_each_event(tmp_path):
    path = tmp_path / "events.sqlite3"
    EventStore(path).close()
    assert user_version(path) == SCHEMA_VERSION and columns(path)[-2:] == ["kind", "source"]
    assert {"kind", "source"} <= {f for f in StoredEvent.__dataclass_fields__}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["events.sqlite3"]  # no temporary file left


def test_a_database_from_a_newer_kiosk_is_refused_and_left_alone(tmp_path):
    path = tmp_path / "events.sqlite3"
    EventStore(path).close()
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.commit()
    db.close()
    with pytest.raises(StoreError, match=r"schema version 4 is newer than this kiosk's \(3\); update the kiosk"):
        EventStore(path)
    assert user_version(path) == SCHEMA_VERSION + 1


# Version 1 as the kiosk created it (user_version 1): the schema of version 0 plus ``kind``, verbatim.
SCHEMA_V1 = SCHEMA_V0.replace(
    "    crop_path     TEXT               -- face crop\n",
    "    crop_path     TEXT,              -- face crop\n"
    "    kind          TEXT    NOT NULL DEFAULT 'decision'  -- decision | health (decision: granted, denied, ...)\n")


def version_1_database(path) -> None:
    """A version-1 WAL database: the three old events, a health event, a sent alert and a queued one."""
    old_database(path, SCHEMA_V1, (
        "INSERT INTO events (kind, time, epoch, day, kiosk_id, decision, label, score, faces, policy_note)"
        " VALUES ('health', '2026-11-20T08:03:00.000+01:00', 1795158180.0, '2026-11-20', 'old-door',"
        " 'health', 'database-replaced', 0, 0, 'a note')",
        "INSERT INTO outbox (kind, event_id, state, created_at) VALUES ('alert', 4, 'pending', 2.0)",
        "PRAGMA user_version = 1"))


def test_a_version_1_database_is_migrated_with_camera_as_the_source_of_its_events(tmp_path):
    path = tmp_path / "events.sqlite3"
    version_1_database(path)
    assert user_version(path) == 1 and "source" not in columns(path) and columns(path)[-1] == "kind"
    store = EventStore(path)
    events = store.events()
    # every row kept as it was, each now with the source its events came from: the door camera
    assert [(e.id, e.kind, e.decision, e.label, e.snapshot_path, e.alert_state) for e in events] == [
        (1, "decision", "granted", "with_mask", None, "none"),
        (2, "decision", "denied", "without_mask", "/s/1.jpg", "sent"),
        (3, "decision", "granted", "without_mask", None, "none"),
        (4, "health", "health", "database-replaced", None, "pending")]
    assert {e.source for e in events} == {MIGRATED_SOURCE} == {"camera"}
    assert [(p.event_id, p.kind) for p in store.pending()] == [(4, "alert")]  # the queued alert still goes out
    assert store.decision_counts(date(2026, 11, 20)) == {"granted": 2, "denied": 1}
    # from now on an id is never handed out twice, not even the newest one after it was deleted
    when = datetime.fromisoformat("2026-11-20T08:05:00+01:00")
    new_id, _ = store.record_health(when, "old-door", "camera-offline", "a note", alert=False, source="demo")
    assert new_id == 5 and store.event(new_id).source == "demo"
    assert store.delete_event(new_id)[0].id == 5 and store.event(5) is None
    assert store.record_health(when, "old-door", "camera-back", "a note", alert=False)[0] == 6
    assert store.decision_counts(date(2026, 11, 20)) == {"granted": 2, "denied": 1}
    store.close()
    assert user_version(path) == SCHEMA_VERSION == 3
    fresh = tmp_path / "fresh.sqlite3"
    EventStore(fresh).close()
    assert columns(path) == columns(fresh)
    db = sqlite3.connect(path)
    try:
        assert db.execute("PRAGMA foreign_key_check").fetchall() == []  # the outbox still points at its events
        # a kiosk of version 1 still running while a newer command migrated its file keeps recording
        db.execute("INSERT INTO events (time, epoch, day, kiosk_id, decision, label, score, faces, policy_note,"
                   " snapshot_path, crop_path) VALUES (?,?,?,?,?,?,?,?,?,?,?)", OLD_EVENTS[0][:3] + ("old-door",)
                   + OLD_EVENTS[0][3:])
        assert db.execute("SELECT id, source FROM events ORDER BY id DESC LIMIT 1").fetchone() == (7, "camera")
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert sorted(r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'index'"
                                               " AND name NOT LIKE 'sqlite_%'")) == [
            "deliveries_out_due", "deliveries_sent", "events_day", "events_epoch", "outbox_state"]
    finally:
        db.close()


def test_a_failed_migration_leaves_the_version_1_file_as_it_was(tmp_path, monkeypatch):
    path = tmp_path / "events.sqlite3"
    version_1_database(path)
    steps = dict(store_module.MIGRATIONS)
    steps[2] = (*steps[2], "SELECT no_such_function()")  # fails after the rows have moved
    monkeypatch.setattr(store_module, "MIGRATIONS", steps)
    with pytest.raises(StoreError):
        EventStore(path)
    assert user_version(path) == 1 and "source" not in columns(path)
    db = sqlite3.connect(path)
    try:
        assert db.execute("SELECT count(*) FROM events").fetchone()[0] == 4
    finally:
        db.close()


def test_a_version_2_database_gains_the_outbox_of_mqtt_messages_and_webhook_posts(tmp_path):
    path = tmp_path / "events.sqlite3"
    store = EventStore(path)
    when = datetime.fromisoformat("2026-11-20T08:05:00+01:00")
    store.record_health(when, "old-door", "camera-offline", "a note", alert=True)
    store.close()
    db = sqlite3.connect(path)  # as version 2 left it: no deliveries_out
    db.executescript("DROP TABLE deliveries_out; PRAGMA user_version = 2;")
    db.close()
    store = EventStore(path)
    assert user_version(path) == 3 and [p.kind for p in store.pending()] == ["alert"]
    assert store.outgoing_counts() == {}
    store.close()
    EventStore(tmp_path / "fresh.sqlite3").close()
    assert columns(path, "deliveries_out") == columns(tmp_path / "fresh.sqlite3", "deliveries_out") != []
