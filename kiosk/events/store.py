"""The kiosk's durable memory: decision events and the email outbox in one SQLite file.

Why one file and one transaction: an event row and its alert row are written together, so after
a crash (even ``kill -9`` or power loss, thanks to WAL + ``synchronous=FULL``) either both exist
or neither does, and an alert that exists is never forgotten.

Outbox protocol (at-least-once, see ``claim`` / ``mark_sent`` / ``release`` / ``recover``):
pending --claim--> sending --mark_sent--> sent;  sending --release (SMTP failed)--> pending.
``recover`` turns rows left in ``sending`` by a crashed process back into pending.
Guarantee: at-least-once, and exactly once except in two windows where one email can go out
twice: (1) the process dies after the SMTP server accepted the message (250 after DATA) and
before ``mark_sent`` committed (milliseconds); (2) the connection breaks after the server
accepted the message but before its 250 reply reached us (inherent to SMTP). A retried email
of the same alerts carries the same Message-ID, so mail systems can spot the duplicate. Every
other crash or outage loses and repeats nothing. Only one process at a time runs the sender
for a database (``SenderLock``).

Integrity: opening a store first checks the file without writing to it (``check_database``: a
zero-byte file, a header that is not SQLite's, ``PRAGMA quick_check``) and raises
``DatabaseDamaged`` rather than build on a broken file or turn it into a new empty one. The
kiosk then moves it aside (``move_aside``) and starts a fresh log; read-only commands refuse it.
A new database appears under its name complete (built under a temporary name, then linked), so a
zero-byte file there is never one that is still being created. The schema is versioned with
``PRAGMA user_version`` and older files are migrated in place (``MIGRATIONS``).

Outgoing messages (``deliveries_out``: MQTT and webhooks, ``kiosk.outputs``) are queued in the
same transaction as their event (``record_event(..., outgoing=...)``), so they survive an outage
and a ``kill -9`` like the alerts. Their protocol is simpler than the email's: a row is pending
until its channel's sender saw it delivered (``delivered``); a failure keeps it pending with a
later ``next_attempt_at`` (``retry_later``). Which rows are on the wire is the sender's memory,
not the database's, so a crash leaves nothing to recover: every row not yet marked delivered goes
out again (at least once; each payload carries an id for receivers to drop duplicates).
"""

from __future__ import annotations

import fcntl
import logging
import os
import sqlite3
import threading
import time
import uuid
from dataclasses import dataclass, fields
from datetime import date, datetime
from pathlib import Path
from typing import Any, Callable, Collection, Iterable, Optional, Sequence, TypeVar

from kiosk.errors import KioskError, one_line_reason
from kiosk.records import DEMO_SOURCE, DecisionEvent, StoredEvent

log = logging.getLogger(__name__)

# The events table; ``{table}`` is "events", or the new table a migration copies the rows into.
EVENTS_TABLE = """
CREATE TABLE IF NOT EXISTS {table} (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused, even after a delete
    time          TEXT    NOT NULL,  -- ISO 8601 with UTC offset, as the kiosk saw it
    epoch         REAL    NOT NULL,  -- same instant, seconds since 1970, for ordering and windows
    day           TEXT    NOT NULL,  -- local calendar day YYYY-MM-DD (reports, 'today')
    kiosk_id      TEXT    NOT NULL,
    decision      TEXT    NOT NULL,  -- granted | denied | uncertain | health
    label         TEXT    NOT NULL,
    score         REAL    NOT NULL,
    faces         INTEGER NOT NULL,
    policy_note   TEXT    NOT NULL DEFAULT '',
    snapshot_path TEXT,              -- annotated frame (NULL: privacy, a grant, no frame, or cleaned up)
    crop_path     TEXT,              -- face crop
    kind          TEXT    NOT NULL DEFAULT 'decision',  -- decision | health (decision: granted, denied, ...)
    source        TEXT    NOT NULL DEFAULT 'camera'  -- camera | stream | file | folder | demo (default: see MIGRATED_SOURCE)
)"""
EVENTS_COLUMNS = ("id, time, epoch, day, kiosk_id, decision, label, score, faces, policy_note, snapshot_path,"
                  " crop_path, kind")  # those before version 2, copied by its migration

SCHEMA = EVENTS_TABLE.format(table="events") + """;
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

CREATE TABLE IF NOT EXISTS deliveries_out (
    id              INTEGER PRIMARY KEY,
    channel         TEXT    NOT NULL,    -- mqtt | webhook
    target          TEXT    NOT NULL,    -- MQTT topic or webhook URL
    payload         TEXT    NOT NULL,    -- JSON, with the id receivers drop duplicates by
    event_id        INTEGER REFERENCES events(id),
    state           TEXT    NOT NULL DEFAULT 'pending',  -- pending | sent
    created_at      REAL    NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,  -- failed attempts
    next_attempt_at REAL    NOT NULL DEFAULT 0,  -- epoch seconds, 0: at once
    last_error      TEXT,
    sent_at         REAL
);
CREATE INDEX IF NOT EXISTS deliveries_out_due ON deliveries_out(channel, state, next_attempt_at);
"""

# How far each copier (kiosk.fleet.sync) has copied the events elsewhere: the id of its last event
# copied, moved on only after the copy is committed there. Apart from SCHEMA: made on first use.
COPY_MARKS_TABLE = "CREATE TABLE IF NOT EXISTS copy_marks (name TEXT PRIMARY KEY, event_id INTEGER NOT NULL)"

SCHEMA_VERSION = 3  # PRAGMA user_version of a database with SCHEMA; 0: created before versioning
# Events recorded before version 2 did not say where their frames came from. They get 'camera':
# a kiosk's log is its door camera's, those events were counted, reported and emailed as real
# ones when they happened, and 'demo' would now drop real denials from reports and counts
# (the demo cannot be told apart afterwards; a guess must err on the side of keeping them).
# The column's default says the same for a kiosk of the previous version still running while a
# newer command migrates its file: its events keep being recorded rather than refused.
MIGRATED_SOURCE = "camera"
# The steps from version N-1 to N, for tables that already exist; SCHEMA then adds whatever is missing.
MIGRATIONS: dict[int, tuple[str, ...]] = {
    1: ("ALTER TABLE events ADD COLUMN kind TEXT NOT NULL DEFAULT 'decision'",),  # health events
    # the source of each event, and ids that are never reused (AUTOINCREMENT): a deleted
    # person's id, quoted in an old email or report, must never come to name someone else.
    # SQLite adds neither to an existing table: the rows move to a new one, which takes the name.
    2: (EVENTS_TABLE.format(table="events_v2"),
        f"INSERT INTO events_v2 ({EVENTS_COLUMNS}, source) SELECT {EVENTS_COLUMNS}, '{MIGRATED_SOURCE}' FROM events",
        "DROP TABLE events",
        "ALTER TABLE events_v2 RENAME TO events"),
    3: (),  # deliveries_out, the MQTT and webhook outbox: a new table, which SCHEMA adds
}
SQLITE_MAGIC = b"SQLite format 3\x00"
SIDE_FILES = ("-wal", "-shm")  # SQLite's companions of a WAL database, named after it

# Every event column plus its alert state; ``StoredEvent`` is what callers get from these rows.
EVENTS_SQL = (
    "SELECT e.*, CASE WHEN o.id IS NULL THEN 'none'"
    " WHEN o.state = 'pending' AND o.repeat = 1 THEN 'pending-repeat'"
    " ELSE o.state END AS alert_state, o.delivery_id AS delivery_id"
    " FROM events e LEFT JOIN outbox o ON o.event_id = e.id"
)

# The newest alert about a decision that led its own email: the cooldown counts from it (health
# alerts never start or join a cooldown).
LAST_LEADING_ALERT_SQL = (
    "SELECT e.epoch FROM outbox o JOIN events e ON e.id = o.event_id"
    " WHERE o.kind = 'alert' AND o.repeat = 0 AND e.kind = 'decision' ORDER BY o.id DESC LIMIT 1"
)

_Record = TypeVar("_Record")


class StoreError(KioskError):
    """The event database cannot be opened or used; the message is one line."""


class DatabaseDamaged(StoreError):
    """The file is not a sound SQLite database: empty, not SQLite at all, or failing quick_check."""

    def __init__(self, path: Path, problem: str) -> None:
        super().__init__(f"{path} is damaged ({problem})")
        self.path = path
        self.problem = problem


def check_database(path: Path) -> Optional[str]:
    """What is wrong with the database file at ``path``, in a few words; None if it looks sound or
    does not exist yet. Never writes: no file is created, changed or removed.

    Raises ``StoreError`` when the file cannot be read at all (permissions, locked): that is not damage.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
        if size == 0:
            return "empty file, 0 bytes"
        with open(path, "rb") as f:
            header = f.read(100)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise StoreError(f"cannot read event database {path}: {exc.strerror or exc}") from None
    if not header.startswith(SQLITE_MAGIC):
        return "not an SQLite database: its header is not 'SQLite format 3'"
    if len(header) < 100:
        return f"truncated: {len(header)} bytes, less than an SQLite header"
    # read-only; with no -wal (nor rollback journal) nobody is writing it and nothing is left to replay, and
    # immutable keeps SQLite from creating -wal/-shm files next to it
    quiet = not any(os.path.lexists(f"{path}{suffix}") for suffix in ("-wal", "-journal"))
    uri = f"{path.absolute().as_uri()}?mode=ro" + ("&immutable=1" if quiet else "")
    try:
        db = sqlite3.connect(uri, uri=True, timeout=10)
        try:
            problems = [row[0] for row in db.execute("PRAGMA quick_check")]
        finally:
            db.close()
    except sqlite3.DatabaseError as exc:
        if getattr(exc, "sqlite_errorname", "") in ("SQLITE_CORRUPT", "SQLITE_NOTADB"):
            return f"quick_check: {one_line_reason(exc)}"
        raise StoreError(f"cannot check event database {path}: {one_line_reason(exc)}") from None
    if problems == ["ok"]:
        return None
    # a row may hold many lines, under headings like "*** in database main ***"
    lines = [line.strip() for row in problems for line in str(row).splitlines()]
    lines = [line for line in lines if line and not line.startswith("***")] or ["not ok"]
    more = f" and {len(lines) - 1} more problems" if len(lines) > 1 else ""
    return f"quick_check: {lines[0][:160]}{more}"


def move_aside(path: Path, now: Optional[datetime] = None) -> Path:
    """Rename a damaged database (and its -wal/-shm files) to ``<name>.corrupt-YYYYmmdd-HHMMSS``.

    Nothing is deleted or overwritten. The side files go first: a -wal left behind would be
    replayed into the fresh database that takes the name.
    """
    path = Path(path)
    stem = f"{path.name}.corrupt-{(now or datetime.now()):%Y%m%d-%H%M%S}"
    aside, n = path.with_name(stem), 1
    while any(os.path.lexists(f"{aside}{suffix}") for suffix in ("", *SIDE_FILES)):
        n += 1
        aside = path.with_name(f"{stem}-{n}")
    try:
        for suffix in (*SIDE_FILES, ""):
            if os.path.lexists(f"{path}{suffix}"):
                os.rename(f"{path}{suffix}", f"{aside}{suffix}")
    except OSError as exc:
        raise StoreError(f"cannot move the damaged event database {path} aside: {exc.strerror or exc}") from None
    return aside


def _create_database(path: Path) -> None:
    """Build an empty database with SCHEMA under a temporary name, then give it ``path`` atomically.

    If another process created ``path`` meanwhile, its database is kept and ours is dropped.
    """
    temporary = path.with_name(f".{path.name}.new-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    try:
        db = sqlite3.connect(str(temporary), isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            _migrate(db)
        finally:
            db.close()  # the last connection checkpoints: everything is in the main file now
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass
        except OSError:  # a file system without hard links
            if not os.path.lexists(path):
                os.rename(temporary, path)
    finally:
        for suffix in ("", *SIDE_FILES):
            Path(f"{temporary}{suffix}").unlink(missing_ok=True)


def _statements(script: str) -> list[str]:
    return [statement for statement in script.split(";") if statement.strip()]


def _migrate(db: sqlite3.Connection) -> None:
    """Bring the schema to SCHEMA_VERSION in one transaction (a no-op, and no write, when it is)."""
    if db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION:
        return
    db.execute("BEGIN IMMEDIATE")
    try:
        version = db.execute("PRAGMA user_version").fetchone()[0]  # again: another process may have migrated
        if version > SCHEMA_VERSION:
            raise StoreError(f"schema version {version} is newer than this kiosk's ({SCHEMA_VERSION});"
                             " update the kiosk software")
        if db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'events'").fetchone():
            for step in range(version + 1, SCHEMA_VERSION + 1):
                for statement in MIGRATIONS[step]:
                    db.execute(statement)
        for statement in _statements(SCHEMA):
            db.execute(statement)
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


@dataclass(frozen=True)
class OutboxItem:
    """One queued email: an alert about an event, or a daily report."""

    id: int
    kind: str
    event_id: Optional[int]
    report_day: Optional[str]
    repeat: bool
    attempts: int


@dataclass(frozen=True)
class OutboxRow:
    """A queued email as the admin panel lists it."""

    id: int
    kind: str  # alert | report
    attempts: int
    last_error: Optional[str]
    event_time: Optional[str]  # ISO time of the alert's event; None for a report
    report_day: Optional[str]  # YYYY-MM-DD of a report; None for an alert


@dataclass(frozen=True)
class Outgoing:
    """A message to queue with its event: on ``channel`` (mqtt | webhook) to ``target`` (topic or URL)."""

    channel: str
    target: str
    payload: str  # JSON text


# What to queue with an event, given the id the event row got (payloads carry it).
OutgoingFor = Callable[[int], Iterable[Outgoing]]


@dataclass(frozen=True)
class OutgoingRow:
    """A queued MQTT message or webhook post, as its sender reads it."""

    id: int
    channel: str
    target: str
    payload: str
    event_id: Optional[int]
    attempts: int


@dataclass(frozen=True)
class Delivery:
    """An email the SMTP server accepted, and how many outbox rows it carried."""

    id: int
    kind: str  # alert | digest | report
    message_id: str
    sent_at: float
    alert_count: int


def _from_row(record: type[_Record], row: sqlite3.Row) -> _Record:
    """The typed record of ``row``, read by field name: extra columns are ignored, a missing one raises."""
    return record(**{f.name: row[f.name] for f in fields(record)})


def _local_day(moment: datetime) -> str:
    return moment.date().isoformat()


class EventStore:
    """Thread-safe access to the event/outbox database (one connection guarded by a lock).

    SQLite work is milliseconds, so a lock is simpler than a connection per thread; SMTP and
    image work always happen outside it.
    """

    def __init__(self, path: Path) -> None:
        """Open (or create) the database; ``DatabaseDamaged`` if the file is not sound, untouched then."""
        self.path = Path(path)
        problem = check_database(self.path)
        if problem is not None:
            raise DatabaseDamaged(self.path, problem)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if not os.path.lexists(self.path):
                _create_database(self.path)
            self._db = sqlite3.connect(str(self.path), timeout=10, check_same_thread=False, isolation_level=None)
            self._db.row_factory = sqlite3.Row
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")  # an acknowledged alert survives power loss
            _migrate(self._db)  # before foreign keys: a migration may move the events to a new table
            self._db.execute("PRAGMA foreign_keys=ON")
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"cannot open event database {self.path}: {one_line_reason(exc)}") from None
        self._lock = threading.Lock()
        self._copy_marks_ready = False

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # --- low level -----------------------------------------------------------------------

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return self._db.execute(sql, params).fetchall()

    def _transaction(self, work) -> Any:
        """Run ``work(db)`` inside BEGIN IMMEDIATE ... COMMIT (rolled back on any error)."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                result = work(self._db)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
            return result

    # --- events ----------------------------------------------------------------------------

    def record_event(self, event: DecisionEvent, snapshot_path: Optional[str], crop_path: Optional[str],
                     alert: bool, cooldown_s: float,
                     outgoing: Optional[OutgoingFor] = None) -> tuple[int, Optional[int], bool]:
        """Store one decision episode, if ``alert`` its outbox row, and the messages ``outgoing(event id)``
        gives (``deliveries_out``), atomically.

        An alert within ``cooldown_s`` of the previous leading alert is stored as a *repeat*:
        it never triggers an email itself and is listed in the next email that goes out.
        Returns (event id, outbox id or None, whether the alert is a repeat).
        """
        epoch = event.time.timestamp()

        def work(db: sqlite3.Connection) -> tuple[int, Optional[int], bool]:
            cur = db.execute(
                "INSERT INTO events (time, epoch, day, kiosk_id, decision, label, score, faces, policy_note,"
                " snapshot_path, crop_path, source) VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
                (event.time.isoformat(timespec="milliseconds"), epoch, _local_day(event.time), event.kiosk_id,
                 event.decision, event.label, float(event.score), int(event.faces), event.policy_note,
                 snapshot_path, crop_path, event.source),
            )
            event_id = int(cur.lastrowid)
            _queue_outgoing(db, event_id, outgoing)
            if not alert:
                return event_id, None, False
            last_lead = db.execute(LAST_LEADING_ALERT_SQL).fetchone()
            repeat = last_lead is not None and cooldown_s > 0 and 0 <= epoch - last_lead[0] < cooldown_s
            cur = db.execute(
                "INSERT INTO outbox (kind, event_id, repeat, state, created_at) VALUES ('alert', ?, ?, 'pending', ?)",
                (event_id, int(repeat), time.time()))
            return event_id, int(cur.lastrowid), repeat

        return self._transaction(work)

    def record_health(self, when: datetime, kiosk_id: str, what: str, note: str, alert: bool,
                      source: str = "camera", outgoing: Optional[OutgoingFor] = None) -> tuple[int, Optional[int]]:
        """Store a ``health`` event (the kiosk itself, not a visitor), if ``alert`` its outbox row, and the
        messages ``outgoing(event id)`` gives, atomically.

        ``what`` is a short name (the listing's label column), ``note`` the sentence for people,
        ``source`` the kind of source the kiosk was running on.
        Its alert always leads an email of its own: it is never a cooldown repeat, nor makes one.
        Returns (event id, outbox id or None).
        """
        def work(db: sqlite3.Connection) -> tuple[int, Optional[int]]:
            cur = db.execute(
                "INSERT INTO events (kind, time, epoch, day, kiosk_id, decision, label, score, faces, policy_note,"
                " source) VALUES ('health', ?, ?, ?, ?, 'health', ?, 0, 0, ?, ?)",
                (when.isoformat(timespec="milliseconds"), when.timestamp(), _local_day(when), kiosk_id, what, note,
                 source))
            event_id = int(cur.lastrowid)
            _queue_outgoing(db, event_id, outgoing)
            if not alert:
                return event_id, None
            cur = db.execute("INSERT INTO outbox (kind, event_id, repeat, state, created_at)"
                             " VALUES ('alert', ?, 0, 'pending', ?)", (event_id, time.time()))
            return event_id, int(cur.lastrowid)

        return self._transaction(work)

    def events(self, since: Optional[datetime] = None, until: Optional[datetime] = None,
               day: Optional[date] = None, limit: Optional[int] = None,
               exclude_sources: Collection[str] = ()) -> list[StoredEvent]:
        """Events oldest first, each with its alert state (none, pending, repeat, sending, sent);
        ``exclude_sources`` leaves out the events of those source kinds (e.g. the demo)."""
        where, params = [], []
        if exclude_sources:
            where.append(f"e.source NOT IN ({','.join('?' * len(exclude_sources))})")
            params.extend(exclude_sources)
        if since is not None:
            where.append("e.epoch >= ?")
            params.append(since.timestamp())
        if until is not None:
            where.append("e.epoch < ?")
            params.append(until.timestamp())
        if day is not None:
            where.append("e.day = ?")
            params.append(day.isoformat())
        sql = EVENTS_SQL
        if where:
            sql += " WHERE " + " AND ".join(where)
        if limit is None:
            rows = self._query(sql + " ORDER BY e.epoch, e.id", params)
        else:
            rows = self._query(sql + " ORDER BY e.epoch DESC, e.id DESC LIMIT ?", (*params, int(limit)))[::-1]
        return [_from_row(StoredEvent, row) for row in rows]

    def event(self, event_id: int) -> Optional[StoredEvent]:
        rows = self.events_by_ids([event_id])
        return rows[0] if rows else None

    def search(self, *, kiosk_id: Optional[str] = None, day: Optional[date] = None, decision: Optional[str] = None,
               label: Optional[str] = None, kind: Optional[str] = None,
               offset: int = 0, limit: int = 50) -> tuple[list[StoredEvent], int]:
        """A page of the events that match every filter given, newest first, and how many match in
        all: the web console's listings."""
        where, params = [], []
        for column, value in (("kiosk_id", kiosk_id), ("day", day.isoformat() if day else None),
                              ("decision", decision), ("label", label), ("kind", kind)):
            if value is not None:
                where.append(f"e.{column} = ?")
                params.append(value)
        clause = f" WHERE {' AND '.join(where)}" if where else ""
        with self._lock:  # one snapshot of the log for the page and its count
            total = self._db.execute(f"SELECT count(*) FROM events e{clause}", params).fetchone()[0]
            rows = self._db.execute(f"{EVENTS_SQL}{clause} ORDER BY e.epoch DESC, e.id DESC LIMIT ? OFFSET ?",
                                    (*params, int(limit), int(offset))).fetchall()
        return [_from_row(StoredEvent, row) for row in rows], int(total)

    def events_by_ids(self, ids: Iterable[int]) -> list[StoredEvent]:
        ids = list(ids)
        if not ids:
            return []
        marks = ",".join("?" * len(ids))
        rows = self._query(f"{EVENTS_SQL} WHERE e.id IN ({marks}) ORDER BY e.epoch, e.id", ids)
        return [_from_row(StoredEvent, row) for row in rows]

    def kiosk_ids(self) -> list[str]:
        """Every kiosk that recorded an event in this log, sorted."""
        return [row["kiosk_id"] for row in self._query("SELECT DISTINCT kiosk_id FROM events ORDER BY kiosk_id", ())]

    def count_by_source(self, since: Optional[datetime] = None) -> dict[str, int]:
        """How many events (since ``since``) each source kind recorded, counted in SQL: the event
        listing says how many demo events it left out without loading them."""
        where, params = ("WHERE epoch >= ?", (since.timestamp(),)) if since is not None else ("", ())
        rows = self._query(f"SELECT source, count(*) AS n FROM events {where} GROUP BY source", params)
        return {row["source"]: int(row["n"]) for row in rows}

    def decision_counts_by_kiosk(self, day: date) -> dict[str, dict[str, int]]:
        """Decisions of ``day`` per kiosk and outcome; demo events never count."""
        rows = self._query("SELECT kiosk_id, decision, count(*) AS n FROM events WHERE day = ? AND kind = 'decision'"
                           " AND source != ? GROUP BY kiosk_id, decision",
                           (day.isoformat(), DEMO_SOURCE))
        counts: dict[str, dict[str, int]] = {}
        for row in rows:
            counts.setdefault(row["kiosk_id"], {})[row["decision"]] = int(row["n"])
        return counts

    def decision_counts(self, day: date) -> dict[str, int]:
        """Decisions of ``day`` per outcome, all kiosks of this log together; demo events never count."""
        total: dict[str, int] = {}
        for per_kiosk in self.decision_counts_by_kiosk(day).values():
            for decision, count in per_kiosk.items():
                total[decision] = total.get(decision, 0) + count
        return total

    def newest_per_kiosk(self) -> dict[str, StoredEvent]:
        """Each kiosk in the log with its newest event, in one query (the console's overview)."""
        rows = self._query(f"{EVENTS_SQL} WHERE e.id IN (SELECT max(id) FROM events GROUP BY kiosk_id)")
        return {event.kiosk_id: event for event in (_from_row(StoredEvent, row) for row in rows)}

    def delete_event(self, event_id: int) -> Optional[tuple[StoredEvent, list[str]]]:
        """Remove one event and every outbox row about it, atomically: queued alerts, MQTT messages and
        webhook posts never go out, and a sent email keeps only its delivery record (message id, time, count: no face, no name).
        Returns (the event as it was, the states of the outbox rows removed); None if there is no
        such event. Its image files are the caller's to delete (``SnapshotStore.delete``)."""
        def work(db: sqlite3.Connection) -> Optional[tuple[StoredEvent, list[str]]]:
            row = db.execute(f"{EVENTS_SQL} WHERE e.id = ?", (event_id,)).fetchone()
            if row is None:
                return None
            states = [r[0] for r in db.execute("SELECT state FROM outbox WHERE event_id = ?", (event_id,))]
            db.execute("DELETE FROM outbox WHERE event_id = ?", (event_id,))
            db.execute("DELETE FROM deliveries_out WHERE event_id = ?", (event_id,))
            db.execute("DELETE FROM events WHERE id = ?", (event_id,))
            return _from_row(StoredEvent, row), states
        return self._transaction(work)

    def forget_snapshots_before(self, day: date) -> int:
        """Clear image paths of events older than ``day`` (their files are being deleted)."""
        def work(db: sqlite3.Connection) -> int:
            return db.execute("UPDATE events SET snapshot_path = NULL, crop_path = NULL WHERE day < ?"
                              " AND (snapshot_path IS NOT NULL OR crop_path IS NOT NULL)",
                              (day.isoformat(),)).rowcount
        return self._transaction(work)

    # --- copies elsewhere (kiosk.fleet.sync) -----------------------------------------------

    def events_after(self, event_id: int, limit: int) -> list[StoredEvent]:
        """Up to ``limit`` events with an id above ``event_id``, in id order.

        Id order is commit order: an id is given inside BEGIN IMMEDIATE, which holds the one write
        lock until COMMIT, so no event ever appears below an id a reader has already passed.
        """
        rows = self._query(f"{EVENTS_SQL} WHERE e.id > ? ORDER BY e.id LIMIT ?", (int(event_id), int(limit)))
        return [_from_row(StoredEvent, row) for row in rows]

    def copy_mark(self, name: str) -> int:
        """The id of the last event copied to ``name`` (e.g. "fleet"); 0 when none was yet."""
        self._ensure_copy_marks()
        rows = self._query("SELECT event_id FROM copy_marks WHERE name = ?", (name,))
        return int(rows[0][0]) if rows else 0

    def set_copy_mark(self, name: str, event_id: int) -> None:
        """Every event up to ``event_id`` is copied to ``name``; a mark never moves back (two copiers
        of one file may finish out of order)."""
        self._ensure_copy_marks()

        def work(db: sqlite3.Connection) -> None:
            db.execute("INSERT INTO copy_marks (name, event_id) VALUES (?, ?) ON CONFLICT (name)"
                       " DO UPDATE SET event_id = max(event_id, excluded.event_id)", (name, int(event_id)))
        self._transaction(work)

    def _ensure_copy_marks(self) -> None:
        """The marks' table, made the first time a copier asks (a kiosk without one never has it)."""
        if not self._copy_marks_ready:
            with self._lock:
                self._db.execute(COPY_MARKS_TABLE)
            self._copy_marks_ready = True

    # --- outbox ----------------------------------------------------------------------------

    def enqueue_report(self, day: date) -> int:
        def work(db: sqlite3.Connection) -> int:
            cur = db.execute("INSERT INTO outbox (kind, report_day, state, created_at) VALUES ('report', ?, 'pending', ?)",
                             (day.isoformat(), time.time()))
            return int(cur.lastrowid)
        return self._transaction(work)

    def report_queued(self, day: date) -> bool:
        return bool(self._query("SELECT 1 FROM outbox WHERE kind = 'report' AND report_day = ?", (day.isoformat(),)))

    def pending(self) -> list[OutboxItem]:
        rows = self._query("SELECT * FROM outbox WHERE state = 'pending' ORDER BY id")
        return [OutboxItem(r["id"], r["kind"], r["event_id"], r["report_day"], bool(r["repeat"]), r["attempts"])
                for r in rows]

    def outbox_counts(self) -> dict[str, int]:
        """Rows per state; ``repeats`` are pending cooldown repeats, which wait for the next alert email."""
        rows = self._query("SELECT CASE WHEN state = 'pending' AND repeat = 1 THEN 'repeats' ELSE state END AS s,"
                           " count(*) AS n FROM outbox GROUP BY s")
        counts = {"pending": 0, "repeats": 0, "sending": 0, "sent": 0, "failed": 0}
        counts.update({r["s"]: int(r["n"]) for r in rows})
        return counts

    def outbox_rows(self, states: Sequence[str] = ("pending", "sending"), limit: int = 200) -> list[OutboxRow]:
        marks = ",".join("?" * len(states))
        return [_from_row(OutboxRow, r) for r in self._query(
            f"SELECT o.*, e.time AS event_time FROM outbox o"
            f" LEFT JOIN events e ON e.id = o.event_id WHERE o.state IN ({marks}) ORDER BY o.id LIMIT ?",
            (*states, limit))]

    def claim(self, ids: Sequence[int]) -> Optional[str]:
        """Mark pending rows as being sent by us; returns the claim token, or None if none were pending."""
        token = uuid.uuid4().hex
        marks = ",".join("?" * len(ids))

        def work(db: sqlite3.Connection) -> int:
            return db.execute(f"UPDATE outbox SET state = 'sending', claim = ? WHERE state = 'pending' AND id IN ({marks})",
                              (token, *ids)).rowcount
        return token if ids and self._transaction(work) else None

    def mark_sent(self, token: str, kind: str, message_id: str, sent_at: float) -> int:
        """Record a delivered email and every row it carried, in one transaction."""
        def work(db: sqlite3.Connection) -> int:
            count = db.execute("SELECT count(*) FROM outbox WHERE claim = ?", (token,)).fetchone()[0]
            cur = db.execute("INSERT INTO deliveries (kind, message_id, sent_at, alert_count) VALUES (?,?,?,?)",
                             (kind, message_id, sent_at, count))
            delivery_id = int(cur.lastrowid)
            db.execute("UPDATE outbox SET state = 'sent', claim = NULL, delivery_id = ?, attempts = attempts + 1"
                       " WHERE claim = ?", (delivery_id, token))
            return delivery_id
        return self._transaction(work)

    def fail(self, token: str, error: str) -> None:
        """A report email that cannot even be composed: give up on it (terminal), keep the reason."""
        def work(db: sqlite3.Connection) -> None:
            db.execute("UPDATE outbox SET state = 'failed', claim = NULL, attempts = attempts + 1, last_error = ?"
                       " WHERE claim = ?", (error, token))
        self._transaction(work)

    def release(self, token: str, error: str) -> None:
        """The send failed: the rows go back to pending, with the reason kept for the admin panel."""
        def work(db: sqlite3.Connection) -> None:
            db.execute("UPDATE outbox SET state = 'pending', claim = NULL, attempts = attempts + 1, last_error = ?"
                       " WHERE claim = ?", (error, token))
        self._transaction(work)

    def recover(self) -> int:
        """Rows a crashed sender left in 'sending' go back to pending (the duplicate window)."""
        def work(db: sqlite3.Connection) -> int:
            return db.execute("UPDATE outbox SET state = 'pending', claim = NULL WHERE state = 'sending'").rowcount
        return self._transaction(work)

    # --- MQTT and webhook outbox (deliveries_out) ------------------------------------------

    def due_outgoing(self, channel: str, now: float, limit: int, skip_ids: Collection[int] = (),
                     skip_targets: Collection[str] = ()) -> list[OutgoingRow]:
        """Pending rows of ``channel`` whose next attempt is due, oldest first, leaving out the rows
        ``skip_ids`` (on the wire) and those to ``skip_targets`` (backing off)."""
        where, params = ["channel = ?", "state = 'pending'", "next_attempt_at <= ?"], [channel, now]
        for column, values in (("id", skip_ids), ("target", skip_targets)):
            if values:
                where.append(f"{column} NOT IN ({','.join('?' * len(values))})")
                params.extend(values)
        rows = self._query(f"SELECT * FROM deliveries_out WHERE {' AND '.join(where)} ORDER BY id LIMIT ?",
                           (*params, int(limit)))
        return [_from_row(OutgoingRow, row) for row in rows]

    def next_outgoing_due(self, channel: str, skip_targets: Collection[str] = ()) -> Optional[float]:
        """When the earliest pending row of ``channel`` (not to ``skip_targets``) is due; None: none pending."""
        where, params = "channel = ? AND state = 'pending'", [channel]
        if skip_targets:
            where += f" AND target NOT IN ({','.join('?' * len(skip_targets))})"
            params.extend(skip_targets)
        row = self._query(f"SELECT min(next_attempt_at) FROM deliveries_out WHERE {where}", params)
        return None if row[0][0] is None else float(row[0][0])

    def delivered(self, ids: Collection[int], when: float) -> int:
        """The receivers have these rows (PUBACK, a 2xx answer): they never go out again."""
        if not ids:
            return 0
        marks = ",".join("?" * len(ids))
        return self._transaction(lambda db: db.execute(
            f"UPDATE deliveries_out SET state = 'sent', sent_at = ? WHERE state = 'pending' AND id IN ({marks})",
            (when, *ids)).rowcount)

    def retry_later(self, row_id: int, error: str, at: float) -> None:
        """A failed attempt: the row stays pending until ``at`` (epoch seconds), the reason kept."""
        self._transaction(lambda db: db.execute(
            "UPDATE deliveries_out SET attempts = attempts + 1, last_error = ?, next_attempt_at = ?"
            " WHERE id = ? AND state = 'pending'", (error, at, row_id)))

    def outgoing_counts(self) -> dict[str, dict[str, int]]:
        """Rows per channel and state, e.g. {"mqtt": {"pending": 3, "sent": 120}}."""
        counts: dict[str, dict[str, int]] = {}
        for row in self._query("SELECT channel, state, count(*) AS n FROM deliveries_out GROUP BY channel, state"):
            counts.setdefault(row["channel"], {})[row["state"]] = int(row["n"])
        return counts

    def forget_delivered(self, before: float) -> int:
        """Drop rows delivered before ``before`` (epoch seconds): the event row keeps what happened."""
        return self._transaction(lambda db: db.execute(
            "DELETE FROM deliveries_out WHERE state = 'sent' AND sent_at < ?", (before,)).rowcount)

    def last_leading_alert_epoch(self) -> Optional[float]:
        """When the event of the newest leading (non-repeat) alert happened; None if none yet."""
        row = self._query(LAST_LEADING_ALERT_SQL)
        return float(row[0][0]) if row else None

    def alert_deliveries_since(self, epoch: float) -> list[float]:
        """Send times of alert/digest emails since ``epoch`` (the hourly cap counts these)."""
        rows = self._query("SELECT sent_at FROM deliveries WHERE kind IN ('alert', 'digest') AND sent_at >= ?"
                           " ORDER BY sent_at", (epoch,))
        return [float(r["sent_at"]) for r in rows]

    def deliveries(self) -> list[Delivery]:
        return [_from_row(Delivery, r) for r in self._query("SELECT * FROM deliveries ORDER BY id")]


def _queue_outgoing(db: sqlite3.Connection, event_id: Optional[int], outgoing: Optional[OutgoingFor]) -> list[int]:
    if outgoing is None:
        return []
    now = time.time()
    return [int(db.execute("INSERT INTO deliveries_out (channel, target, payload, event_id, created_at)"
                           " VALUES (?,?,?,?,?)", (m.channel, m.target, m.payload, event_id, now)).lastrowid)
            for m in outgoing(event_id)]


class SenderLock:
    """An exclusive lock file next to the database: only one process sends its outbox (or, with
    ``name``, one channel of ``deliveries_out``: "mqtt", "webhook").

    ``flock`` is released by the kernel when the holder dies, even on ``kill -9``.
    """

    def __init__(self, db_path: Path, name: str = "sender") -> None:
        self.path = Path(f"{db_path}.{name}.lock")
        self._fd: Optional[int] = None

    def acquire(self) -> bool:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
