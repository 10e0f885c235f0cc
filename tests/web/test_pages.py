"""What the console's pages say, through TestClient: both kiosks on the overview, filters, the
report's CSV (no demo events), and a store that cannot be read."""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime

from starlette.testclient import TestClient

from kiosk.door.decision import NO_FACE
from kiosk.errors import KioskError
from kiosk.events.store import EventStore
from kiosk.records import DecisionEvent
from kiosk.web.accounts import AccountStore
from kiosk.web.app import build_app
from kiosk.web.local_data import LocalConsoleData
from tests.web.conftest import VIEWER, sign_in


def _client(world, data=None) -> TestClient:
    data = data or LocalConsoleData(world.cfg, EventStore(world.cfg.resolve_path(world.cfg.storage.database)), 600)
    client = TestClient(build_app(data, AccountStore(world.users_db)))
    sign_in(client, *VIEWER)
    return client


def test_overview_events_and_report_csv(world):
    client = _client(world)
    overview = client.get("/").text
    assert "north-door" in overview and "south-door" in overview and "2 of 3 kiosks online" in overview
    south_denials = client.get("/events?kiosk=south-door&decision=denied").text
    assert south_denials.count('class="badge denied"') == 2  # one real, one from the demo (listed, marked demo)
    assert "1–2 of 2" in south_denials and '<tr class="demo">' in south_denials and "(not counted)" in south_denials
    bad_day = client.get("/events?day=yesterday").text
    assert "is not a day" in bad_day
    today = datetime.now().astimezone().date().isoformat()
    download = client.get(f"/reports/events.csv?day={today}")
    assert download.headers["content-disposition"] == f'attachment; filename="events-{today}.csv"'
    rows = list(csv.DictReader(io.StringIO(download.text)))
    assert len(rows) == 10 and {r["kiosk_id"] for r in rows} == {"north-door", "south-door"}
    assert "demo" not in {r["source"] for r in rows} and rows[0]["time"] <= rows[-1]["time"]
    assert len(list(csv.DictReader(io.StringIO(client.get(f"/reports/events.csv?day={today}&kiosk=south-door")
                                               .text)))) == 5  # its health event too
    chart = client.get(f"/reports/chart.png?day={today}&kiosk=north-door")
    assert chart.headers["content-type"] == "image/png" and chart.content[:4] == b"\x89PNG"


def test_visitors_whose_face_was_never_found_can_be_filtered(world):
    store = EventStore(world.cfg.resolve_path(world.cfg.storage.database))
    store.record_event(DecisionEvent(time=datetime.now().astimezone(), kiosk_id="north-door", decision="uncertain",
                                     label=NO_FACE, score=0.0, faces=0), None, None, alert=False, cooldown_s=0)
    store.close()
    client = _client(world)
    page = client.get("/events").text
    assert re.search(f"<option[^>]*>{NO_FACE}</option>", page)  # offered in the label filter
    listed = client.get(f"/events?label={NO_FACE}").text
    assert listed.count('class="badge uncertain"') == 1 and "1–1 of 1" in listed


class Unreachable:
    """A store whose every read fails the way the fleet store does when PostgreSQL is down."""

    def __getattr__(self, name):
        def fail(*args, **kwargs):
            raise KioskError("fleet database db.example.org:5432/kiosks cannot be reached: connection refused")
        return fail


def test_a_store_that_cannot_be_read_is_a_page_saying_so(world):
    client = _client(world, Unreachable())
    response = client.get("/events")
    assert response.status_code == 503 and "cannot be reached: connection refused" in response.text
