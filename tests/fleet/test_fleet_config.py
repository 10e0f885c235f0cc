"""[fleet] settings: off by default, a PostgreSQL URL without a password, errors on one line that never show one."""

from __future__ import annotations

import pytest

from kiosk.config import ConfigError, build_config, redacted_url, with_overrides
from kiosk.credentials import FLEET_ENV_VAR, fleet_password


def test_off_by_default():
    fleet = build_config({}).fleet
    assert (fleet.database_url, fleet.sync_images) == ("", False)
    assert fleet.retry_initial_s <= fleet.retry_max_s


@pytest.mark.parametrize("url", ["postgresql://kiosk@127.0.0.1:5432/kiosks", "postgres://kiosk@db.example.org/kiosks",
                                 "postgresql:///kiosks", "postgresql://kiosk@[::1]:5433/kiosks?sslmode=require"])
def test_postgresql_urls_are_accepted(url):
    assert build_config({"fleet": {"database_url": url}}).fleet.database_url == url


@pytest.mark.parametrize("url, problem", [
    ("mysql://kiosk@h/kiosks", "must be a postgresql:// URL"),
    ("db.example.org", "must be a postgresql:// URL"),
    ("postgresql://h:54x2/kiosks", "the host and port must read like"),
    ("postgresql://kiosk:hunter2@h/kiosks", "must not hold a password: set KIOSK_FLEET_PASSWORD"),
    ("postgresql://kiosk@h/kiosks?sslmode=require&password=hunter2", "must not hold a password"),
])
def test_bad_urls_are_one_line_without_the_password(url, problem):
    with pytest.raises(ConfigError) as failure:
        build_config({"fleet": {"database_url": url}})
    message = str(failure.value)
    assert message.startswith("[fleet] database_url = ") and problem in message
    assert "\n" not in message and "hunter2" not in message


def test_an_override_is_checked_alike():
    with pytest.raises(ConfigError, match=r"^\[fleet\] database_url = \"postgresql://k:\*\*\*@h/db\": must not hold"):
        with_overrides(build_config({}), {"fleet.database_url": "postgresql://k:hunter2@h/db"})


def test_retry_max_below_initial_is_refused():
    with pytest.raises(ConfigError, match=r"^\[fleet\] retry_max_s = 1.0: must not be less than retry_initial_s \(5.0\)$"):
        build_config({"fleet": {"retry_initial_s": 5.0, "retry_max_s": 1.0}})


def test_redacted_url():
    assert redacted_url("postgresql://u:p@ss@h/db") == "postgresql://u:***@h/db"
    assert redacted_url("postgresql://u@h/db") == "postgresql://u@h/db"


def test_fleet_password_from_the_environment_or_none_with_the_reason(monkeypatch):
    monkeypatch.setenv(FLEET_ENV_VAR, "from-env")
    assert fleet_password("kiosk") == ("from-env", "")
    monkeypatch.delenv(FLEET_ENV_VAR)
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.fail.Keyring")
    password, why = fleet_password("kiosk")
    assert password is None and why.startswith("no password: set KIOSK_FLEET_PASSWORD or store one with keyring")
