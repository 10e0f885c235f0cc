"""Helpers for the event/alert tests: configs pointing at a tmp folder and a loopback SMTP server."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from tools.alert_drill import write_toml
from kiosk.config import Config, build_config


def kiosk_settings(tmp: Path, port: Optional[int] = None, email: Optional[dict] = None,
                   storage: Optional[dict] = None) -> dict:
    """Config sections for a kiosk whose files live in ``tmp`` and whose mail goes to 127.0.0.1:port."""
    email_section = {"enabled": port is not None, "host": "127.0.0.1", "port": port or 2525, "security": "none",
                     "recipients": ["security@example.org", "admin@example.org"], "cooldown_s": 0.0,
                     "retry_initial_s": 0.2, "retry_max_s": 0.5, "timeout_s": 5.0}
    email_section.update(email or {})
    if email_section.get("username") and email_section["security"] == "none":  # the loopback server is plain SMTP
        email_section.setdefault("allow_plaintext_login", True)
    storage_section = {"database": str(tmp / "events.sqlite3"), "snapshots": str(tmp / "snapshots"),
                       "reports": str(tmp / "reports")}
    storage_section.update(storage or {})
    return {"kiosk": {"id": "test-door"}, "email": email_section, "storage": storage_section}


def make_config(tmp: Path, port: Optional[int] = None, email: Optional[dict] = None,
                storage: Optional[dict] = None) -> Config:
    return build_config(kiosk_settings(tmp, port, email, storage))


def write_config(tmp: Path, port: Optional[int] = None, email: Optional[dict] = None,
                 storage: Optional[dict] = None) -> Path:
    """The same settings as a TOML file, for subprocesses."""
    return write_toml(tmp / "kiosk.toml", kiosk_settings(tmp, port, email, storage))
