"""The console over the fleet's PostgreSQL store (a real server, the fleet tests' fixture): with
[fleet] database_url set, main.py serve's data is the fleet store, and the pages, the face
thumbnails, the report and the admin's delete work on the rows two kiosks copied there."""

from __future__ import annotations

import dataclasses

from starlette.testclient import TestClient

from kiosk.commands.serve import open_console_data
from kiosk.events.snapshots import thumbnail_png
from kiosk.events.store import EventStore
from kiosk.fleet.store import FleetStore
from kiosk.records import DEMO_SOURCE
from kiosk.web.accounts import AccountStore
from kiosk.web.app import build_app
from tests.fleet.conftest import fleet_config, fleet_url, postgres
from tests.web.conftest import ADMIN, KIOSKS, VIEWER, csrf_of, sign_in

__all__ = ["fleet_url", "postgres"]  # the fleet tests' fixtures, used here by name


def test_the_console_reads_the_fleet_store(world, tmp_path, fleet_url):
    cfg = fleet_config(tmp_path / "console", fleet_url)
    cfg = dataclasses.replace(cfg, web=dataclasses.replace(cfg.web, users_db=str(world.users_db)))
    data, name = open_console_data(cfg)
    assert isinstance(data, FleetStore) and name.startswith("the fleet store postgresql://")
    log = EventStore(world.cfg.resolve_path(world.cfg.storage.database))
    for kiosk in KIOSKS:  # what each kiosk's FleetSync copies: its events but the demo's, with face thumbnails
        events = [e for e in log.events() if e.kiosk_id == kiosk and e.source != DEMO_SOURCE]
        data.store_events(kiosk, [(e, thumbnail_png(e.thumbnail_path, 96)) for e in events], "live")
    log.close()
    accounts = AccountStore(world.users_db)
    try:
        viewer, admin = (TestClient(build_app(data, accounts), follow_redirects=False) for _ in range(2))
        sign_in(viewer, *VIEWER)
        overview = viewer.get("/").text
        assert "2 of 2 kiosks online" in overview and "north-door" in overview and "south-door" in overview
        denial = world.ids["north-door"][2]
        events = viewer.get("/events?kiosk=north-door&decision=denied").text
        assert "1–4 of 4" in events and f'/events/north-door/{denial}/thumbnail"' in events
        thumbnail = viewer.get(f"/events/north-door/{denial}/thumbnail")
        assert thumbnail.status_code == 200 and thumbnail.headers["content-type"] == "image/png"
        assert viewer.get("/reports/chart.png").content[:4] == b"\x89PNG"
        assert "door-output-failed" in viewer.get("/health").text
        page = viewer.get(f"/events/north-door/{denial}").text
        assert viewer.post(f"/events/north-door/{denial}/delete",
                           data={"confirm": "yes", "csrf": csrf_of(page)}).status_code == 403
        sign_in(admin, *ADMIN)
        page = admin.get(f"/events/north-door/{denial}").text
        assert admin.post(f"/events/north-door/{denial}/delete",
                          data={"confirm": "yes", "csrf": csrf_of(page)}).status_code == 303
        assert admin.get(f"/events/north-door/{denial}").status_code == 404
        assert TestClient(build_app(data, accounts), follow_redirects=False).get("/events").status_code == 303
    finally:
        accounts.close()
        data.close()
