"""Copy marks: how far a copier (the fleet sync) has copied the event log, kept in the log itself."""

from __future__ import annotations

from kiosk.config import build_config
from kiosk.events.store import EventStore
from tools.alert_drill import denial


def test_events_after_a_mark_in_id_order_and_marks_never_move_back(tmp_path):
    cfg = build_config({})
    store = EventStore(tmp_path / "events.sqlite3")
    ids = [store.record_event(denial(cfg, with_frame=False), None, None, alert=False, cooldown_s=0)[0]
           for _ in range(5)]
    assert store.copy_mark("fleet") == 0
    assert [e.id for e in store.events_after(0, 3)] == ids[:3]
    store.set_copy_mark("fleet", ids[2])
    store.set_copy_mark("fleet", ids[1])  # a slower copier finishing late
    assert store.copy_mark("fleet") == ids[2]
    assert [e.id for e in store.events_after(store.copy_mark("fleet"), 100)] == ids[3:]
    assert store.copy_mark("other") == 0
    store.close()
    reopened = EventStore(tmp_path / "events.sqlite3")
    assert reopened.copy_mark("fleet") == ids[2]  # durable
    reopened.close()
