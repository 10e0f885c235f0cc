"""``python main.py run`` as a user starts it: one-line errors with exit 2, and a camera that never comes."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

from tests.helpers.cli import start_headless, stderr_until, stop_with

from tests.helpers import PROJECT_ROOT


def run_main(*argv: str, cwd: Path = PROJECT_ROOT, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(PROJECT_ROOT / "main.py"), *argv], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=90)


def only_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    return lines[0]


def test_help_lists_the_kiosk_options():
    done = run_main("run", "--help")
    assert done.returncode == 0
    for option in ("--source", "--headless", "--max-frames", "--kiosk-id", "--fullscreen", "--config",
                   "--model", "--detector", "--validate-config", "--loop"):
        assert option in done.stdout


def test_missing_model_is_one_line_exit_2(tmp_path, config_file):
    done = run_main("run", "--headless", "--source", "demo", "--config", str(config_file),
                    "--model", str(tmp_path / "no-model"))
    assert done.returncode == 2
    assert only_line(done.stderr) == f'error: [model] dir = "{tmp_path / "no-model"}": no such folder'


def test_corrupt_model_is_one_line_exit_2(tmp_path, config_file, model_dir):
    broken = tmp_path / "broken-model"
    broken.mkdir()
    shutil.copy(model_dir / "model_card.json", broken / "model_card.json")
    (broken / "mask_classifier.tflite").write_bytes(b"\x00garbage" * 64)
    done = run_main("run", "--headless", "--source", "demo", "--config", str(config_file), "--model", str(broken))
    assert done.returncode == 2
    line = only_line(done.stderr)
    assert line == (f'error: [model] dir = "{broken}": model file {broken / "mask_classifier.tflite"}'
                    " is not a valid TFLite model (no TFL3 identifier)")


def test_missing_video_file_is_one_line_exit_2(tmp_path, config_file, model_dir):
    done = run_main("run", "--headless", "--source", "nope.mp4", "--config", str(config_file),
                    "--model", str(model_dir), cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1] == f'error: [camera] source = "{tmp_path / "nope.mp4"}": no such file or folder'
    assert "Traceback" not in done.stderr


def test_window_without_a_display_is_one_line_exit_2(config_file, model_dir):
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}
    done = run_main("run", "--source", "demo", "--config", str(config_file), "--model", str(model_dir), env=env)
    assert done.returncode == 2
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("error: cannot open the kiosk window") and "--headless" in last
    assert "Traceback" not in done.stderr


def test_requested_camera_that_does_not_exist_retries_until_stopped(config_file, model_dir):
    proc = start_headless("--source", "99", "--config", str(config_file), "--model", str(model_dir))
    seen = stderr_until(proc, "source Camera 99: offline (Camera 99 not available — retrying)")  # the capture thread
    assert seen and "offline (Camera 99 not available — retrying)" in seen[-1], "".join(seen)
    assert proc.poll() is None  # not a crash: it keeps retrying
    stdout, stderr = stop_with(proc, signal.SIGINT)
    assert proc.returncode == 0, stderr
    assert stdout == "" and "Traceback" not in stderr
