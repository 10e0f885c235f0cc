"""The fleet store answers the console (kiosk.web.data.ConsoleData) from real rows two kiosks copied."""

from __future__ import annotations

import sqlite3
import threading
from datetime import date, datetime, timedelta

import cv2
import psycopg
import pytest

from kiosk.events.store import EventStore
from kiosk.fleet.store import FleetStore
from kiosk.fleet.sync import FleetSync
from kiosk.web.data import ConsoleData, EventFilter
from tests.fleet.conftest import fleet_config
from tests.fleet.test_sync import visitor

DAY = date(2026, 3, 2)


def at(hour: int, minute: int = 0, day: date = DAY) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute).astimezone()


@pytest.fixture
def fleet(tmp_path, fleet_url, portrait):
    """north-door: 3 decisions on DAY (8:00 granted, 8:30 denied with a face, 14:00 uncertain), a health
    event and one decision the day before; south-door: 2 grants on DAY and a demo grant."""
    stores = {}
    for kiosk_id, visits in {
        "north-door": [(at(8), "granted"), (at(8, 30), "denied"), (at(14), "uncertain"),
                       (at(20, day=DAY - timedelta(days=1)), "denied")],
        "south-door": [(at(9), "granted"), (at(9, 5), "granted"), (at(9, 6), "demo")],
    }.items():
        folder = tmp_path / kiosk_id
        cfg = fleet_config(folder, fleet_url, kiosk_id=kiosk_id, sync_images=True)
        store = EventStore(folder / "events.sqlite3")
        for when, decision in visits:
            source = "demo" if decision == "demo" else "camera"
            event = visitor(cfg, "granted" if decision == "demo" else decision, source, when)
            face = None
            if decision == "denied" and when.date() == DAY:
                face = str(folder / "face.png")
                folder.mkdir(parents=True, exist_ok=True)
                cv2.imwrite(face, portrait)
            store.record_event(event, None, face, False, 0)
        if kiosk_id == "north-door":
            store.record_health(at(10), kiosk_id, "camera-offline", "no frame for 30 s", False)
        FleetSync(cfg.fleet, kiosk_id, store, FleetStore.from_settings(cfg.fleet), threading.Event()).sync_all()
        stores[kiosk_id] = (cfg, store)
    console = FleetStore.from_settings(cfg.fleet)
    yield console, stores
    console.close()


def test_it_is_the_console_protocol(fleet):
    console, _ = fleet
    assert isinstance(console, FleetStore)
    assert all(callable(getattr(console, name)) for name in ConsoleData.__dict__ if not name.startswith("_"))


def test_kiosks_overview_counts_the_day_and_says_who_is_online(fleet, fleet_url, postgres):
    console, _ = fleet
    north, south = console.kiosks(DAY)
    assert (north.kiosk_id, north.granted, north.denied, north.uncertain, north.online) == ("north-door", 1, 1, 1, True)
    assert (south.kiosk_id, south.granted, south.denied, south.uncertain) == ("south-door", 2, 0, 0)  # no demo
    with psycopg.connect(fleet_url, password=postgres.password) as conn:
        conn.execute("UPDATE kiosks SET last_seen = now() - interval '10 minutes' WHERE kiosk_id = 'south-door'")
    assert [k.online for k in console.kiosks(DAY)] == [True, False]
    assert [(k.granted, k.denied) for k in console.kiosks(DAY - timedelta(days=1))] == [(0, 1), (0, 0)]
    assert console.kiosk_ids() == ["north-door", "south-door"]


def test_events_filtered_and_paged_newest_first_with_the_total(fleet):
    console, _ = fleet
    page, total = console.events(EventFilter(), 0, 2)
    assert total == 6 and [(e.kiosk_id, e.time) for e in page] == [("north-door", at(14)), ("south-door", at(9, 5))]
    page, total = console.events(EventFilter(), 4, 10)
    assert total == 6 and [e.time for e in page] == [at(8), at(20, day=DAY - timedelta(days=1))]
    _, total = console.events(EventFilter(day=DAY), 0, 10)
    assert total == 5
    page, total = console.events(EventFilter(kiosk_id="south-door"), 0, 10)
    assert total == 2 and {e.decision for e in page} == {"granted"}
    page, total = console.events(EventFilter(decision="denied", label="without_mask"), 0, 10)
    assert total == 2 and [e.has_snapshot for e in page] == [True, False]
    page, total = console.events(EventFilter(kind="health"), 0, 10)
    assert total == 1 and (page[0].decision, page[0].label, page[0].note) == ("health", "camera-offline",
                                                                               "no frame for 30 s")
    assert console.events(EventFilter(kind="any"), 0, 0) == ([], 7)
    assert page[0].time == at(10) and page[0].time.utcoffset() == at(10).utcoffset()  # as the kiosk saw it


def test_one_event_and_its_snapshot(fleet):
    console, _ = fleet
    denied = console.event("north-door", 2)
    assert (denied.decision, denied.score, denied.source, denied.has_snapshot) == ("denied", pytest.approx(0.93),
                                                                                  "camera", True)
    assert console.snapshot("north-door", 2).startswith(b"\x89PNG")
    assert console.snapshot("north-door", 1) is None  # a grant keeps no face
    assert console.event("north-door", 99) is None and console.event("west-door", 1) is None


def test_hourly_counts_per_kiosk_and_for_the_fleet(fleet):
    console, _ = fleet
    north = console.hourly_counts(DAY, "north-door")
    assert (north["granted"][8], north["denied"][8], north["uncertain"][14]) == (1, 1, 1)
    assert sum(map(sum, north.values())) == 3 and all(len(hours) == 24 for hours in north.values())
    fleet_wide = console.hourly_counts(DAY, None)
    assert (fleet_wide["granted"][8], fleet_wide["granted"][9]) == (1, 2)


def test_delete_event_removes_it_and_a_copy_arriving_later_is_refused(fleet, tmp_path):
    console, stores = fleet
    assert console.delete_event("north-door", 2) is True
    assert console.event("north-door", 2) is None and console.snapshot("north-door", 2) is None
    assert console.delete_event("north-door", 2) is False
    cfg, store = stores["north-door"]
    with sqlite3.connect(store.path) as db:  # the kiosk copies everything again (a lost mark)
        db.execute("UPDATE copy_marks SET event_id = 0")
    sync = FleetSync(cfg.fleet, "north-door", store, FleetStore.from_settings(cfg.fleet), threading.Event())
    assert sync.sync_all() == 5 and sync.copied == 0
    assert console.event("north-door", 2) is None
    _, total = console.events(EventFilter(kiosk_id="north-door", kind="any"), 0, 10)
    assert total == 4


def test_the_console_rides_over_a_server_restart(fleet, postgres):
    console, _ = fleet
    assert len(console.kiosks(DAY)) == 2  # connected
    postgres.stop()
    postgres.start()
    assert len(console.kiosks(DAY)) == 2  # the broken connection is replaced at once, no error page
