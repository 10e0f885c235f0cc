"""The outbox of MQTT messages and webhook posts (``deliveries_out``) on a real SQLite file: queued in
the event's own transaction, pending until delivered, retried later, forgotten with their event."""

from __future__ import annotations

import json
import time
from datetime import datetime

import pytest

from kiosk.events.store import EventStore, Outgoing
from kiosk.records import DecisionEvent


def denial() -> DecisionEvent:
    return DecisionEvent(time=datetime.now().astimezone(), kiosk_id="test-door", decision="denied",
                         label="without_mask", score=0.9, faces=1)


def messages(event_id: int) -> list[Outgoing]:
    payload = json.dumps({"id": f"test-door:{event_id}"})
    return [Outgoing("mqtt", "kiosk/test-door/decision", payload), Outgoing("webhook", "http://127.0.0.1/h", payload)]


@pytest.fixture()
def store(tmp_path):
    opened = EventStore(tmp_path / "events.sqlite3")
    yield opened
    opened.close()


def test_messages_are_queued_with_their_event_and_carry_its_id(store):
    event_id, _, _ = store.record_event(denial(), None, None, alert=False, cooldown_s=0, outgoing=messages)
    mqtt = store.due_outgoing("mqtt", time.time(), 10)
    assert [(r.target, r.event_id, json.loads(r.payload)["id"]) for r in mqtt] == [
        ("kiosk/test-door/decision", event_id, f"test-door:{event_id}")]
    assert [r.target for r in store.due_outgoing("webhook", time.time(), 10)] == ["http://127.0.0.1/h"]
    health_id, _ = store.record_health(datetime.now().astimezone(), "test-door", "camera-offline", "note",
                                       alert=False, outgoing=messages)
    assert [r.event_id for r in store.due_outgoing("mqtt", time.time(), 10)] == [event_id, health_id]


def test_a_failed_message_kills_nothing_the_event_is_rolled_back_with_it(store):
    def broken(event_id: int) -> list[Outgoing]:
        raise ValueError("cannot compose")

    with pytest.raises(ValueError):
        store.record_event(denial(), None, None, alert=True, cooldown_s=0, outgoing=broken)
    assert store.events() == [] and store.pending() == [] and store.outgoing_counts() == {}


def test_pending_until_delivered_and_a_failure_waits_for_its_next_attempt(store):
    store.record_event(denial(), None, None, alert=False, cooldown_s=0, outgoing=messages)
    store.record_event(denial(), None, None, alert=False, cooldown_s=0, outgoing=messages)
    first, second = store.due_outgoing("mqtt", time.time(), 10)
    assert store.due_outgoing("mqtt", time.time(), 10, skip_ids={first.id}) == [second]
    assert store.due_outgoing("webhook", time.time(), 10, skip_targets={"http://127.0.0.1/h"}) == []
    assert store.delivered([first.id], time.time()) == 1
    assert store.delivered([first.id], time.time()) == 0  # once
    later = time.time() + 60
    store.retry_later(second.id, "ConnectionRefusedError", later)
    assert store.due_outgoing("mqtt", time.time(), 10) == []
    assert store.next_outgoing_due("mqtt") == pytest.approx(later)
    again = store.due_outgoing("mqtt", later + 1, 10)
    assert [(r.id, r.attempts) for r in again] == [(second.id, 1)]
    assert store.outgoing_counts() == {"mqtt": {"pending": 1, "sent": 1}, "webhook": {"pending": 2}}
    assert store.forget_delivered(time.time() + 1) == 1 and store.outgoing_counts()["mqtt"] == {"pending": 1}


def test_deleting_an_event_deletes_its_queued_messages(store):
    event_id, _, _ = store.record_event(denial(), None, None, alert=True, cooldown_s=0, outgoing=messages)
    store.delete_event(event_id)
    assert store.outgoing_counts() == {}
