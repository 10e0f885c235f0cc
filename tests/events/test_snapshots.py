"""Snapshots on disk: annotated frame + face crop, retention cleanup of old days only, privacy,
and a broken snapshot folder that must not stop the decision from being recorded."""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from pathlib import Path

import cv2
import numpy as np

from tests.helpers.events import make_config
from tools.alert_drill import denial
from kiosk.events.services import EventServices
from kiosk.events.store import EventStore
from tools.loopback_smtp import LoopbackSmtp
from kiosk.camera.synthetic import PORTRAIT_FACE_BOX


def test_snapshot_has_the_box_drawn_and_a_face_crop(tmp_path, portrait):
    cfg = make_config(tmp_path)
    services = EventServices(cfg)
    services.on_decision(denial(cfg, frame=portrait))
    row = services.store.events()[0]
    frame = cv2.imread(row.snapshot_path)
    crop = cv2.imread(row.crop_path)
    assert frame.shape == portrait.shape
    x, y, w, h = PORTRAIT_FACE_BOX
    edge = frame[y + h // 2, x].astype(int)  # on the left edge of the box: drawn red (BGR)
    assert edge[2] > 150 and edge[0] < 100 and edge[1] < 100
    assert not np.array_equal(frame[y + h // 2, x], portrait[y + h // 2, x])
    assert w <= crop.shape[1] <= portrait.shape[1] and h <= crop.shape[0] <= portrait.shape[0]
    assert Path(row.snapshot_path).parent.name == row.time[:10]  # one folder per day


def test_retention_removes_old_snapshots_and_only_those(tmp_path):
    cfg = make_config(tmp_path, storage={"retention_days": 30})
    services = EventServices(cfg)
    now = datetime.now().astimezone()
    for age_days in (45, 31, 29, 0):
        services.on_decision(denial(cfg, when=now - timedelta(days=age_days)))
    old_day_dir = tmp_path / "snapshots" / (now - timedelta(days=45)).date().isoformat()
    foreign = old_day_dir / "notes.txt"  # not ours: must survive, and keep its folder
    foreign.write_text("operator notes")
    before = {r.id: (r.snapshot_path, r.crop_path) for r in services.store.events()}

    removed = services.cleanup_retention()

    assert removed == 4  # two old events x (frame + crop)
    rows = {r.id: r for r in services.store.events()}
    for event_id in (1, 2):
        assert rows[event_id].snapshot_path is None and rows[event_id].crop_path is None
        assert not any(Path(p).exists() for p in before[event_id])
    for event_id in (3, 4):
        assert all(Path(p).is_file() for p in before[event_id])
        assert (rows[event_id].snapshot_path, rows[event_id].crop_path) == before[event_id]
    assert foreign.read_text() == "operator notes"
    assert not (tmp_path / "snapshots" / (now - timedelta(days=31)).date().isoformat()).exists()


def test_privacy_stores_and_sends_no_image(tmp_path):
    with LoopbackSmtp() as server:
        cfg = make_config(tmp_path, server.port, storage={"privacy": True})
        services = EventServices(cfg)
        services.start()
        services.on_decision(denial(cfg))
        mail = server.wait_for(1, timeout_s=15)[0]
        services.stop()
    assert not (tmp_path / "snapshots").exists() or not any((tmp_path / "snapshots").rglob("*"))
    row = EventStore(tmp_path / "events.sqlite3").events()[0]
    assert row.snapshot_path is None and row.crop_path is None
    assert [p.get_content_type() for p in mail.message.walk() if p.get_content_maintype() == "image"] == []
    assert "Privacy mode" in next(p for p in mail.message.walk() if p.get_content_type() == "text/html").get_content()


def test_unwritable_snapshot_folder_still_records_the_decision(tmp_path, caplog):
    blocked = tmp_path / "snapshots-are-a-file"
    blocked.write_text("not a folder")
    cfg = make_config(tmp_path, storage={"snapshots": str(blocked)})
    services = EventServices(cfg)
    services.on_decision(denial(cfg))  # must not raise
    row = services.store.events()[0]
    assert row.decision == "denied" and row.snapshot_path is None
    status = services.status()
    assert status["storage_errors"] == 1 and status["last_storage_error"].startswith("snapshot not saved: NotADirectoryError")
    assert status["denied_today"] == 1
    assert len([r for r in caplog.records if "snapshot not saved" in r.getMessage()]) == 1


def test_retention_runs_by_itself_when_the_services_start(tmp_path):
    cfg = make_config(tmp_path, storage={"retention_days": 7})
    services = EventServices(cfg)
    services.on_decision(denial(cfg, when=datetime.now().astimezone() - timedelta(days=8)))
    old_files = [Path(p) for p in (services.store.events()[0].snapshot_path, services.store.events()[0].crop_path)]
    assert all(p.is_file() for p in old_files)
    services.start()
    deadline = datetime.now() + timedelta(seconds=15)
    while any(p.exists() for p in old_files) and datetime.now() < deadline:
        time.sleep(0.05)
    services.stop()
    assert not any(p.exists() for p in old_files)


def test_deleting_an_events_images_touches_only_the_kiosks_own_files(tmp_path):
    cfg = make_config(tmp_path)
    services = EventServices(cfg)
    services.on_decision(denial(cfg))
    row = services.store.events()[0]
    services.stop()
    day_dir = Path(row.snapshot_path).parent
    foreign = tmp_path / "notes.jpg"  # a path that is not a snapshot of ours, e.g. from a tampered database
    foreign.write_bytes(b"not ours")
    assert services.snapshots.delete([row.snapshot_path, row.crop_path, str(foreign), None, row.crop_path]) == 2
    assert foreign.read_bytes() == b"not ours" and not day_dir.exists()  # the emptied day folder goes too
