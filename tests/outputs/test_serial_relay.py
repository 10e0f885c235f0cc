"""The serial relay through a real pseudo-terminal: the exact bytes an LCUS board would receive, and when."""

from __future__ import annotations

import time
from contextlib import contextmanager
from typing import Iterator

import pytest

from kiosk.outputs.door import HEALTH_DOOR_FAILED
from kiosk.outputs.serial_relay import SerialRelay
from tests.helpers import wait_until
from tests.helpers.relay import decision

ON = bytes.fromhex("A0 01 01 A2")
OFF = bytes.fromhex("A0 01 00 A1")
OPEN_S = 0.2
SLACK_S = 0.3  # how late the lock may come on a busy 2-core machine


def relay(port: str, events, source_kind: str = "camera", open_s: float = OPEN_S, **frames) -> SerialRelay:
    door = SerialRelay(port, 9600, frames.get("on", ON), frames.get("off", OFF), open_s, source_kind=source_kind,
                       on_health=events.on_health, on_manual_open=events.on_manual_open)
    door.start()
    return door


@contextmanager
def connected(board, events, **options) -> Iterator[SerialRelay]:
    """A started relay on ``board`` that has locked the door (connecting locks: a board left
    latched by a crash is locked at start); stopped afterwards."""
    door = relay(board.port, events, **options)
    try:
        off = options.get("off", OFF)
        assert board.read(len(off)) == off
        yield door
    finally:
        door.stop()


def test_a_grant_sends_the_on_frame_then_the_off_frame_open_s_later(board, events):
    with connected(board, events) as door:
        door.on_decision(decision("granted"))
        assert board.read(4) == ON
        unlocked = board.arrivals[-1][0]
        assert board.read(4, timeout=OPEN_S + 2) == OFF
        locked = board.arrivals[-1][0]
        assert OPEN_S - 0.02 <= locked - unlocked <= OPEN_S + SLACK_S
        assert board.silent_for(0.3)
        assert door.opens == 1 and door.state == "closed" and events.health == []


def test_a_grant_while_open_extends_the_pulse(board, events):
    with connected(board, events, open_s=0.4) as door:
        door.on_decision(decision("granted"))
        assert board.read(4) == ON
        first = board.arrivals[-1][0]
        time.sleep(0.25)
        door.on_decision(decision("granted"))
        assert board.read(4) == ON  # the second visitor: the relay is told again, and the timer restarts
        assert board.read(4, timeout=3) == OFF
        assert board.arrivals[-1][0] - first >= 0.25 + 0.4 - 0.02  # locked 0.4 s after the second grant


@pytest.mark.parametrize("event", [
    decision("denied"),
    decision("uncertain"),
    decision("granted", source="demo"),
    decision("granted", source="file"),
    decision("granted", source="folder"),
], ids=["denied", "uncertain", "demo", "file", "folder"])
def test_the_door_never_opens_for_a_denial_an_uncertain_visitor_the_demo_or_a_replay(board, events, event):
    with connected(board, events) as door:
        door.on_decision(event)
        assert board.silent_for(0.5)
        assert door.opens == 0
    assert board.silent_for(0.2)  # stopping a locked door sends nothing more


@pytest.mark.parametrize("source_kind", ["demo", "file", "folder"])
def test_a_kiosk_replaying_media_never_opens_even_for_an_event_stamped_camera(board, events, source_kind):
    with connected(board, events, source_kind=source_kind) as door:
        door.on_decision(decision("granted", source="camera"))
        assert board.silent_for(0.5)


def test_a_stream_is_live(board, events):
    with connected(board, events, source_kind="stream") as door:
        door.on_decision(decision("granted", source="stream"))
        assert board.read(4) == ON


def test_stopping_locks_an_open_door_at_once(board, events):
    door = relay(board.port, events, open_s=30)
    assert board.read(4) == OFF
    door.on_decision(decision("granted"))
    assert board.read(4) == ON
    started = time.monotonic()
    door.stop()
    assert board.read(4, timeout=1) == OFF
    assert time.monotonic() - started < 1.0
    assert door.state == "stopped"
    assert not door.open_manually("too late")


def test_manual_open_pulses_whatever_the_source_and_is_reported(board, events):
    with connected(board, events, source_kind="demo") as door:
        assert door.open_manually("admin panel: delivery")
        assert board.read(4) == ON
        assert board.read(4, timeout=OPEN_S + 2) == OFF
        assert events.manual == ["admin panel: delivery"]


def test_frames_are_configurable(board, events):
    on, off = bytes.fromhex("FE 05 00 00 FF 00 98 35"), bytes.fromhex("FE 05 00 00 00 00 D9 C5")  # a Modbus board
    with connected(board, events, on=on, off=off) as door:
        door.on_decision(decision("granted"))
        assert board.read(8) == on
        assert board.read(8, timeout=OPEN_S + 2) == off


def test_a_port_that_cannot_be_opened_keeps_the_door_locked_and_is_reported_once(tmp_path, events):
    door = relay(str(tmp_path / "ttyUSB9"), events)
    try:
        assert wait_until(lambda: events.health, timeout=5)
        started = time.perf_counter()
        door.on_decision(decision("granted"))
        door.on_decision(decision("granted"))
        assert time.perf_counter() - started < 0.05  # the analysis thread never waits on the port
        assert wait_until(lambda: door.failures == 3, timeout=5)
        assert door.opens == 0 and door.state == "failed"
        assert len(events.health) == 1  # one outage, one health event
        what, note = events.health[0]
        assert what == HEALTH_DOOR_FAILED
        assert "ttyUSB9" in note and note.endswith("the door stays locked") and "\n" not in note
    finally:
        door.stop()


def test_a_board_unplugged_after_start_is_reported_and_the_door_stays_locked(board, events):
    with connected(board, events, open_s=0.3) as door:
        board.unplug()  # writing to the port fails from now on (EIO)
        door.on_decision(decision("granted"))
        assert wait_until(lambda: events.health, timeout=5)
        assert door.opens == 0 and door.state == "failed"
        assert events.health[0][0] == HEALTH_DOOR_FAILED
