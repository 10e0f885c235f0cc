"""Headless mode end to end: real model, default detector, generated videos, real subprocesses."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import signal
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

from tests.helpers.cli import closed_pipe_run, main_command, start_headless, stderr_until, stop_with
from kiosk.vision.classifier import MaskClassifier
from kiosk.config import CameraSection, Config, ModelSection, StorageSection
from kiosk.door.headless import build_headless_runtime, run_headless
from kiosk.vision.pipeline import FrameAnalyzer
from kiosk.vision.detection import build_detector
from kiosk.camera.sources import open_source
from tools.measure_window import write_door_video

from tests.helpers import PROJECT_ROOT
FPS = 12  # 8 s of video in 96 frames keeps the test quick; decisions run on media time anyway
SIZE = (320, 240)  # a ~110 px face, like a person a metre or two from the camera
JSON_KEYS = {"time", "decision", "label", "score", "faces"}


def door_video(path: Path, fps: int = FPS) -> Path:
    """1 s nobody, 3 s a person without a mask, 1 s nobody, 3 s a person with a mask, swaying
    by a few pixels as people at a door do."""
    segments = [("empty", 1), ("unmasked", 3), ("empty", 1), ("masked", 3)]
    return write_door_video(path, segments, fps=fps, size=SIZE, scale=0.5, swaying=True)


@pytest.fixture(scope="module")
def video(tmp_path_factory) -> Path:
    return door_video(tmp_path_factory.mktemp("headless") / "door.mp4")



def decisions_of(stdout: str) -> list[dict]:
    lines = [json.loads(line) for line in stdout.splitlines()]
    for line in lines:
        assert set(line) == JSON_KEYS
        assert line["decision"] in ("granted", "denied", "uncertain")
        assert 0.0 <= line["score"] <= 1.0 and isinstance(line["faces"], int)
    return lines


def test_headless_prints_denied_then_granted_for_a_door_video(video, config_file, model_dir):
    done = subprocess.run(main_command("run", "--headless", "--source", str(video), "--config", str(config_file),
                                       "--model", str(model_dir)),
                          capture_output=True, text=True, timeout=240, cwd=PROJECT_ROOT)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert "blazeface-short+tracking" in done.stderr  # the default detector, tracking on video
    lines = decisions_of(done.stdout)
    assert [(d["decision"], d["label"], d["faces"]) for d in lines] == [
        ("denied", "without_mask", 1), ("granted", "with_mask", 1)], done.stdout
    # decided on media time: the face appears at 1 s and the mask at 5 s, so the two decisions are
    # 4 s of video apart however long the machine took to analyse the frames
    denied_at, granted_at = (datetime.fromisoformat(d["time"]) for d in lines)
    assert (granted_at - denied_at).total_seconds() == pytest.approx(4.0, abs=0.25)
    # and both went through the event services into the event log
    events = subprocess.run(main_command("events", "--all", "--csv", "--config", str(config_file)),
                            capture_output=True, text=True, timeout=60, cwd=PROJECT_ROOT)
    assert events.returncode == 0, events.stderr
    rows = list(csv.DictReader(io.StringIO(events.stdout)))
    assert [row["decision"] for row in rows] == ["denied", "granted"], events.stdout


def test_file_replay_is_lossless_and_deterministic(video, tmp_path, model_dir):
    cfg = dataclasses.replace(
        Config(), camera=dataclasses.replace(CameraSection(), source=str(video)),
        model=ModelSection(dir=str(model_dir)),
        storage=dataclasses.replace(StorageSection(), database=str(tmp_path / "e.db"), snapshots=str(tmp_path / "s")))
    analyzer = FrameAnalyzer(build_detector(cfg.detection), MaskClassifier(model_dir))
    runs = []
    for _ in range(2):
        out = io.StringIO()
        runtime = build_headless_runtime(cfg, analyzer, open_source(cfg), stream=out)
        assert run_headless(runtime) == 0
        assert runtime.frames_analyzed == 8 * FPS and runtime.frames.dropped == 0
        updates = []
        while not runtime.updates.empty():
            updates.append(runtime.updates.get_nowait())
        assert updates[-1].source_state == "ended" and updates[-1].status_text == "Video ended"
        runs.append([{k: v for k, v in d.items() if k != "time"} for d in decisions_of(out.getvalue())])
    assert runs[0] == runs[1] and len(runs[0]) == 2


def test_max_frames_stops_and_tensorflow_is_never_imported(config_file, model_dir):
    script = (
        "import sys\n"
        "from kiosk.cli import main\n"
        f"rc = main(['run', '--headless', '--source', 'demo', '--max-frames', '12', '--config', {str(config_file)!r},"
        f" '--model', {str(model_dir)!r}])\n"
        "heavy = sorted(m for m in ('tensorflow', 'keras', 'tkinter') if m in sys.modules)\n"
        "print('HEAVY', heavy, file=sys.stderr)\n"
        "sys.exit(rc)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, cwd=PROJECT_ROOT)
    assert done.returncode == 0, done.stderr
    assert "HEAVY []" in done.stderr
    assert "12 frames analysed" in done.stderr
    assert done.stdout == ""  # the demo starts with 1.5 s of nobody: no decision in 12 frames





def test_sigterm_stops_a_headless_run_cleanly(config_file, model_dir):
    proc = start_headless("--source", "demo", "--config", str(config_file), "--model", str(model_dir))
    seen = stderr_until(proc, "kiosk runtime started")
    assert seen and "kiosk runtime started" in seen[-1], "".join(seen)
    stdout, stderr = stop_with(proc, signal.SIGTERM)
    assert proc.returncode == 0, stderr
    assert "SIGTERM received: stopping" in stderr and "headless run finished" in stderr
    assert "Traceback" not in stderr
    decisions_of(stdout)  # whatever was decided before the signal is complete JSON lines


def test_headless_kiosk_with_email_enabled_mails_the_denial(video, tmp_path, model_dir):
    """The whole product without a window: door video -> decision -> event log -> real email."""
    from tests.helpers.events import write_config
    from tools.loopback_smtp import LoopbackSmtp

    with LoopbackSmtp() as server:
        config = write_config(tmp_path, server.port)
        done = subprocess.run(main_command("run", "--headless", "--source", str(video), "--config", str(config),
                                           "--model", str(model_dir)),
                              capture_output=True, text=True, timeout=240, cwd=PROJECT_ROOT)
        assert done.returncode == 0, done.stderr
        assert [d["decision"] for d in decisions_of(done.stdout)] == ["denied", "granted"]
        mails = server.wait_for(1, timeout_s=20)  # the orderly stop gave the sender time to deliver
    assert len(mails) == 1, [m.message["Subject"] for m in mails]  # only denials alert by default
    mail = mails[0]
    assert "test-door" in mail.message["Subject"] and "denied" in mail.message["Subject"]
    assert sorted(mail.rcpt_tos) == ["admin@example.org", "security@example.org"]
    assert mail.event_ids == [1]


def test_a_gone_reader_is_reported_once_and_decisions_are_still_recorded(video, config_file, model_dir):
    """`main.py run --headless ... | head -0`: the kiosk keeps deciding and recording."""
    code, stderr = closed_pipe_run(["main.py", "run", "--headless", "--source", str(video), "--config",
                                    str(config_file), "--model", str(model_dir)])
    assert code == 0, stderr
    assert "Traceback" not in stderr and "BrokenPipeError" not in stderr, stderr
    assert stderr.count("the reader of the decision lines went away") == 1, stderr
    events = subprocess.run(main_command("events", "--all", "--csv", "--config", str(config_file)),
                            capture_output=True, text=True, timeout=60, cwd=PROJECT_ROOT)
    assert [row["decision"] for row in csv.DictReader(io.StringIO(events.stdout))] == ["denied", "granted"]


def test_a_visitor_the_kiosk_cannot_judge_is_denied_as_uncertain_in_time(tmp_path, model_dir):
    """The fail-safe rule end to end: a generated ambiguous visitor (a hand over the mouth: every
    other frame shows the mask, every other the bare face) never gets a confident majority, so the
    kiosk denies within decide_within_s and records the event as uncertain."""
    from kiosk.camera.video_io import VideoWriter
    from tools.measure_window import door_frame

    fps = 10
    with VideoWriter(tmp_path / "ambiguous.mp4", fps=fps) as writer:
        for i in range(fps):  # 1 s of nobody
            writer.write(door_frame("empty", SIZE, 0.5))
        for i in range(4 * fps):
            writer.write(door_frame("masked" if i % 2 else "unmasked", SIZE, 0.5))
    config = tmp_path / "kiosk.toml"
    config.write_text(f'[storage]\ndatabase = "{tmp_path / "events.sqlite3"}"\nsnapshots = "{tmp_path / "snaps"}"\n'
                      "[decision]\nwindow_frames = 4\nmin_votes = 3\ndecide_within_s = 2.0\n", encoding="utf-8")
    done = subprocess.run(main_command("run", "--headless", "--source", str(writer.path), "--config", str(config),
                                       "--model", str(model_dir)),
                          capture_output=True, text=True, timeout=240, cwd=PROJECT_ROOT)
    assert done.returncode == 0, done.stderr
    lines = decisions_of(done.stdout)
    assert [d["decision"] for d in lines] == ["uncertain"], done.stdout
    events = subprocess.run(main_command("events", "--all", "--csv", "--config", str(config)),
                            capture_output=True, text=True, timeout=60, cwd=PROJECT_ROOT)
    rows = list(csv.DictReader(io.StringIO(events.stdout)))
    assert [row["decision"] for row in rows] == ["uncertain"], events.stdout
