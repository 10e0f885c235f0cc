"""Shared by the window tests: Tk garbage freed on the main thread, and a screen larger than the
session's display."""

from __future__ import annotations

import gc
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

FULL_HD = (1920, 1080)


@pytest.fixture(autouse=True)
def tk_garbage_freed_here():
    """Collect after every window test, on the main thread. A destroyed root or widget left in a
    reference cycle is otherwise freed by whichever thread next triggers a collection, and Tcl
    aborts the whole process when a worker thread of a later test frees it ("Fatal Python error:
    Aborted" while garbage-collecting, seen in a full run after the status-bar tests)."""
    yield
    gc.collect()


@pytest.fixture(scope="session")
def full_hd_display(x_display):
    """An Xvfb of 1920x1080 (the session's display may be smaller), for screenshots at 800x480 and
    1920x1080. It lives as long as the session: Tk keeps a display's connection after its last
    window is destroyed, and a server that goes away under it aborts the process at the next
    ``update()`` of any other window."""
    if shutil.which("Xvfb") is None or shutil.which("import") is None:
        pytest.fail("Xvfb and ImageMagick's import are needed: apt-get install -y xvfb imagemagick")
    display = f":{600 + os.getpid() % 300}"
    proc = subprocess.Popen(["Xvfb", display, "-screen", "0", f"{FULL_HD[0]}x{FULL_HD[1]}x24", "-nolisten", "tcp"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    socket = Path(f"/tmp/.X11-unix/X{display[1:]}")
    deadline = time.monotonic() + 10
    while not socket.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield display
    finally:
        proc.terminate()
        proc.wait(timeout=5)
