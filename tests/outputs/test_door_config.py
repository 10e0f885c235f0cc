"""[door]: every key validated with a one-line error, and the relay it names."""

from __future__ import annotations

import pytest

from kiosk.config import ConfigError, DoorSection, build_config
from kiosk.outputs.door import build_door_output
from kiosk.outputs.gpio_relay import GpioRelay
from kiosk.outputs.http_relay import HttpRelay
from kiosk.outputs.serial_relay import SerialRelay


def error_of(door: dict) -> str:
    with pytest.raises(ConfigError) as info:
        build_config({"door": door})
    message = str(info.value)
    assert "\n" not in message
    return message


def test_defaults_open_nothing():
    door = build_config({}).door
    assert door == DoorSection()
    assert (door.output, door.open_s, door.allow_remote_open) == ("none", 3.0, False)
    assert (door.on_frame, door.off_frame) == ("A0 01 01 A2", "A0 01 00 A1")
    assert build_door_output(build_config({}), "camera") is None


@pytest.mark.parametrize("door, message", [
    ({"output": "relay"}, '[door] output = "relay": must be one of "none", "serial", "gpio", "http"'),
    ({"open_s": 0}, "[door] open_s = 0: must be a number from 0.2 to 60"),
    ({"open_s": "3"}, '[door] open_s = "3": must be a number from 0.2 to 60'),
    ({"serial_port": 1}, "[door] serial_port = 1: must be a string"),
    ({"baudrate": 9600.5}, "[door] baudrate = 9600.5: must be an integer from 300 to 4000000"),
    ({"on_frame": "A0 01 01 G2"}, '[door] on_frame = "A0 01 01 G2": must be 1 to 64 bytes in hex, like "A0 01 01 A2"'),
    ({"off_frame": ""}, '[door] off_frame = "": must be 1 to 64 bytes in hex, like "A0 01 01 A2"'),
    ({"off_frame": "A0 1"}, '[door] off_frame = "A0 1": must be 1 to 64 bytes in hex, like "A0 01 01 A2"'),
    ({"gpio_pin": 64}, "[door] gpio_pin = 64: must be an integer from 0 to 63"),
    ({"gpio_active_high": "no"}, '[door] gpio_active_high = "no": must be true or false'),
    ({"http_url": "shelly.local/relay/0"},
     '[door] http_url = "shelly.local/relay/0": must be an http:// or https:// URL, or "" for none'),
    ({"http_url": "ftp://door"}, '[door] http_url = "ftp://door": must be an http:// or https:// URL, or "" for none'),
    ({"http_method": "PUT"}, '[door] http_method = "PUT": must be one of "GET", "POST"'),
    ({"http_timeout_s": 0}, "[door] http_timeout_s = 0: must be a number from 0.1 to 30"),
    ({"allow_remote_open": 1}, "[door] allow_remote_open = 1: must be true or false"),
    ({"output": "serial", "serial_port": " "},
     '[door] serial_port = " ": must name the relay board\'s port when output = "serial"'),
    ({"output": "http"}, '[door] http_url = "": must name the door controller when output = "http"'),
    ({"opens": 3}, "[door] unknown key 'opens'; known keys: " + ", ".join(DoorSection.__dataclass_fields__)),
], ids=lambda v: next(iter(v)) if isinstance(v, dict) else None)
def test_bad_values_are_one_line_naming_key_and_value(door, message):
    assert error_of(door) == message


def test_each_output_builds_its_relay_with_the_configured_values():
    serial = build_door_output(build_config({"door": {"output": "serial", "serial_port": "/dev/ttyACM0",
                                                      "baudrate": 115200, "on_frame": "a00101a2", "open_s": 5}}),
                               "camera")
    assert isinstance(serial, SerialRelay)
    assert (serial.port, serial.baudrate, serial.on_frame, serial.off_frame, serial.open_s) == (
        "/dev/ttyACM0", 115200, b"\xa0\x01\x01\xa2", b"\xa0\x01\x00\xa1", 5.0)
    gpio = build_door_output(build_config({"door": {"output": "gpio", "gpio_pin": 27, "gpio_active_high": False}}),
                             "camera")
    assert isinstance(gpio, GpioRelay) and (gpio.pin, gpio.active_high) == (27, False)
    http = build_door_output(build_config({"door": {"output": "http", "http_method": "GET", "open_s": 4,
                                                    "http_url": "http://192.0.2.7/relay/0?turn=on&timer={open_s}"}}),
                             "stream")
    assert isinstance(http, HttpRelay) and http.url == "http://192.0.2.7/relay/0?turn=on&timer=4"
    assert http.method == "GET" and http.source_kind == "stream"
