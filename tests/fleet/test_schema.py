"""The fleet store's schema is made and migrated by the project: versioned, once, never downgraded."""

from __future__ import annotations

import threading

import psycopg
import pytest

from kiosk.config import FleetSection
from kiosk.fleet.schema import SCHEMA_VERSION, SchemaError, migrate, schema_version
from kiosk.fleet.store import FleetStore
from tools.temp_postgres import TemporaryPostgres


def connect(url: str, postgres: TemporaryPostgres) -> psycopg.Connection:
    return psycopg.connect(url, password=postgres.password, autocommit=True)


def test_migrations_are_applied_once_and_a_second_start_changes_nothing(fleet_url, postgres):
    store = FleetStore.from_settings(FleetSection(database_url=fleet_url))
    store.ensure_schema()
    store.close()
    with connect(fleet_url, postgres) as conn:
        applied_at = conn.execute("SELECT version, applied_at FROM schema_version").fetchall()
        assert [version for version, _ in applied_at] == list(range(1, SCHEMA_VERSION + 1))
        tables = {row[0] for row in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
        assert {"schema_version", "kiosks", "events", "deleted_events"} <= tables
        assert migrate(conn) == []  # a second start: nothing to do, and nothing written
        again = FleetStore.from_settings(FleetSection(database_url=fleet_url))
        again.ensure_schema()
        again.close()
        assert conn.execute("SELECT version, applied_at FROM schema_version").fetchall() == applied_at


def test_kiosks_starting_together_migrate_once(fleet_url, postgres):
    results, barrier = [], threading.Barrier(6)

    def start() -> None:
        with connect(fleet_url, postgres) as conn:
            barrier.wait()
            results.append(migrate(conn))

    threads = [threading.Thread(target=start) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(results) == [[]] * 5 + [list(range(1, SCHEMA_VERSION + 1))]


def test_a_newer_schema_is_refused_and_left_alone(fleet_url, postgres):
    with connect(fleet_url, postgres) as conn:
        migrate(conn)
        conn.execute("INSERT INTO schema_version (version) VALUES (%s)", (SCHEMA_VERSION + 1,))
        with pytest.raises(SchemaError, match=rf"^the fleet database's schema is version {SCHEMA_VERSION + 1},"
                                              rf" newer than this kiosk's \({SCHEMA_VERSION}\); update the kiosk software$"):
            migrate(conn)
        assert schema_version(conn) == SCHEMA_VERSION + 1
