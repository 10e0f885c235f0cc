"""The fleet store's schema, created and migrated by the kiosks and the console themselves.

``MIGRATIONS[n]`` takes a database from version n-1 to n; ``schema_version`` has one row per
version applied. ``migrate`` applies what is missing in one transaction under an advisory lock,
so fifty kiosks starting at once migrate once, and does nothing (not even a write) when the
database is current. A database newer than this software is refused, never changed.
"""

from __future__ import annotations

import psycopg

from kiosk.errors import KioskError

LOCK_KEY = 0x6B696F736B  # pg_advisory_xact_lock key of schema migrations ("kiosk")

MIGRATIONS: dict[int, tuple[str, ...]] = {
    1: (
        # one row per entrance: last_seen is the server's clock at its latest heartbeat or copy
        """CREATE TABLE kiosks (
            kiosk_id     text PRIMARY KEY,
            last_seen    timestamptz,
            camera_state text NOT NULL DEFAULT ''  -- live | offline | demo | '' (unknown)
        )""",
        # one row per recorded event, keyed by the kiosk's own id of it (ids never reused there)
        """CREATE TABLE events (
            kiosk_id     text        NOT NULL,
            event_id     bigint      NOT NULL,
            time         timestamptz NOT NULL,
            tz_offset_s  integer     NOT NULL,  -- the kiosk's UTC offset then: times shown as it saw them
            day          date        NOT NULL,  -- the kiosk's local calendar day
            epoch        double precision NOT NULL,
            kind         text        NOT NULL,  -- decision | health
            decision     text        NOT NULL,  -- granted | denied | uncertain | health
            label        text        NOT NULL,
            score        real        NOT NULL,
            faces        integer     NOT NULL,
            source       text        NOT NULL,  -- camera | stream | file | folder (a demo stays on its kiosk)
            note         text        NOT NULL DEFAULT '',
            thumbnail    bytea,                 -- the face, when [fleet] sync_images and the kiosk kept one
            received_at  timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (kiosk_id, event_id)
        )""",
        # the console's pages: newest first, overall and per kiosk; a day's figures and charts
        "CREATE INDEX events_newest ON events (kind, epoch DESC)",
        "CREATE INDEX events_kiosk_newest ON events (kiosk_id, kind, epoch DESC)",
        "CREATE INDEX events_day ON events (day, kiosk_id)",
        # events deleted on a privacy request: a kiosk copying the event again (it may, at least
        # once) must not bring it back. Only the key is kept: no time, no face, no label.
        """CREATE TABLE deleted_events (
            kiosk_id text   NOT NULL,
            event_id bigint NOT NULL,
            PRIMARY KEY (kiosk_id, event_id)
        )""",
        """CREATE FUNCTION events_not_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF EXISTS (SELECT 1 FROM deleted_events d WHERE d.kiosk_id = NEW.kiosk_id AND d.event_id = NEW.event_id) THEN
                RETURN NULL;
            END IF;
            RETURN NEW;
        END $$""",
        """CREATE TRIGGER events_not_deleted BEFORE INSERT ON events
            FOR EACH ROW EXECUTE FUNCTION events_not_deleted()""",
    ),
}
SCHEMA_VERSION = max(MIGRATIONS)


class SchemaError(KioskError):
    """The fleet database's schema is newer than this software; the message is one line."""


def schema_version(conn: psycopg.Connection) -> int:
    """The version of the database's schema; 0 for an empty database. Reads only."""
    if conn.execute("SELECT to_regclass('schema_version')").fetchone()[0] is None:
        return 0
    return int(conn.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()[0])


def migrate(conn: psycopg.Connection) -> list[int]:
    """Bring the schema to SCHEMA_VERSION; returns the versions applied now ([] when it was current)."""
    if schema_version(conn) == SCHEMA_VERSION:
        return []
    applied = []
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
        conn.execute("CREATE TABLE IF NOT EXISTS schema_version (version integer PRIMARY KEY,"
                     " applied_at timestamptz NOT NULL DEFAULT now())")
        current = schema_version(conn)  # again, under the lock: another kiosk may have migrated meanwhile
        if current > SCHEMA_VERSION:
            raise SchemaError(f"the fleet database's schema is version {current}, newer than this kiosk's"
                              f" ({SCHEMA_VERSION}); update the kiosk software")
        for version in range(current + 1, SCHEMA_VERSION + 1):
            for statement in MIGRATIONS[version]:
                conn.execute(statement)
            conn.execute("INSERT INTO schema_version (version) VALUES (%s)", (version,))
            applied.append(version)
    return applied
