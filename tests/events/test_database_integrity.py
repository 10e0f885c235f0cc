"""A damaged event database, made by damaging a REAL SQLite file the kiosk wrote: truncated,
pages overwritten, a garbage header, zero bytes.

Each is found when the database is opened (PRAGMA quick_check and header checks, nothing
written). ``main.py events`` and ``main.py report`` refuse it in one line, exit 2, and leave it
byte for byte as it was. The kiosk (``EventServices``) moves it aside with its -wal/-shm files,
starts a fresh log whose first event is a ``health`` event, logs one warning, and emails the
administrators when email is on.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import random
import shutil
import sqlite3
from datetime import datetime
import subprocess
from pathlib import Path
from typing import Callable

import pytest

from tests.helpers.cli import main_command
from tests.helpers.events import make_config, write_config
from tests.helpers import PROJECT_ROOT
from tools.alert_drill import denial
from tools.loopback_smtp import LoopbackSmtp
from kiosk.commands import events as events_command
from kiosk.config import build_config
from kiosk.errors import KioskError
from kiosk.events.report import build_report
from kiosk.events.services import EventServices
from kiosk.events.store import DatabaseDamaged, EventStore, check_database, move_aside

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")

PAGE = 4096
EVENTS = 3000  # a few hundred pages: damage in the middle lands in table and index pages


def truncate(path: Path) -> None:
    """Cut the file in half, as a full disk or an interrupted copy would."""
    size = path.stat().st_size
    with open(path, "r+b") as f:
        f.truncate(size // 2)


def flip_pages(path: Path) -> None:
    """Overwrite 200 bytes with random data at eight offsets after page 2 (bad sectors, a stray write)."""
    rng = random.Random(18)
    size = path.stat().st_size
    with open(path, "r+b") as f:
        for offset in range(2 * PAGE + 1000, size - PAGE, size // 8):
            f.seek(offset)
            f.write(rng.randbytes(200))


def garbage_header(path: Path) -> None:
    """The first 100 bytes (SQLite's header) replaced by random bytes."""
    with open(path, "r+b") as f:
        f.write(random.Random(100).randbytes(100))


def zero_bytes(path: Path) -> None:
    path.write_bytes(b"")


DAMAGE: dict[str, tuple[Callable[[Path], None], str]] = {  # how, and how the problem is named
    "truncated": (truncate, "quick_check: "),
    "flipped-pages": (flip_pages, "quick_check: "),
    "garbage-header": (garbage_header, "not an SQLite database"),
    "zero-bytes": (zero_bytes, "empty file, 0 bytes"),
}


@pytest.fixture(scope="module")
def sound_database(tmp_path_factory) -> Path:
    """A closed event log written by the kiosk's own store: EVENTS denials, every other one alerted."""
    path = tmp_path_factory.mktemp("sound") / "events.sqlite3"
    store = EventStore(path)
    store._db.execute("PRAGMA synchronous=OFF")  # a test database need not survive power loss
    cfg = build_config({})
    for i in range(EVENTS):
        store.record_event(denial(cfg, with_frame=False), None, None, alert=i % 2 == 0, cooldown_s=0)
    store.close()  # the last connection checkpoints: everything is in the main file, no -wal left
    assert path.stat().st_size > 100 * PAGE and not Path(f"{path}-wal").exists()
    return path


@pytest.fixture(params=sorted(DAMAGE))
def damaged(request, sound_database, tmp_path) -> tuple[Path, str]:
    """A kiosk folder whose events.sqlite3 is a copy of the sound log, damaged one way; and the
    words the problem is named with."""
    damage, named = DAMAGE[request.param]
    path = tmp_path / "events.sqlite3"
    shutil.copyfile(sound_database, path)
    damage(path)
    return path, named


def folder_state(folder: Path) -> dict[str, str]:
    """Every file in ``folder`` (not below) with a hash of its bytes."""
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


def test_every_kind_of_damage_is_found_when_the_store_opens_and_nothing_is_written(damaged):
    path, named = damaged
    before = folder_state(path.parent)
    problem = check_database(path)
    assert problem is not None and problem.startswith(named)
    with pytest.raises(DatabaseDamaged) as caught:
        EventStore(path)
    assert str(caught.value) == f"{path} is damaged ({problem})" and "\n" not in str(caught.value)
    assert folder_state(path.parent) == before  # not changed, no -wal/-shm left behind


def test_a_sound_database_passes_and_checking_it_leaves_no_files(sound_database, tmp_path):
    path = tmp_path / "events.sqlite3"
    shutil.copyfile(sound_database, path)
    assert check_database(path) is None and check_database(tmp_path / "missing.sqlite3") is None
    assert sorted(p.name for p in tmp_path.iterdir()) == ["events.sqlite3"]


@pytest.mark.parametrize("argv", [("events",), ("events", "--all"), ("report",)])
def test_commands_refuse_a_damaged_database_in_one_line_and_leave_it_alone(damaged, argv):
    path, named = damaged
    config = write_config(path.parent)
    before = folder_state(path.parent)
    result = subprocess.run(main_command(*argv, "--config", str(config)), capture_output=True, text=True,
                            cwd=PROJECT_ROOT, timeout=120)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error: {path} is damaged ({named}")
    assert lines[0].endswith("); the kiosk moves it aside at its next start")
    assert folder_state(path.parent) == before  # nothing modified, created or moved


def test_the_kiosk_moves_a_damaged_database_aside_and_starts_a_fresh_log_that_says_so(damaged, caplog):
    path, named = damaged
    damaged_bytes = hashlib.sha256(path.read_bytes()).hexdigest()
    cfg = make_config(path.parent)  # email off
    with caplog.at_level(logging.INFO):
        services = EventServices(cfg)
    try:
        asides = sorted(path.parent.glob("events.sqlite3.corrupt-*"))
        assert [p.name[len("events.sqlite3.corrupt-"):].count("-") for p in asides] == [1]  # -YYYYmmdd-HHMMSS
        assert hashlib.sha256(asides[0].read_bytes()).hexdigest() == damaged_bytes  # moved, not changed
        (health,) = services.store.events(since=None)
        assert (health.kind, health.decision, health.label, health.alert_state) == (
            "health", "health", "database-replaced", "none")
        assert f"was damaged ({named}" in health.policy_note and asides[0].name in health.policy_note
        warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
        assert [r.getMessage() for r in warnings] == [health.policy_note]
        assert services.status()["denied_today"] == 0  # a health event is not a decision
        services.on_decision(denial(cfg, with_frame=False))
        assert [e.kind for e in services.store.events()] == ["health", "decision"]
        assert services.status()["denied_today"] == 1
    finally:
        services.stop()
    assert check_database(path) is None
    again = EventServices(cfg)  # the fresh log is sound: the next start finds nothing to move
    assert len(again.store.events()) == 2 and len(list(path.parent.glob("events.sqlite3.corrupt-*"))) == 1
    again.stop()



@pytest.mark.parametrize("damage", ["truncated", "flipped-pages", "garbage-header", "zero-bytes"])
def test_the_headless_kiosk_starts_on_a_fresh_log_after_moving_a_damaged_one_aside(damage, sound_database, tmp_path,
                                                                                   model_dir):
    path = tmp_path / "events.sqlite3"
    shutil.copyfile(sound_database, path)
    DAMAGE[damage][0](path)
    config = write_config(tmp_path)
    done = subprocess.run(main_command("run", "--headless", "--source", "demo", "--max-frames", "5", "--config",
                                       str(config), "--model", str(model_dir)),
                          capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=120)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    warnings = [line for line in done.stderr.splitlines() if " WARNING " in line]
    assert len(warnings) == 1 and f"event database {path} was damaged (" in warnings[0], done.stderr
    assert len(list(tmp_path.glob("events.sqlite3.corrupt-*"))) == 1
    assert [(e.kind, e.label) for e in EventStore(path).events(since=None)] == [("health", "database-replaced")]


def test_a_zero_byte_file_and_its_side_files_are_moved_aside_together(tmp_path):
    path = tmp_path / "events.sqlite3"
    path.write_bytes(b"")
    Path(f"{path}-wal").write_bytes(b"w" * 10)
    Path(f"{path}-shm").write_bytes(b"s" * 10)
    cfg = make_config(tmp_path)
    EventServices(cfg).stop()
    (aside,) = tmp_path.glob("events.sqlite3.corrupt-*[0-9]")
    assert aside.read_bytes() == b""
    assert Path(f"{aside}-wal").read_bytes() == b"w" * 10 and Path(f"{aside}-shm").read_bytes() == b"s" * 10
    assert not Path(f"{path}-shm").exists() or Path(f"{path}-shm").read_bytes() != b"s" * 10
    assert [e.kind for e in EventStore(path).events()] == ["health"]


def test_move_aside_never_overwrites_an_earlier_damaged_file(tmp_path):
    path = tmp_path / "events.sqlite3"
    path.write_bytes(b"first")
    first = move_aside(path)
    path.write_bytes(b"second")
    second = move_aside(path)
    assert first != second and first.read_bytes() == b"first" and second.read_bytes() == b"second"
    assert not path.exists()


def test_administrators_get_an_email_about_the_replaced_database(tmp_path):
    path = tmp_path / "events.sqlite3"
    path.write_bytes(b"")
    with LoopbackSmtp() as server:
        cfg = make_config(tmp_path, server.port)
        services = EventServices(cfg)
        (health,) = services.store.events(since=None)
        assert health.alert_state == "pending" and services.status()["outbox_pending"] == 1
        services.start()
        (mail,) = server.wait_for(1, timeout_s=20)
        services.on_decision(denial(cfg))  # right after: a denial leads its own email, no cooldown from health
        server.wait_for_events({health.id + 1}, timeout_s=20)
        services.stop()
    assert mail.event_ids == [health.id]
    assert mail.message["Subject"].startswith("[test-door] Kiosk health: database-replaced at ")
    body = mail.message.get_body(("html", "plain")).get_content()
    assert "was damaged (empty file, 0 bytes)" in body
    assert [m.event_ids for m in server.received] == [[1], [2]]
    assert {e.alert_state for e in EventStore(path).events()} == {"sent"}


def test_damage_that_only_shows_while_reading_is_one_line_too(sound_database, tmp_path, monkeypatch):
    """quick_check does not compare indexes with their tables: a read may still fail; no traceback then."""
    path = tmp_path / "events.sqlite3"
    shutil.copyfile(sound_database, path)

    def malformed(*_args, **_kwargs):
        raise sqlite3.DatabaseError("database disk image is malformed")

    monkeypatch.setattr(EventStore, "events", malformed)
    args = argparse.Namespace(config=str(write_config(tmp_path)), since=None, all=True, include_demo=False, limit=None,
                              csv=False, json=False, delete=None)
    with pytest.raises(KioskError) as caught:
        events_command.run(args)
    assert str(caught.value) == f"cannot read the event database {path}: database disk image is malformed"


def test_a_health_event_is_listed_but_not_counted_as_a_decision_in_the_report(tmp_path):
    cfg = make_config(tmp_path)
    store = EventStore(tmp_path / "events.sqlite3")
    now = datetime.now().astimezone()
    store.record_health(now, cfg.kiosk.id, "database-replaced", "event database was damaged; moved aside", False)
    store.record_event(denial(cfg, with_frame=False, when=now), None, None, alert=False, cooldown_s=0)
    files = build_report(store, now.date(), tmp_path / "reports", cfg.kiosk.id, privacy=True)
    page = files.html.read_text(encoding="utf-8")
    assert (files.granted, files.denied) == (0, 1) and "1 decisions in total" in page
    assert "<h2>Kiosk health</h2>" in page and "event database was damaged; moved aside" in page
    assert files.csv.read_text(encoding="utf-8").count("\n") == 3  # header, the health event, the denial
