"""main.py events --delete on a kiosk of a fleet: the fleet store's copy goes too, and never comes back."""

from __future__ import annotations

import threading

import pytest

from kiosk.commands.events import delete_event
from kiosk.errors import KioskError
from kiosk.events.store import EventStore
from kiosk.fleet.store import FleetStore
from kiosk.fleet.sync import FleetSync
from kiosk.web.data import EventFilter
from tests.fleet.conftest import fleet_config
from tests.fleet.test_sync import visitor


def test_deleting_on_the_kiosk_deletes_the_fleet_copy_and_refuses_late_copies(tmp_path, fleet_url):
    cfg = fleet_config(tmp_path, fleet_url)
    store = EventStore(tmp_path / "events.sqlite3")
    for decision in ("denied", "granted", "denied"):
        store.record_event(visitor(cfg, decision), None, None, False, 0)
    fleet = FleetStore.from_settings(cfg.fleet)
    sync = FleetSync(cfg.fleet, cfg.kiosk.id, store, fleet, threading.Event(), batch=1)
    assert sync.sync_once() == 1  # event 1 is copied, 2 and 3 not yet
    in_flight = store.event(3)  # a running kiosk's sync has read event 3 and is about to store it

    assert delete_event(cfg, 1).endswith(", its copy in the fleet store")
    assert delete_event(cfg, 3).endswith(", no copy in the fleet store yet (none will be made)")
    assert fleet.store_events(cfg.kiosk.id, [(in_flight, None)], "live") == 0  # refused: deleted
    sync.sync_all()
    assert [e.event_id for e in fleet.events(EventFilter(), 0, 10)[0]] == [2]
    fleet.close()


def test_nothing_is_deleted_while_the_fleet_store_cannot_be_reached(tmp_path, fleet_url, postgres):
    cfg = fleet_config(tmp_path, fleet_url)
    store = EventStore(tmp_path / "events.sqlite3")
    store.record_event(visitor(cfg, "denied"), None, None, False, 0)
    postgres.stop()
    try:
        with pytest.raises(KioskError, match=r"^event 1 not deleted: fleet store postgresql://kiosk@127\.0\.0\.1:\d+/"
                                             r"fleet_\d+: .*; try again when the fleet store can be reached$"):
            delete_event(cfg, 1)
    finally:
        postgres.start()
    assert store.event(1) is not None
