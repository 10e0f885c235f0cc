"""``main.py events`` as real subprocesses on real SQLite files: demo events hidden unless asked,
every event with its source, JSON lines, --limit checked, errors said once, and --delete of one
person's records (row, images, queued alert, the day's report), with a real loopback SMTP server."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import sqlite3
import subprocess
from datetime import datetime
from pathlib import Path

import pytest

from tests.helpers import PROJECT_ROOT
from tests.helpers.cli import main_command
from tests.helpers.events import write_config
from tools.alert_drill import denial
from tools.loopback_smtp import LoopbackSmtp
from kiosk.config import load_config
from kiosk.events.services import EventServices
from kiosk.records import DecisionEvent

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")

JSON_KEYS = ["id", "time", "kiosk_id", "kind", "decision", "label", "score", "source"]


def main_py(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(main_command(*args), capture_output=True, text=True, timeout=120, cwd=PROJECT_ROOT)


def stderr_line(result: subprocess.CompletedProcess) -> str:
    """The only line on stderr (no traceback, no usage block, no log line)."""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


@pytest.fixture
def mixed_db(tmp_path) -> Path:
    """Today: a camera denial, a demo denial, a grant from a file replay and a health event."""
    config = write_config(tmp_path)
    cfg = load_config(config)
    services = EventServices(cfg)
    services.on_decision(denial(cfg))
    services.on_decision(dataclasses.replace(denial(cfg), source="demo"))
    services.on_decision(DecisionEvent(time=datetime.now().astimezone(), kiosk_id=cfg.kiosk.id, decision="granted",
                                       label="with_mask", score=0.97, faces=1, source="file"))
    services.store.record_health(datetime.now().astimezone(), cfg.kiosk.id, "camera-offline", "camera 0 offline",
                                 alert=False)
    services.stop()
    return config


def test_events_hide_the_demo_unless_asked_and_all_lists_everything_with_its_source(mixed_db):
    table = main_py("events", "--config", str(mixed_db))
    assert table.returncode == 0 and table.stderr == "", table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["id", "time", "decision", "label", "score", "faces", "source", "alert"]
    assert [line.split()[0] for line in lines[1:-1]] == ["1", "3", "4"]
    assert [line.split()[6] for line in lines[1:-1]] == ["camera", "file", "camera"]
    assert lines[-1] == "3 events (1 demo event not shown: --include-demo)"

    with_demo = main_py("events", "--include-demo", "--csv", "--config", str(mixed_db))
    rows = list(csv.DictReader(io.StringIO(with_demo.stdout)))
    assert [(r["id"], r["source"]) for r in rows] == [("1", "camera"), ("2", "demo"), ("3", "file"), ("4", "camera")]

    everything = main_py("events", "--all", "--json", "--config", str(mixed_db))
    assert everything.returncode == 0 and everything.stderr == "", everything.stderr
    objects = [json.loads(line) for line in everything.stdout.splitlines()]
    assert all(list(o)[:3] == JSON_KEYS[:3] and set(JSON_KEYS) <= set(o) for o in objects)
    assert [(o["id"], o["kind"], o["decision"], o["source"]) for o in objects] == [
        (1, "decision", "denied", "camera"), (2, "decision", "denied", "demo"),
        (3, "decision", "granted", "file"), (4, "health", "health", "camera")]
    assert isinstance(objects[0]["score"], float) and objects[0]["kiosk_id"] == "test-door"
    assert objects[2]["snapshot_path"] is None  # a grant keeps no image

    newest = main_py("events", "--json", "--limit", "2", "--config", str(mixed_db))
    assert [json.loads(line)["id"] for line in newest.stdout.splitlines()] == [3, 4]
    nothing = main_py("events", "--json", "--limit", "0", "--config", str(mixed_db))
    assert nothing.returncode == 0 and nothing.stdout == ""


@pytest.mark.parametrize("value", ["-1", "-20"])
def test_a_negative_limit_is_a_one_line_usage_error(mixed_db, value):
    result = main_py("events", "--limit", value, "--config", str(mixed_db))
    assert result.returncode == 2 and result.stdout == ""
    assert stderr_line(result) == (f"main.py events: error: argument --limit: must be 0 or more, got '{value}'"
                                   " (see main.py events --help)")


def test_errors_are_said_once_with_their_path_once(tmp_path):
    missing_config = tmp_path / "missing.toml"
    for args in (["events"], ["events", "--delete", "3"], ["report"]):
        result = main_py(*args, "--config", str(missing_config))
        assert result.returncode == 2
        assert stderr_line(result) == f"error: config file {missing_config} does not exist"
    config = write_config(tmp_path)  # a config whose database was never created
    database = tmp_path / "events.sqlite3"
    for args in (["events"], ["events", "--all", "--json"], ["report"], ["events", "--delete", "1"]):
        result = main_py(*args, "--config", str(config))
        assert result.returncode == 2 and result.stdout == ""
        line = stderr_line(result)
        assert line.startswith("error: no event database at ") and line.count(str(database)) == 1
    assert not database.exists()


def test_delete_removes_one_persons_records_and_nothing_else(tmp_path):
    with LoopbackSmtp() as server:
        config = write_config(tmp_path, server.port)
        cfg = load_config(config)
        services = EventServices(cfg)
        services.start()
        services.on_decision(denial(cfg))  # event 1: its alert is emailed
        assert server.wait_for_events({1}, timeout_s=15)
        services.stop()
    queued = EventServices(cfg)  # nobody sends now: event 2's alert stays queued
    queued.on_decision(denial(cfg))
    queued.on_decision(denial(cfg))  # event 3: someone else, who stays
    queued.stop()
    database = cfg.resolve_path(cfg.storage.database)
    snapshots = cfg.resolve_path(cfg.storage.snapshots)
    images = {row[0]: [Path(p) for p in row[1:]] for row in sqlite3.connect(database).execute(
        "SELECT id, snapshot_path, crop_path FROM events")}
    assert all(p.is_file() for paths in images.values() for p in paths)
    written = main_py("report", "--config", str(config))
    assert written.returncode == 0, written.stderr
    day = datetime.now().astimezone().date().isoformat()
    report = cfg.resolve_path(cfg.storage.reports) / f"report-{day}.html"
    assert report.read_text(encoding="utf-8").count("data:image/png;base64,") == 3

    result = main_py("events", "--delete", "2", "--config", str(config))
    assert result.returncode == 0 and result.stderr == "", result.stderr
    line = result.stdout.strip()
    assert "\n" not in line and line.startswith("deleted event 2 (denied, ") and ", camera): its record" in line
    assert line.endswith(f"2 image files, queued alert never sent, report-{day}.html rewritten without it")
    assert not any(p.exists() for p in images[2])
    assert all(p.is_file() for event_id in (1, 3) for p in images[event_id])
    db = sqlite3.connect(database)
    try:
        assert [r[0] for r in db.execute("SELECT id FROM events")] == [1, 3]
        assert [r[0] for r in db.execute("SELECT event_id FROM outbox")] == [1, 3]
    finally:
        db.close()
    page = report.read_text(encoding="utf-8")
    assert page.count("data:image/png;base64,") == 2 and "#2<" not in page and "<b>2</b> denied" in page

    sent = main_py("events", "--delete", "1", "--config", str(config))
    assert sent.returncode == 0, sent.stderr
    assert "2 image files, alert already emailed (it cannot be recalled)" in sent.stdout
    db = sqlite3.connect(database)
    try:
        assert [r[0] for r in db.execute("SELECT id FROM events")] == [3]
        assert [r[0] for r in db.execute("SELECT event_id FROM outbox")] == [3]
        # the delivery record stays: when an email went and how many alerts it carried, no face, no event
        assert db.execute("SELECT kind, alert_count FROM deliveries").fetchall() == [("alert", 1)]
        assert db.execute("PRAGMA foreign_key_check").fetchall() == []
    finally:
        db.close()
    assert sorted(snapshots.rglob("*.jpg")) == sorted(images[3])  # only the person who stays keeps images

    again = main_py("events", "--delete", "1", "--config", str(config))
    assert again.returncode == 2 and stderr_line(again) == f"error: no event 1 in {database}"
    mixed = main_py("events", "--delete", "3", "--json", "--config", str(config))
    assert mixed.returncode == 2 and stderr_line(mixed) == "error: --delete cannot be combined with --json"
    later = EventServices(cfg)
    later.on_decision(denial(cfg))
    assert [e.id for e in later.store.events()] == [3, 4]  # deleted ids are never handed out again
    later.stop()


def test_report_can_leave_replays_out(mixed_db, tmp_path):
    out = tmp_path / "camera-only"
    result = main_py("report", "--exclude-replays", "--out", str(out), "--config", str(mixed_db))
    assert result.returncode == 0, result.stderr
    day = datetime.now().astimezone().date().isoformat()
    with open(out / f"report-{day}.csv", encoding="utf-8") as f:
        assert [(r["id"], r["source"]) for r in csv.DictReader(f)] == [("1", "camera"), ("4", "camera")]
    full = main_py("report", "--out", str(tmp_path / "all"), "--config", str(mixed_db))
    page = (tmp_path / "all" / f"report-{day}.html").read_text(encoding="utf-8")
    assert full.returncode == 0 and "<b>1</b> granted, <b>1</b> denied" in page
    assert "1 of these decisions came from file or folder replays" in page
