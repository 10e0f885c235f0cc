"""main.py run with [fleet] database_url: the real kiosk subprocess, the real model, a real PostgreSQL."""

from __future__ import annotations

import subprocess

import psycopg

from tests.helpers import PROJECT_ROOT
from tests.helpers.cli import main_command
from tools.alert_drill import write_toml
from tools.measure_window import write_door_video


def test_a_headless_kiosk_copies_its_events_and_says_it_is_alive(tmp_path, fleet_url, postgres, model_dir):
    video = write_door_video(tmp_path / "door.mp4", [("empty", 1), ("unmasked", 3), ("empty", 1), ("masked", 3)],
                             fps=12, size=(320, 240), scale=0.5, swaying=True)
    config = write_toml(tmp_path / "kiosk.toml", {
        "kiosk": {"id": "east-door"}, "fleet": {"database_url": fleet_url},
        "storage": {"database": str(tmp_path / "events.sqlite3"), "snapshots": str(tmp_path / "snapshots"),
                    "reports": str(tmp_path / "reports")}})
    done = subprocess.run(main_command("run", "--headless", "--source", str(video), "--config", str(config),
                                       "--model", str(model_dir)),
                          capture_output=True, text=True, timeout=240, cwd=PROJECT_ROOT)
    assert done.returncode == 0, done.stderr
    assert postgres.password not in done.stderr + done.stdout
    with psycopg.connect(fleet_url, password=postgres.password) as conn:
        events = conn.execute("SELECT kiosk_id, kind, decision, source FROM events ORDER BY event_id").fetchall()
        kiosks = conn.execute("SELECT kiosk_id, camera_state, last_seen IS NOT NULL FROM kiosks").fetchall()
    assert events == [("east-door", "decision", "denied", "file"), ("east-door", "decision", "granted", "file")]
    assert kiosks == [("east-door", "offline", True)]  # the replay has ended
