"""The GPIO relay on gpiozero's own mock pins (there is no GPIO here): the pin goes high, then low."""

from __future__ import annotations

import time

import pytest
from gpiozero import OutputDevice
from gpiozero.pins.mock import MockFactory

from kiosk.outputs.door import HEALTH_DOOR_FAILED
from kiosk.outputs.gpio_relay import GpioRelay
from tests.helpers import wait_until
from tests.helpers.relay import decision

PIN = 17
OPEN_S = 0.2


@pytest.fixture()
def factory():
    pins = MockFactory()
    yield pins
    pins.close()


def states(pin) -> list[bool]:
    """The levels the pin has been driven to, repeats folded."""
    levels = [s.state for s in pin.states]
    return [level for i, level in enumerate(levels) if i == 0 or level != levels[i - 1]]


def relay(factory, events, source_kind: str = "camera", **kwargs) -> GpioRelay:
    door = GpioRelay(PIN, OPEN_S, pin_factory=factory, source_kind=source_kind, on_health=events.on_health,
                     on_manual_open=events.on_manual_open, **kwargs)
    door.start()
    return door


def test_a_grant_drives_the_pin_high_for_open_s_then_low(factory, events):
    door = relay(factory, events)
    try:
        pin = factory.pin(PIN)
        assert wait_until(lambda: pin.function == "output")
        assert pin.state is False  # locked from the start
        door.on_decision(decision("granted"))
        assert wait_until(lambda: pin.state is True, timeout=2)
        high_at = time.monotonic()
        assert wait_until(lambda: pin.state is False, timeout=2)
        assert OPEN_S - 0.02 <= time.monotonic() - high_at <= OPEN_S + 0.3
        assert states(pin) == [False, True, False]
        assert events.health == []
    finally:
        door.stop()


def test_active_low_modules_are_locked_by_a_high_pin(factory, events):
    door = relay(factory, events, active_high=False)
    try:
        pin = factory.pin(PIN)
        assert wait_until(lambda: pin.function == "output")
        assert pin.state is True
        door.on_decision(decision("granted"))
        assert wait_until(lambda: pin.state is False, timeout=2)
        assert wait_until(lambda: pin.state is True, timeout=2)
    finally:
        door.stop()


@pytest.mark.parametrize("event", [decision("denied"), decision("uncertain"), decision("granted", source="demo"),
                                   decision("granted", source="file")], ids=["denied", "uncertain", "demo", "file"])
def test_the_pin_stays_low_for_anything_but_a_live_grant(factory, events, event):
    door = relay(factory, events)
    try:
        pin = factory.pin(PIN)
        assert wait_until(lambda: pin.function == "output")
        door.on_decision(event)
        time.sleep(0.3)
        assert states(pin) == [False]
    finally:
        door.stop()


def test_stopping_drives_the_pin_low_and_releases_it(factory, events):
    door = GpioRelay(PIN, 30, pin_factory=factory, source_kind="camera")
    door.start()
    pin = factory.pin(PIN)
    door.on_decision(decision("granted"))
    assert wait_until(lambda: pin.state is True, timeout=2)
    door.stop()
    assert states(pin)[-1] is False
    assert pin.function == "input"  # gpiozero gave the pin back


def test_a_pin_in_use_keeps_the_door_locked_and_is_reported(factory, events):
    other = OutputDevice(PIN, pin_factory=factory)  # something else holds the pin
    try:
        door = relay(factory, events)
        try:
            assert wait_until(lambda: events.health, timeout=5)
            door.on_decision(decision("granted"))
            assert wait_until(lambda: door.failures == 2, timeout=5)
            assert door.opens == 0 and door.state == "failed" and not other.value
            assert events.health[0][0] == HEALTH_DOOR_FAILED and "pin 17" in events.health[0][1]
        finally:
            door.stop()
    finally:
        other.close()
