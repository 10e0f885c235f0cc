"""A picture whose file name holds a line break still gets a one-line error (found by
``python -m tools.fuzz``: classify and the image-folder source logged it on two stderr lines)."""

from __future__ import annotations

import json
import re
import subprocess
import sys

import cv2
import pytest

from kiosk.camera.media import MediaError, error_line, read_image
from tests.helpers import PROJECT_ROOT

LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} [A-Z]+ ")


@pytest.mark.parametrize("name", ["line\nbreak.jpg", "cr\rreturn.jpg", "sep\u2028arator.jpg"])
def test_the_error_names_the_file_on_one_line(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(b"\xff\xd8\xff not a picture")
    with pytest.raises(MediaError) as refused:
        read_image(path)
    message = str(refused.value)
    assert message.startswith(f"{tmp_path}/{name.encode('unicode_escape').decode()}: ")
    assert not re.search(r"[\r\n\u2028]", message)
    assert "\n" not in error_line(path, cv2.error("boom")) and "\n" not in error_line(path, ValueError("x"))


def test_classify_logs_one_line_per_bad_file_whatever_its_name(tmp_path):
    (tmp_path / "line\nbreak.png").write_bytes(b"\x89PNG\r\n\x1a\n cut")
    (tmp_path / "plain.jpg").write_bytes(b"")
    done = subprocess.run([sys.executable, str(PROJECT_ROOT / "main.py"), "classify", str(tmp_path), "--json"],
                          capture_output=True, text=True, timeout=120, cwd=PROJECT_ROOT)
    assert done.returncode == 0, done.stderr
    assert all(LOG_LINE.match(line) for line in done.stderr.splitlines()), done.stderr
    errors = [json.loads(line)["error"] for line in done.stdout.splitlines()]
    assert len(errors) == 2 and not any("\n" in error for error in errors)
