"""``main.py set-pin`` typed at a real pseudo-terminal (pty.fork: the command's controlling terminal,
where getpass turns echo off): the config gets a hash that verifies, and the PIN is nowhere, neither
in the file nor in anything the terminal showed."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kiosk.admin_pin import verify_pin
from kiosk.config import load_config
from tests.helpers import PROJECT_ROOT

PIN = "7km#Q2"  # letters no hex digest can contain by chance


def read_until(fd: int, wanted: bytes, seen: bytearray, timeout_s: float = 30.0) -> None:
    """Read the terminal into ``seen`` until ``wanted`` shows in what comes from now on."""
    start = len(seen)
    deadline = time.monotonic() + timeout_s
    while wanted not in seen[start:]:
        ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
        if not ready:
            raise AssertionError(f"no {wanted!r} on the terminal; it showed {bytes(seen)!r}")
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # the child is gone (EIO)
            chunk = b""
        if not chunk:
            raise AssertionError(f"the terminal closed before {wanted!r}; it showed {bytes(seen)!r}")
        seen += chunk


def at_terminal(args: list[str], answers: list[str], cwd: Path) -> tuple[int, str]:
    """Run ``main.py args`` on a new pty, type each answer after each prompt; (exit status, all it showed)."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: its stdin, stdout, stderr and /dev/tty are the pty
        os.chdir(cwd)
        try:
            os.execv(sys.executable, [sys.executable, str(PROJECT_ROOT / "main.py"), *args])
        finally:
            os._exit(127)
    seen = bytearray()
    try:
        for answer in answers:
            read_until(fd, b": ", seen)  # the prompt (getpass drops anything typed before it)
            os.write(fd, answer.encode() + b"\r")
            read_until(fd, b"\n", seen)  # getpass ends the line itself, showing nothing typed
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.5)
            if ready:
                try:
                    chunk = os.read(fd, 4096)
                except OSError:
                    chunk = b""
                if not chunk:
                    break
                seen += chunk
    finally:
        for _ in range(100):  # a child still waiting for input is killed after 10 s, never waited on forever
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                break
            time.sleep(0.1)
        else:
            os.kill(pid, 9)
            _, status = os.waitpid(pid, 0)
        os.close(fd)
    return os.waitstatus_to_exitcode(status), seen.decode("utf-8", "replace").replace("\r\n", "\n")


def test_set_pin_writes_a_hash_that_verifies_and_the_pin_is_nowhere(tmp_path):
    config = tmp_path / "kiosk.toml"
    config.write_text('# the site\'s settings\n[ui]\nlanguage = "fr"\n', encoding="utf-8")
    code, shown = at_terminal(["set-pin", "--config", str(config)], [PIN, PIN], tmp_path)
    assert code == 0, shown
    assert "New staff PIN: " in shown and "The same PIN again: " in shown
    assert f"staff PIN set in {config}" in shown and "restart the kiosk" in shown
    text = config.read_text(encoding="utf-8")
    assert PIN not in shown and PIN not in text  # echo was off, and only the hash is stored
    assert text.startswith("# the site's settings\n[ui]\n") and 'language = "fr"' in text
    stored = load_config(config).ui.admin_pin_hash
    assert verify_pin(PIN, stored) and not verify_pin(PIN[:-1], stored)


def test_set_pin_in_the_working_directory_by_default(tmp_path):
    code, shown = at_terminal(["set-pin"], [PIN, PIN], tmp_path)
    assert code == 0, shown
    assert verify_pin(PIN, load_config(tmp_path / "kiosk.toml").ui.admin_pin_hash)
    assert "note: every user of this machine can read kiosk.toml" in shown  # created with the usual umask


@pytest.mark.parametrize("answers, error", [
    ([PIN, PIN + "x"], "error: the two PINs differ; nothing changed"),
    (["123"], "error: a PIN needs at least 4 digits or characters; nothing changed"),
    ([""], "error: a PIN needs at least 4 digits or characters; nothing changed"),
])
def test_set_pin_refuses_and_changes_nothing(tmp_path, answers, error):
    config = tmp_path / "kiosk.toml"
    config.write_text("[ui]\nsound = false\n", encoding="utf-8")
    code, shown = at_terminal(["set-pin", "--config", str(config)], answers, tmp_path)
    assert code == 2 and error in shown, shown
    assert config.read_text(encoding="utf-8") == "[ui]\nsound = false\n"
    assert all(a not in shown for a in answers if a)


def test_set_pin_without_a_terminal_says_so(tmp_path):
    config = tmp_path / "kiosk.toml"
    result = subprocess.run([sys.executable, str(PROJECT_ROOT / "main.py"), "set-pin", "--config", str(config)],
                            input=f"{PIN}\n{PIN}\n", capture_output=True, text=True, cwd=tmp_path, timeout=60,
                            start_new_session=True)  # no controlling terminal: no /dev/tty
    assert result.returncode == 2
    assert result.stderr == "error: set-pin reads the PIN from a terminal, and there is none; nothing changed\n"
    assert not config.exists() and PIN not in result.stdout + result.stderr


def test_set_pin_clear_removes_the_pin(tmp_path):
    config = tmp_path / "kiosk.toml"
    code, _ = at_terminal(["set-pin", "--config", str(config)], [PIN, PIN], tmp_path)
    assert code == 0 and load_config(config).ui.admin_pin_hash
    result = subprocess.run([sys.executable, str(PROJECT_ROOT / "main.py"), "set-pin", "--clear", "--config",
                             str(config)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"staff PIN removed from {config}")
    assert load_config(config).ui.admin_pin_hash == ""
