"""The staff PIN: its stored hash, the config key holding it, and the throttle on wrong PINs."""

from __future__ import annotations

import os
import stat
import tomllib

import pytest

from kiosk.admin_pin import (FIRST_LOCKOUT_S, MAX_LOCKOUT_S, PinThrottle, hash_pin, is_pin_hash, pin_problem,
                             verify_pin)
from kiosk.config import ConfigError, build_config, load_config, toml_text, write_setting


def test_a_hash_verifies_its_pin_only_and_never_contains_it():
    stored = hash_pin("2468")
    assert stored.startswith("scrypt$n=16384,r=8,p=1$") and "2468" not in stored
    assert verify_pin("2468", stored)
    assert not verify_pin("2469", stored) and not verify_pin("", stored) and not verify_pin("24680", stored)
    assert hash_pin("2468") != stored  # a new salt each time


@pytest.mark.parametrize("stored", [
    "", "2468", "scrypt$abc$def", "md5$00$11",
    "scrypt$n=16383,r=8,p=1$" + "00" * 16 + "$" + "11" * 32,  # n not a power of two
    "scrypt$n=1048576,r=32,p=1$" + "00" * 16 + "$" + "11" * 32,  # 4 GiB: refused, never tried
])
def test_anything_else_is_not_a_hash_and_verifies_nothing(stored):
    assert not is_pin_hash(stored) and not verify_pin("2468", stored)


def test_short_pins_are_refused():
    assert pin_problem("123") == "a PIN needs at least 4 digits or characters"
    assert pin_problem("    ") == "a PIN cannot be only spaces"
    assert pin_problem("1234") is None and pin_problem("abcd") is None
    with pytest.raises(ValueError):
        hash_pin("123")


def test_three_wrong_pins_lock_out_for_30_s_then_twice_as_long_each_time():
    now = [1000.0]
    throttle = PinThrottle(hash_pin("2468"), clock=lambda: now[0])
    assert [throttle.check("0000") for _ in range(3)] == ["wrong", "wrong", "locked"]
    assert throttle.wait_s() == FIRST_LOCKOUT_S
    assert throttle.check("2468") == "locked"  # the right PIN is refused too while locked out
    now[0] += FIRST_LOCKOUT_S - 1
    assert throttle.check("2468") == "locked" and throttle.wait_s() == 1
    now[0] += 1
    assert throttle.tries_left() == 3
    assert [throttle.check("1111") for _ in range(3)] == ["wrong", "wrong", "locked"]
    assert throttle.wait_s() == 2 * FIRST_LOCKOUT_S
    now[0] += 2 * FIRST_LOCKOUT_S
    assert throttle.check("2468") == "ok" and throttle.failures == 0
    assert [throttle.check("0000") for _ in range(3)][-1] == "locked"
    assert throttle.wait_s() == FIRST_LOCKOUT_S  # a right PIN starts the doubling again


def test_lockouts_stop_doubling_at_an_hour():
    now = [0.0]
    throttle = PinThrottle(hash_pin("2468"), clock=lambda: now[0])
    for _ in range(12):
        for _ in range(3):
            throttle.check("0000")
        now[0] += throttle.wait_s()
    throttle.check("0000"), throttle.check("0000"), throttle.check("0000")
    assert throttle.wait_s() == MAX_LOCKOUT_S


def test_without_a_pin_nothing_is_required():
    throttle = PinThrottle("")
    assert not throttle.required and throttle.check("") == "ok"


def test_config_takes_a_hash_or_nothing_and_says_what_else_is_wrong():
    stored = hash_pin("2468")
    assert build_config({"ui": {"admin_pin_hash": stored}}).ui.admin_pin_hash == stored
    assert build_config({}).ui.admin_pin_hash == "" and build_config({}).ui.voice is False
    with pytest.raises(ConfigError) as err:
        build_config({"ui": {"admin_pin_hash": "2468"}})
    assert str(err.value) == '[ui] admin_pin_hash = "2468": must be "" (no PIN) or a hash written by main.py set-pin'


@pytest.mark.parametrize("value", ['quote " back \\ slash', "line\nbreak\ttab\x7f", "é ✓", True, False, 3, 0.375])
def test_toml_text_reads_back_as_the_same_value(value):
    assert tomllib.loads(f"x = {toml_text(value)}")["x"] == value


def test_write_setting_writes_a_string_keeps_the_rest_and_the_permissions(tmp_path):
    path = tmp_path / "kiosk.toml"
    path.write_text('# site config\n[ui]\nlanguage = "fr"  # visitors\n\n[decision]\nmask_threshold = 0.4\n',
                    encoding="utf-8")
    os.chmod(path, 0o640)
    stored = hash_pin("2468")
    cfg = write_setting(path, "ui", "admin_pin_hash", stored)
    assert cfg.ui.admin_pin_hash == stored and load_config(path).ui.admin_pin_hash == stored
    text = path.read_text(encoding="utf-8")
    assert text.startswith("# site config\n[ui]\n") and 'language = "fr"  # visitors' in text
    assert "mask_threshold = 0.4" in text
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    write_setting(path, "ui", "admin_pin_hash", "")
    assert load_config(path).ui.admin_pin_hash == "" and text.count("admin_pin_hash") == 1
    write_setting(path, "decision", "mask_threshold", 0.55)  # what calibrate writes, unchanged
    assert load_config(path).decision.mask_threshold == 0.55
