"""OpenCV's own AVI parser prints to stderr by itself; the kiosk's video reader keeps it in the log."""

from __future__ import annotations

import subprocess

from tests.helpers.cli import main_command
from tests.helpers import PROJECT_ROOT


def test_a_broken_avi_is_one_line_of_ours_and_no_opencv_noise(tmp_path):
    broken = tmp_path / "broken.avi"  # found by tools.fuzz: 'Unexpected list type. Expected: hdrl. Got: junk.'
    broken.write_bytes(b"RIFF\x00\x10\x00\x00AVI LIST\x10\x00\x00\x00junkjunkjunkjunk")
    done = subprocess.run(main_command("analyze", str(broken), "--json"), cwd=PROJECT_ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "Unexpected list type" not in done.stderr and "hdrl" not in done.stderr, done.stderr
    assert '"error": "' in done.stdout and "not a video OpenCV can open" in done.stdout
