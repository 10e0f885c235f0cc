"""Each event records the kind of source it came from, end to end: the headless kiosk as a real
subprocess with the real model, its real event database, and a real loopback SMTP server."""

from __future__ import annotations

import json
import subprocess
from datetime import datetime
from pathlib import Path

import pytest

from tests.helpers import PROJECT_ROOT
from tests.helpers.cli import main_command
from tests.helpers.events import write_config
from tools.loopback_smtp import LoopbackSmtp
from tools.measure_window import write_door_video

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")

DEMO_FRAMES = 270  # one loop of the demo at 25 fps (10.6 s): a denial, then a grant


def main_py(*args: str, timeout: float = 240) -> subprocess.CompletedProcess:
    return subprocess.run(main_command(*args), capture_output=True, text=True, timeout=timeout, cwd=PROJECT_ROOT)


def events_json(config: Path, *options: str) -> list[dict]:
    listed = main_py("events", "--json", *options, "--config", str(config), timeout=60)
    assert listed.returncode == 0, listed.stderr
    return [json.loads(line) for line in listed.stdout.splitlines()]


def test_a_headless_demo_run_records_demo_events_that_are_never_emailed_listed_or_counted(tmp_path, model_dir):
    with LoopbackSmtp() as server:
        config = write_config(tmp_path, server.port, email={"notify_on": ["denied", "uncertain", "granted"]})
        done = main_py("run", "--headless", "--source", "demo", "--max-frames", str(DEMO_FRAMES),
                       "--config", str(config), "--model", str(model_dir))
        assert done.returncode == 0, done.stderr
        decisions = [json.loads(line)["decision"] for line in done.stdout.splitlines()]
        assert decisions == ["denied", "granted"], done.stdout
        received = server.wait_for(1, timeout_s=3)
    assert received == []  # the alert sender ran, and had nothing to send

    assert events_json(config) == []
    table = main_py("events", "--config", str(config), timeout=60)
    assert table.stdout.splitlines()[-1] == "0 events (2 demo events not shown: --include-demo)"
    everything = events_json(config, "--all")
    assert [(e["decision"], e["source"], e["alert_state"]) for e in everything] == [
        ("denied", "demo", "none"), ("granted", "demo", "none")]
    assert [e["id"] for e in events_json(config, "--include-demo")] == [e["id"] for e in everything]
    report = main_py("report", "--out", str(tmp_path / "report"), "--config", str(config), timeout=60)
    assert report.returncode == 0, report.stderr
    day = datetime.now().astimezone().date().isoformat()
    page = (tmp_path / "report" / f"report-{day}.html").read_text(encoding="utf-8")
    assert "<b>0</b> granted, <b>0</b> denied" in page and "data:image" not in page


def test_a_headless_run_of_a_video_file_records_source_file(tmp_path, model_dir):
    video = write_door_video(tmp_path / "door.mp4", [("empty", 1), ("unmasked", 3), ("empty", 1), ("masked", 3)],
                             fps=12, size=(320, 240), scale=0.5, swaying=True)
    config = write_config(tmp_path)
    done = main_py("run", "--headless", "--source", str(video), "--config", str(config), "--model", str(model_dir))
    assert done.returncode == 0, done.stderr
    events = events_json(config)
    assert [(e["kind"], e["decision"], e["source"]) for e in events] == [
        ("decision", "denied", "file"), ("decision", "granted", "file")], done.stdout
    denied, granted = events
    assert Path(denied["crop_path"]).is_file() and granted["snapshot_path"] is None  # no face kept for a grant
