"""A real PostgreSQL for the fleet tests: one server per session, one fresh database per test."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from kiosk.config import Config, build_config
from kiosk.credentials import FLEET_ENV_VAR
from tools.temp_postgres import TemporaryPostgres, postgres_bin_dir

_databases = itertools.count(1)


@pytest.fixture(scope="session")
def postgres():
    if postgres_bin_dir() is None:
        pytest.skip("needs PostgreSQL's initdb and pg_ctl (Debian: apt-get install postgresql), which are absent here")
    with TemporaryPostgres() as server:
        yield server


@pytest.fixture
def fleet_url(postgres, monkeypatch) -> str:
    """A new empty database's URL; the kiosk role's password is in KIOSK_FLEET_PASSWORD, as on a kiosk.
    The server is running again afterwards, whatever the test did to it."""
    monkeypatch.setenv(FLEET_ENV_VAR, postgres.password)
    yield postgres.create_database(f"fleet_{next(_databases)}")
    if not postgres.running():
        postgres.start()


def fleet_config(tmp: Path, url: str, kiosk_id: str = "north-door", **fleet) -> Config:
    """A kiosk whose log lives in ``tmp`` and whose events go to ``url``; retries are quick."""
    fleet_section = {"database_url": url, "retry_initial_s": 0.1, "retry_max_s": 0.5}
    fleet_section.update(fleet)
    return build_config({"kiosk": {"id": kiosk_id}, "fleet": fleet_section,
                         "storage": {"database": str(tmp / "events.sqlite3"), "snapshots": str(tmp / "snapshots"),
                                     "reports": str(tmp / "reports")}})
