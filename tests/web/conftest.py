"""A console's world: one SQLite event log holding two kiosks' events (with face images), and
accounts for an administrator and a viewer."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from kiosk.camera.synthetic import PORTRAIT_FACE_BOX, load_portrait
from kiosk.config import Config
from kiosk.events.snapshots import SnapshotStore
from kiosk.events.store import EventStore
from kiosk.records import DecisionEvent
from kiosk.web.accounts import AccountStore
from tests.helpers.events import make_config

ADMIN, VIEWER = ("alice", "admin-password-1"), ("victor", "viewer-password-1")
KIOSKS = ("north-door", "south-door")


@dataclass
class ConsoleWorld:
    cfg: Config
    users_db: Path
    ids: dict[str, list[int]]  # each kiosk's event ids, oldest first


def write_events(cfg: Config) -> dict[str, list[int]]:
    """Today, minutes ago: north-door 3 denials (with images) and 2 grants, south-door 1 denial,
    1 uncertain and 2 grants, a door health event and a demo denial; yesterday one north denial."""
    store = EventStore(cfg.resolve_path(cfg.storage.database))
    snapshots = SnapshotStore(cfg.resolve_path(cfg.storage.snapshots), 30)
    portrait, now = load_portrait(), datetime.now().astimezone().replace(microsecond=0)
    plan = [("north-door", "granted", "with_mask", "camera"), ("north-door", "denied", "without_mask", "camera"),
            ("south-door", "granted", "with_mask", "stream"), ("north-door", "denied", "without_mask", "camera"),
            ("south-door", "uncertain", "without_mask", "stream"), ("south-door", "denied", "without_mask", "stream"),
            ("north-door", "granted", "with_mask", "camera"), ("south-door", "granted", "with_mask", "stream"),
            ("north-door", "denied", "with_incorrect_mask", "camera"), ("south-door", "denied", "without_mask", "demo")]
    ids: dict[str, list[int]] = {kiosk: [] for kiosk in KIOSKS}
    yesterday = DecisionEvent(time=now - timedelta(days=1), kiosk_id="north-door", decision="denied",
                              label="without_mask", score=0.9, faces=1, box=PORTRAIT_FACE_BOX, frame=portrait)
    ids["north-door"].append(store.record_event(yesterday, *snapshots.save(yesterday), alert=False, cooldown_s=0)[0])
    for minutes, (kiosk, decision, label, source) in zip(range(len(plan), 0, -1), plan):
        event = DecisionEvent(time=now - timedelta(minutes=minutes), kiosk_id=kiosk, decision=decision, label=label,
                              score=0.91, faces=1, box=PORTRAIT_FACE_BOX, frame=portrait, source=source)
        images = snapshots.save(event) if decision != "granted" else (None, None)
        ids[kiosk].append(store.record_event(event, *images, alert=False, cooldown_s=0)[0])
    ids["south-door"].append(store.record_health(now - timedelta(seconds=30), "south-door", "door-output-failed",
                                                 "serial relay /dev/ttyUSB0 stopped answering; door locked",
                                                 alert=False)[0])
    store.close()
    return ids


@pytest.fixture
def world(tmp_path) -> ConsoleWorld:
    cfg = make_config(tmp_path)
    ids = write_events(cfg)
    users_db = tmp_path / "users.sqlite3"
    accounts = AccountStore(users_db)
    accounts.add_user(ADMIN[0], "admin", ADMIN[1])
    accounts.add_user(VIEWER[0], "viewer", VIEWER[1])
    accounts.close()
    return ConsoleWorld(cfg, users_db, ids)


def csrf_of(page: str) -> str:
    """The CSRF token of the (first) form in a page."""
    match = re.search(r'name="csrf" value="([^"]+)"', page)
    assert match, "the page has no form with a CSRF token"
    return match.group(1)


def sign_in(client, name: str, password: str, **extra: str):
    """Log in through the login form as a browser would; the response after the redirect."""
    form = {"name": name, "password": password, "csrf": csrf_of(client.get("/login").text), **extra}
    return client.post("/login", data=form)
