"""``main.py run`` with ``[door] output = "serial"`` drives the relay: the real kiosk as a subprocess, the real
model, a relay board on a pty, a network camera on loopback, the real event database."""

from __future__ import annotations

import json
import signal
import subprocess
from pathlib import Path

from tests.helpers import PROJECT_ROOT
from tests.helpers.cli import main_command, start_headless, stop_with
from tests.helpers.events import kiosk_settings
from tests.helpers.mjpeg import MjpegCamera
from tools.alert_drill import write_toml
from tools.measure_window import door_frame, sway, write_door_video

ON = bytes.fromhex("A0 01 01 A2")
OFF = bytes.fromhex("A0 01 00 A1")
SIZE = (320, 240)


def door_config(tmp_path: Path, door: dict) -> Path:
    settings = kiosk_settings(tmp_path)
    settings["door"] = {"output": "serial", "open_s": 0.5, **door}
    return write_toml(tmp_path / "kiosk.toml", settings)


def events_of(config: Path) -> list[dict]:
    listed = subprocess.run(main_command("events", "--all", "--json", "--config", str(config)), capture_output=True,
                            text=True, timeout=60, cwd=PROJECT_ROOT)
    assert listed.returncode == 0, listed.stderr
    return [json.loads(line) for line in listed.stdout.splitlines()]


def test_a_grant_at_a_live_camera_unlocks_the_door_and_stopping_locks_it(tmp_path, model_dir, board):
    empty, masked = door_frame("empty", SIZE, 0.5), door_frame("masked", SIZE, 0.5)
    with MjpegCamera(lambda i: empty if i < 12 else sway(masked, i), fps=12) as camera:
        config = door_config(tmp_path, {"serial_port": board.port, "open_s": 30})
        kiosk = start_headless("--source", camera.url, "--config", str(config), "--model", str(model_dir))
        try:
            assert board.read(4, timeout=60) == OFF  # the kiosk started and locked the door
            assert board.read(4, timeout=60) == ON  # the visitor with a mask
            line = kiosk.stdout.readline()
            assert json.loads(line)["decision"] == "granted"
        finally:
            out, err = stop_with(kiosk, signal.SIGTERM)
    assert kiosk.returncode == 0, err
    assert board.read(4, timeout=5) == OFF  # the kiosk stopped: the door is locked, 30 s early
    assert "door unlocked for 30 s (granted" in err and "Traceback" not in err


def test_a_replayed_video_never_unlocks_the_door(tmp_path, model_dir, board):
    video = write_door_video(tmp_path / "door.mp4", [("empty", 1), ("masked", 3)], fps=12, size=SIZE, scale=0.5,
                             swaying=True)
    config = door_config(tmp_path, {"serial_port": board.port})
    done = subprocess.run(main_command("run", "--headless", "--source", str(video), "--config", str(config),
                                       "--model", str(model_dir)),
                          capture_output=True, text=True, timeout=240, cwd=PROJECT_ROOT)
    assert done.returncode == 0, done.stderr
    assert [json.loads(line)["decision"] for line in done.stdout.splitlines()] == ["granted"]
    assert board.read(8, timeout=1) == OFF  # locked at start, and nothing else


def test_a_relay_board_that_is_missing_is_a_health_event_and_the_kiosk_runs_on(tmp_path, model_dir):
    video = write_door_video(tmp_path / "door.mp4", [("empty", 1)], fps=12, size=SIZE, scale=0.5)
    config = door_config(tmp_path, {"serial_port": str(tmp_path / "ttyUSB9")})
    done = subprocess.run(main_command("run", "--headless", "--source", str(video), "--config", str(config),
                                       "--model", str(model_dir)),
                          capture_output=True, text=True, timeout=240, cwd=PROJECT_ROOT)
    assert done.returncode == 0, done.stderr
    failures = [line for line in done.stderr.splitlines() if "ttyUSB9" in line]
    assert len(failures) == 1 and "the door stays locked" in failures[0], done.stderr
    health = [e for e in events_of(config) if e["kind"] == "health"]
    assert [(e["label"], e["source"]) for e in health] == [("door-output-failed", "file")]
    assert "ttyUSB9" in health[0]["policy_note"]
