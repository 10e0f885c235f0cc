"""The fleet's PostgreSQL store: kiosks write their events into it, the web console reads them.

Writes (``store_events``, ``heartbeat``) come from each kiosk's ``FleetSync``; an event is keyed
by (kiosk_id, event_id) and stored with ``INSERT ... ON CONFLICT DO NOTHING``, so copying it again
after a crash or an outage changes nothing. An event deleted on a privacy request leaves its key
in ``deleted_events`` and a trigger refuses it from then on.
Reads implement ``kiosk.web.data.ConsoleData``. Every failure is a ``FleetError`` with a one-line
message; a broken connection is dropped and the next call opens a new one (a read tries once more
at once, so the console rides over a server restart). The schema is migrated on first connection.
Connection strings with a password are never logged: messages name the server as ``where``.
"""

from __future__ import annotations

import getpass
import logging
import threading
from datetime import date, datetime, timedelta, timezone
from typing import Any, Callable, Optional, Sequence, TypeVar

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from kiosk.config import DECISION_KINDS as DECISIONS, FleetSection, redacted_url
from kiosk.credentials import FLEET_ENV_VAR
from kiosk.errors import KioskError, one_line_reason
from kiosk.fleet.schema import SchemaError, migrate
from kiosk.records import DEMO_SOURCE, StoredEvent
from kiosk.web.data import ConsoleEvent, EventFilter, KioskSummary

log = logging.getLogger(__name__)

ONLINE_WINDOW_S = 90.0  # a kiosk heard from within this is online (it beats every HEARTBEAT_S of kiosk.fleet.sync)
EVENT_KINDS = ("decision", "health", "any")
# libpq settings unless the URL gives its own: a dead server or a cut cable is noticed in seconds,
# not after the operating system's two hours of TCP keepalive
CONNECT_DEFAULTS = {"connect_timeout": 5, "keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 5,
                    "keepalives_count": 3, "tcp_user_timeout": 15000, "application_name": "mask-kiosk"}

EVENT_COLUMNS = ("kiosk_id, event_id, time, tz_offset_s, day, epoch, kind, decision, label, score, faces, source,"
                 " note, thumbnail")
INSERT_EVENT = (f"INSERT INTO events ({EVENT_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
                " ON CONFLICT (kiosk_id, event_id) DO NOTHING")
UPSERT_KIOSK = ("INSERT INTO kiosks (kiosk_id, last_seen, camera_state) VALUES (%s, now(), %s)"
                " ON CONFLICT (kiosk_id) DO UPDATE SET last_seen = excluded.last_seen,"
                " camera_state = excluded.camera_state")
CONSOLE_COLUMNS = ("kiosk_id, event_id, time, tz_offset_s, kind, decision, label, score, source, note,"
                   " thumbnail IS NOT NULL AS has_snapshot")
NEWEST_FIRST = "ORDER BY epoch DESC, kiosk_id, event_id DESC"

_Result = TypeVar("_Result")


class FleetError(KioskError):
    """The fleet store cannot be reached or used; the message is one line and holds no password."""


def fleet_conninfo(settings: FleetSection, password: Optional[str]) -> str:
    """The libpq connection string for ``[fleet] database_url`` with ``password`` and CONNECT_DEFAULTS. Never log it."""
    try:
        given = conninfo_to_dict(settings.database_url)
    except psycopg.ProgrammingError as exc:
        raise FleetError(f"[fleet] database_url {redacted_url(settings.database_url)}: {one_line_reason(exc)}") from None
    extra: dict[str, Any] = {key: value for key, value in CONNECT_DEFAULTS.items() if key not in given}
    if password:
        extra["password"] = password
    return make_conninfo(settings.database_url, **extra)


def database_user(settings: FleetSection) -> str:
    """Who the kiosk logs in as: the URL's user, else (like libpq) the operating system's."""
    return str(conninfo_to_dict(settings.database_url).get("user") or getpass.getuser())


def _local_time(moment: datetime, offset_s: int) -> datetime:
    return moment.astimezone(timezone(timedelta(seconds=offset_s)))


def _console_event(row: Sequence[Any]) -> ConsoleEvent:
    kiosk_id, event_id, moment, offset_s, kind, decision, label, score, source, note, has_snapshot = row
    return ConsoleEvent(kiosk_id=kiosk_id, event_id=int(event_id), time=_local_time(moment, offset_s), kind=kind,
                        decision=decision, label=label, score=float(score), source=source, note=note,
                        has_snapshot=bool(has_snapshot))


def _event_row(event: StoredEvent, thumbnail: Optional[bytes]) -> tuple:
    """The ``events`` columns of one event of the local log (EVENT_COLUMNS order)."""
    moment = datetime.fromisoformat(event.time)
    offset = moment.utcoffset()
    offset_s = int(offset.total_seconds()) if offset is not None else 0
    return (event.kiosk_id, event.id, moment, offset_s, moment.date(), moment.timestamp(), event.kind,
            event.decision, event.label, float(event.score), int(event.faces), event.source, event.policy_note,
            thumbnail)


def _where(where: EventFilter) -> tuple[str, list[Any]]:
    """SQL conditions and parameters of a console filter."""
    if where.kind not in EVENT_KINDS:
        raise ValueError(f"kind must be one of {', '.join(EVENT_KINDS)}, not {where.kind!r}")
    clauses, params = [], []
    if where.kind != "any":
        clauses.append("kind = %s")
        params.append(where.kind)
    for column, value in (("kiosk_id", where.kiosk_id), ("day", where.day), ("decision", where.decision),
                          ("label", where.label)):
        if value is not None:
            clauses.append(f"{column} = %s")
            params.append(value)
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


class FleetStore:
    """One connection to the fleet database, shared by the threads of one process under a lock."""

    def __init__(self, conninfo: str, where: str, password_hint: str = "",
                 online_window_s: float = ONLINE_WINDOW_S) -> None:
        """``where``: the server for messages (the URL without password); ``password_hint``: why no
        password was found, added to a failed login's message."""
        self._conninfo = conninfo
        self.where = where
        self._password_hint = password_hint
        self.online_window_s = online_window_s
        self._conn: Optional[psycopg.Connection] = None
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: FleetSection, password_source: Optional[Callable[[str], tuple]] = None,
                      **kwargs: Any) -> "FleetStore":
        """The store ``[fleet] database_url`` names, its password from ``KIOSK_FLEET_PASSWORD`` or the keyring."""
        if password_source is None:
            from kiosk.credentials import fleet_password as password_source
        password, why_none = password_source(database_user(settings))
        return cls(fleet_conninfo(settings, password), redacted_url(settings.database_url), why_none, **kwargs)

    def close(self) -> None:
        with self._lock:
            self._drop()

    def _drop(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except psycopg.Error:
                pass
            self._conn = None

    def _connection(self) -> psycopg.Connection:
        """The open connection, or a new one with the schema migrated (caller holds the lock)."""
        if self._conn is not None and not self._conn.closed and not self._conn.broken:
            return self._conn
        self._drop()
        conn = psycopg.connect(self._conninfo, autocommit=True)
        try:
            applied = migrate(conn)
        except BaseException:
            conn.close()
            raise
        if applied:
            log.info("fleet store %s: schema migrated to version %d", self.where, applied[-1])
        self._conn = conn
        return conn

    def _failure(self, exc: psycopg.Error) -> FleetError:
        message = one_line_reason(exc)
        if "password" in message and self._password_hint:
            message += f" ({self._password_hint})"
        elif "password" in message:
            message += f" (is {FLEET_ENV_VAR} or the keyring entry right?)"
        return FleetError(f"fleet store {self.where}: {message}")

    def _run(self, work: Callable[[psycopg.Connection], _Result], read: bool = False) -> _Result:
        """``work(conn)`` on the open connection; a read whose connection broke is tried once more at once."""
        with self._lock:
            for attempt in (1, 2):
                try:
                    return work(self._connection())
                except SchemaError:
                    raise
                except psycopg.Error as exc:
                    broken = self._conn is None or self._conn.closed or self._conn.broken
                    if broken:
                        self._drop()
                    if not (read and broken and attempt == 1):
                        raise self._failure(exc) from None
        raise AssertionError("unreachable")

    def ensure_schema(self) -> None:
        """Connect (migrating the schema when needed); FleetError when the server cannot be used."""
        self._run(lambda conn: None)

    # --- writes: the kiosks ----------------------------------------------------------------

    def store_events(self, kiosk_id: str, events: Sequence[tuple[StoredEvent, Optional[bytes]]],
                     camera_state: str) -> int:
        """Store events with their thumbnails and note ``kiosk_id`` as seen, in one transaction.

        Returns how many were new to the store: one stored before (a copy repeated after a crash)
        or deleted on a privacy request is left as it is.
        """
        rows = [_event_row(event, thumbnail) for event, thumbnail in events]

        def work(conn: psycopg.Connection) -> int:
            with conn.transaction():
                with conn.cursor() as cur:
                    stored = 0
                    if rows:
                        cur.executemany(INSERT_EVENT, rows)
                        stored = max(cur.rowcount, 0)
                    cur.execute(UPSERT_KIOSK, (kiosk_id, camera_state))
                    return stored
        return self._run(work)

    def heartbeat(self, kiosk_id: str, camera_state: str) -> None:
        """The kiosk is alive now, its camera in ``camera_state`` (live, offline, demo or '')."""
        self._run(lambda conn: conn.execute(UPSERT_KIOSK, (kiosk_id, camera_state)))

    # --- reads: kiosk.web.data.ConsoleData -------------------------------------------------

    def kiosks(self, day: date) -> list[KioskSummary]:
        """Every kiosk ever heard from (and any with events that day), with the day's decisions."""
        sql = ("SELECT ids.kiosk_id, k.last_seen, coalesce(k.last_seen > now() - make_interval(secs => %s), false),"
               " coalesce(k.camera_state, ''),"
               " count(*) FILTER (WHERE e.decision = 'granted'), count(*) FILTER (WHERE e.decision = 'denied'),"
               " count(*) FILTER (WHERE e.decision = 'uncertain')"
               " FROM (SELECT kiosk_id FROM kiosks UNION SELECT DISTINCT kiosk_id FROM events WHERE day = %s) ids"
               " LEFT JOIN kiosks k ON k.kiosk_id = ids.kiosk_id"
               " LEFT JOIN events e ON e.kiosk_id = ids.kiosk_id AND e.day = %s AND e.kind = 'decision'"
               " AND e.source <> %s"
               " GROUP BY ids.kiosk_id, k.last_seen, k.camera_state ORDER BY ids.kiosk_id")
        rows = self._run(lambda conn: conn.execute(sql, (self.online_window_s, day, day, DEMO_SOURCE)).fetchall(),
                         read=True)
        return [KioskSummary(kiosk_id=r[0], last_seen=r[1], online=bool(r[2]), camera_state=r[3], granted=int(r[4]),
                             denied=int(r[5]), uncertain=int(r[6])) for r in rows]

    def kiosk_ids(self) -> list[str]:
        """Every kiosk ever heard from or with an event copied, sorted."""
        rows = self._run(lambda conn: conn.execute(
            "SELECT kiosk_id FROM kiosks UNION SELECT DISTINCT kiosk_id FROM events ORDER BY 1").fetchall(), read=True)
        return [row[0] for row in rows]

    def events(self, where: EventFilter, offset: int, limit: int) -> tuple[list[ConsoleEvent], int]:
        """A page of events, newest first, and how many match in all."""
        if offset < 0 or limit < 0:
            raise ValueError("offset and limit must not be negative")
        conditions, params = _where(where)

        def work(conn: psycopg.Connection) -> tuple[list[ConsoleEvent], int]:
            with conn.transaction():  # the page and its count from one snapshot
                rows = conn.execute(f"SELECT {CONSOLE_COLUMNS} FROM events{conditions} {NEWEST_FIRST}"
                                    " OFFSET %s LIMIT %s", (*params, offset, limit)).fetchall()
                total = conn.execute(f"SELECT count(*) FROM events{conditions}", params).fetchone()[0]
            return [_console_event(row) for row in rows], int(total)
        return self._run(work, read=True)

    def event(self, kiosk_id: str, event_id: int) -> Optional[ConsoleEvent]:
        row = self._run(lambda conn: conn.execute(
            f"SELECT {CONSOLE_COLUMNS} FROM events WHERE kiosk_id = %s AND event_id = %s",
            (kiosk_id, event_id)).fetchone(), read=True)
        return _console_event(row) if row else None

    def snapshot(self, kiosk_id: str, event_id: int) -> Optional[bytes]:
        """The event's face thumbnail (PNG), or None (none copied: images off, privacy, or a grant)."""
        row = self._run(lambda conn: conn.execute(
            "SELECT thumbnail FROM events WHERE kiosk_id = %s AND event_id = %s", (kiosk_id, event_id)).fetchone(),
            read=True)
        return bytes(row[0]) if row and row[0] is not None else None

    def hourly_counts(self, day: date, kiosk_id: Optional[str]) -> dict[str, Sequence[int]]:
        """Decisions per hour of the kiosks' local day, for one kiosk or the whole fleet."""
        sql = ("SELECT decision, mod(floor((epoch + tz_offset_s) / 3600)::bigint, 24) AS hour, count(*) FROM events"
               " WHERE day = %s AND kind = 'decision' AND source <> %s")
        params: list[Any] = [day, DEMO_SOURCE]
        if kiosk_id is not None:
            sql += " AND kiosk_id = %s"
            params.append(kiosk_id)
        rows = self._run(lambda conn: conn.execute(sql + " GROUP BY 1, 2", params).fetchall(), read=True)
        counts = {decision: [0] * 24 for decision in DECISIONS}
        for decision, hour, n in rows:
            if decision in counts:
                counts[decision][int(hour)] = int(n)
        return counts

    def delete_event(self, kiosk_id: str, event_id: int) -> bool:
        """A privacy request: the event and its thumbnail are gone; False when the store had no copy.

        Either way its key is kept, so a copy arriving later (a kiosk copying at least once, or
        one that had not copied it yet) is refused.
        """
        def work(conn: psycopg.Connection) -> bool:
            with conn.transaction():
                conn.execute("INSERT INTO deleted_events (kiosk_id, event_id) VALUES (%s, %s) ON CONFLICT DO NOTHING",
                             (kiosk_id, event_id))
                return conn.execute("DELETE FROM events WHERE kiosk_id = %s AND event_id = %s",
                                    (kiosk_id, event_id)).rowcount > 0
        return self._run(work)
