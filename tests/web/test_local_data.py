"""LocalConsoleData: the console's reader over one kiosk's SQLite log, on a real file with two
kiosks' events and the images the kiosk wrote."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from pathlib import Path

from kiosk.door.health import CAMERA_BACK, CAMERA_OFFLINE
from kiosk.events.store import EventStore
from kiosk.web.data import EventFilter
from kiosk.web.local_data import LocalConsoleData


def _data(world, **storage) -> LocalConsoleData:
    cfg = world.cfg
    if storage:
        cfg = dataclasses.replace(cfg, storage=dataclasses.replace(cfg.storage, **storage))
    return LocalConsoleData(cfg, EventStore(cfg.resolve_path(cfg.storage.database)), online_within_s=600)


def test_overview_lists_every_kiosk_with_todays_counts(world):
    data = _data(world)
    today = datetime.now().astimezone().date()
    kiosks = {k.kiosk_id: k for k in data.kiosks(today)}
    assert list(kiosks) == ["north-door", "south-door", "test-door"]  # test-door: the configured one, no events yet
    north, south, quiet = kiosks["north-door"], kiosks["south-door"], kiosks["test-door"]
    assert (north.granted, north.denied, north.uncertain) == (2, 3, 0)
    assert (south.granted, south.denied, south.uncertain) == (2, 1, 1)  # the demo denial never counts
    assert north.online and south.online and north.camera_state == "live"
    assert (quiet.online, quiet.last_seen, quiet.camera_state) == (False, None, "")
    yesterday = {k.kiosk_id: k for k in data.kiosks(today - timedelta(days=1))}
    assert yesterday["north-door"].denied == 1 and yesterday["south-door"].denied == 0
    assert data.kiosk_ids() == ["north-door", "south-door", "test-door"]  # the listings' kiosk filter


def test_camera_state_follows_the_camera_health_events(world):
    data = _data(world)
    now = datetime.now().astimezone()
    data.store.record_health(now, "north-door", CAMERA_OFFLINE, "no frame for 60 s", alert=False)
    assert {k.kiosk_id: k.camera_state for k in data.kiosks(now.date())}["north-door"] == "offline"
    data.store.record_health(now, "north-door", CAMERA_BACK, "frames again", alert=False)
    assert {k.kiosk_id: k.camera_state for k in data.kiosks(now.date())}["north-door"] == "live"


def test_events_filter_and_page_newest_first(world):
    data = _data(world)
    page, total = data.events(EventFilter(), 0, 4)
    assert total == 11 and len(page) == 4 and page[0].time >= page[-1].time
    denials, total = data.events(EventFilter(kiosk_id="north-door", decision="denied"), 0, 50)
    assert total == 4 and all(e.kiosk_id == "north-door" and e.has_snapshot for e in denials)  # one yesterday
    assert data.events(EventFilter(label="with_incorrect_mask"), 0, 50)[1] == 1
    health, total = data.events(EventFilter(kind="health"), 0, 50)
    assert total == 1 and health[0].label == "door-output-failed" and "stopped answering" in health[0].note
    assert data.events(EventFilter(kind="any"), 0, 50)[1] == 12
    today = datetime.now().astimezone().date()
    assert data.events(EventFilter(day=today - timedelta(days=1)), 0, 50)[1] == 1


def test_one_event_and_its_image(world):
    data = _data(world)
    denial, grant = world.ids["north-door"][2], world.ids["north-door"][1]
    event = data.event("north-door", denial)
    assert event is not None and event.decision == "denied" and event.has_snapshot
    assert data.snapshot("north-door", denial)[:2] == b"\xff\xd8"  # the annotated frame, a JPEG
    assert data.event("south-door", denial) is None and data.snapshot("south-door", denial) is None  # ids are per kiosk
    assert data.snapshot("north-door", grant) is None  # no image kept for a grant
    private = _data(world, privacy=True)
    assert private.snapshot("north-door", denial) is None and not private.event("north-door", denial).has_snapshot


def test_hourly_counts_per_kiosk_and_for_the_fleet(world):
    data = _data(world)
    today = datetime.now().astimezone().date()
    fleet, north = data.hourly_counts(today, None), data.hourly_counts(today, "north-door")
    assert sum(fleet["granted"]) == 4 and sum(fleet["denied"]) == 4 and sum(fleet["uncertain"]) == 1
    assert sum(north["denied"]) == 3 and len(north["granted"]) == 24


def test_delete_event_removes_the_record_and_its_images(world):
    data = _data(world)
    denial = world.ids["north-door"][2]
    stored = data.store.event(denial)
    images = [Path(stored.snapshot_path), Path(stored.crop_path)]
    assert all(path.is_file() for path in images)
    assert not data.delete_event("south-door", denial)  # another kiosk's id: nothing happens
    assert data.delete_event("north-door", denial)
    assert data.event("north-door", denial) is None and not any(path.exists() for path in images)
    assert not data.delete_event("north-door", denial)


def test_listings_get_the_face_crop_the_event_page_the_frame(world):
    import cv2
    import numpy as np

    data = _data(world)
    denial = world.ids["north-door"][2]
    frame, face = (cv2.imdecode(np.frombuffer(image, np.uint8), cv2.IMREAD_COLOR)
                   for image in (data.snapshot("north-door", denial), data.face_image("north-door", denial)))
    assert face.shape[0] < frame.shape[0] and face.shape[1] < frame.shape[1]
