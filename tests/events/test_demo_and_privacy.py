"""A demo is never a real event, and faces are kept for denials only: the real event services,
real SQLite files and a real loopback SMTP server."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from pathlib import Path

import pytest

from tests.helpers import wait_until
from tests.helpers.events import make_config
from tools.alert_drill import denial
from tools.loopback_smtp import LoopbackSmtp
from kiosk.events.services import EventServices
from kiosk.events.store import EventStore
from kiosk.records import DecisionEvent

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


def grant(cfg, source: str = "camera", frame=None) -> DecisionEvent:
    masked = denial(cfg, frame=frame)
    return dataclasses.replace(masked, decision="granted", label="with_mask", score=0.97, source=source)


def from_source(event: DecisionEvent, source: str) -> DecisionEvent:
    return dataclasses.replace(event, source=source)


def test_demo_decisions_are_recorded_but_never_emailed_nor_counted(tmp_path):
    with LoopbackSmtp() as server:
        cfg = make_config(tmp_path, server.port, email={"notify_on": ["denied", "uncertain", "granted"]})
        services = EventServices(cfg)
        services.start()
        for event in (from_source(denial(cfg), "demo"), grant(cfg, "demo"),
                      dataclasses.replace(denial(cfg), decision="uncertain", source="demo")):
            services.on_decision(event)
        services.on_decision(denial(cfg))  # the one real visitor, from the camera
        services.on_decision(from_source(denial(cfg), "file"))  # a replay: real enough to alert on
        received = server.wait_for_events({4, 5}, timeout_s=15)
        status = services.status()
        services.on_decision(from_source(denial(cfg), "demo"))  # after the real ones: still nothing
        assert wait_until(lambda: services.store.outbox_counts()["pending"] == 0, timeout=5)
        services.stop()
        received = server.wait_for(len(received) + 1, timeout_s=2)  # nothing more arrives

    assert sorted(i for mail in received for i in mail.event_ids) == [4, 5]
    assert (status["granted_today"], status["denied_today"]) == (0, 2)  # the status bar's counts
    store = EventStore(cfg.resolve_path(cfg.storage.database))
    assert store.outbox_counts()["sent"] == 2 and len(store.deliveries()) == len(received)
    rows = store.events()
    assert [(e.id, e.source, e.alert_state) for e in rows] == [
        (1, "demo", "none"), (2, "demo", "none"), (3, "demo", "none"), (4, "camera", "sent"), (5, "file", "sent"),
        (6, "demo", "none")]
    today = datetime.now().astimezone().date()
    assert store.decision_counts(today) == {"denied": 2}
    assert store.count_by_source() == {"demo": 4, "camera": 1, "file": 1}
    last = datetime.fromisoformat(rows[-1].time)
    assert store.count_by_source(since=last) == {"demo": 1}  # only the demo event after the real ones
    store.close()
    again = EventServices(cfg)  # a restart counts from the database: still no demo
    assert (again.status()["granted_today"], again.status()["denied_today"]) == (0, 2)
    again.stop()


def test_a_demo_kiosk_records_its_health_events_as_demo_and_emails_none(tmp_path):
    cfg = make_config(tmp_path, port=9, email={"retry_initial_s": 60.0})  # nothing listens: nothing may be queued
    database = cfg.resolve_path(cfg.storage.database)
    database.write_bytes(b"")  # damaged: moved aside, a fresh log starts with a health event
    services = EventServices(cfg, source_kind="demo")
    (health,) = services.store.events()
    assert (health.kind, health.source, health.alert_state) == ("health", "demo", "none")
    services.stop()
    on_camera = make_config(tmp_path / "camera", port=9)
    database = on_camera.resolve_path(on_camera.storage.database)
    database.parent.mkdir()
    database.write_bytes(b"")
    services = EventServices(on_camera)
    (health,) = services.store.events()
    assert (health.source, health.alert_state) == ("camera", "pending")  # a real kiosk tells its admins
    services.stop()


def test_only_denials_keep_a_face_image_by_default(tmp_path, portrait):
    cfg = make_config(tmp_path)
    assert cfg.storage.keep_granted_images is False
    services = EventServices(cfg)
    services.on_decision(grant(cfg, frame=portrait))
    services.on_decision(denial(cfg, frame=portrait))
    services.on_decision(dataclasses.replace(denial(cfg, frame=portrait), decision="uncertain"))
    granted, denied, uncertain = services.store.events()
    services.stop()
    assert (granted.snapshot_path, granted.crop_path) == (None, None)
    for event in (denied, uncertain):
        assert Path(event.snapshot_path).is_file() and Path(event.crop_path).is_file()
    files = sorted(p.name for p in (tmp_path / "snapshots").rglob("*.jpg"))
    assert len(files) == 4 and not [name for name in files if "granted" in name]


@pytest.mark.parametrize("storage, kept", [({"keep_granted_images": True}, True),
                                           ({"keep_granted_images": True, "privacy": True}, False)])
def test_grants_keep_an_image_only_when_asked_and_never_in_privacy_mode(tmp_path, portrait, storage, kept):
    cfg = make_config(tmp_path, storage=storage)
    services = EventServices(cfg)
    services.on_decision(grant(cfg, frame=portrait))
    (granted,) = services.store.events()
    services.stop()
    assert (granted.snapshot_path is not None, granted.crop_path is not None) == (kept, kept)
    assert len(list((tmp_path / "snapshots").rglob("*.jpg"))) == (2 if kept else 0)
