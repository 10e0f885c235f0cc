"""Native libraries' own output, written straight to file descriptor 2, in a real process."""

from __future__ import annotations

import subprocess
import sys

from tests.helpers import PROJECT_ROOT

SCRIPT = """
import logging, os, sys, threading
from kiosk.logging_setup import native_output_to_log, setup_logging
setup_logging(sys.argv[1])
log = logging.getLogger("kiosk.test")
with native_output_to_log("LiteRT"):
    os.write(2, b"INFO: Created TensorFlow Lite XNNPACK delegate for CPU.\\n")  # as C++ does
    with native_output_to_log("libpng"):  # nested, as a decode inside another capture
        os.write(2, b"libpng error: IDAT: bad header\\n")
    other = threading.Thread(target=log.warning, args=("from another thread meanwhile",))
    other.start()
    other.join()
log.warning("after")
os.write(2, b"a native line outside any capture\\n")
"""


def run(level: str) -> str:
    done = subprocess.run([sys.executable, "-c", SCRIPT, level], capture_output=True, text=True, timeout=60,
                          cwd=PROJECT_ROOT)
    assert done.returncode == 0, done.stderr
    return done.stderr


def test_native_lines_are_kept_off_stderr_and_our_records_are_not_lost():
    lines = run("INFO").splitlines()
    assert [line.split(": ", 1)[1] for line in lines[:2]] == ["from another thread meanwhile", "after"]
    assert " WARNING kiosk.test: " in lines[0]
    assert lines[2:] == ["a native line outside any capture"]


def test_at_debug_the_libraries_speak_as_they_do():
    stderr = run("DEBUG")
    assert "INFO: Created TensorFlow Lite XNNPACK delegate for CPU." in stderr
    assert "libpng error: IDAT: bad header" in stderr
