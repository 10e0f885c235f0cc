"""EventStore.search, the web console's listing query: filters, newest first, paging with a total,
and finding every kiosk of a log by leaving out the ones already found."""

from __future__ import annotations

from datetime import datetime, timedelta

from kiosk.events.store import EventStore
from kiosk.records import DecisionEvent


def _decision(when: datetime, kiosk: str, decision: str, label: str) -> DecisionEvent:
    return DecisionEvent(time=when, kiosk_id=kiosk, decision=decision, label=label, score=0.9, faces=1)


def test_search_filters_pages_and_counts(tmp_path):
    store = EventStore(tmp_path / "e.sqlite3")
    start = datetime(2026, 11, 23, 8, 0).astimezone()
    for i in range(7):
        kiosk = "north" if i % 2 else "south"
        decision, label = ("denied", "without_mask") if i % 3 else ("granted", "with_mask")
        store.record_event(_decision(start + timedelta(minutes=i), kiosk, decision, label), None, None,
                           alert=False, cooldown_s=0)
    store.record_health(start + timedelta(days=1), "north", "door-output-failed", "relay gone", alert=False)

    page, total = store.search(limit=3)
    assert total == 8 and [e.kind for e in page] == ["health", "decision", "decision"]
    assert [e.id for e in page] == [8, 7, 6] and [e.id for e in store.search(offset=6, limit=3)[0]] == [2, 1]
    south_denials, total = store.search(kiosk_id="south", decision="denied", kind="decision")
    assert total == 2 and {(e.kiosk_id, e.decision) for e in south_denials} == {("south", "denied")}
    assert store.search(label="with_mask")[1] == 3
    assert store.search(day=start.date())[1] == 7 and store.search(day=start.date() + timedelta(days=1))[1] == 1
    assert store.search(kiosk_id="east")[1] == 0 and store.search(limit=0) == ([], 8)

    newest = store.newest_per_kiosk()  # every kiosk of the log, each with its newest event
    assert sorted(newest) == ["north", "south"]
    for kiosk, event in newest.items():
        assert event.id == max(e.id for e in store.events() if e.kiosk_id == kiosk)
    by_kiosk = store.decision_counts_by_kiosk(start.date())
    assert set(by_kiosk) <= {"north", "south"} and by_kiosk
    for day in (start.date(), start.date() + timedelta(days=1)):
        totals: dict[str, int] = {}
        for per_kiosk in store.decision_counts_by_kiosk(day).values():
            for decision, n in per_kiosk.items():
                totals[decision] = totals.get(decision, 0) + n
        assert totals == store.decision_counts(day)
        assert sum(totals.values()) == sum(1 for e in store.events(day=day) if e.kind == "decision")
