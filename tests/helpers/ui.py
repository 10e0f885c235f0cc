"""Shared by the kiosk-window tests: a factory fixture for real kiosk windows and Tk-loop helpers."""

from __future__ import annotations

import gc
import shutil
import subprocess
import time
import tkinter as tk
from pathlib import Path
from typing import Callable

import pytest

from kiosk.config import Config, with_overrides
from kiosk.ui.app import KioskWindow
from tools.measure_window import build_window, measurement_config


def kiosk_config(tmp_path: Path, model_dir: Path, source, **overrides) -> Config:
    """Defaults with the committed model, no bell, a throw-away event log, and ``overrides``."""
    base = with_overrides(Config(), {"model.dir": str(model_dir), "ui.sound": False, **overrides})
    return measurement_config(source, tmp_path, base)


def pump(root: tk.Tk, until: Callable[[], bool], timeout_s: float, every: Callable[[], None] = lambda: None) -> bool:
    """Run the real Tk loop until ``until()`` holds or ``timeout_s`` passes; True when it held."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        root.update()
        every()
        if until():
            return True
        time.sleep(0.005)
    return False


def screenshot(path: Path) -> None:
    """The whole X screen as a PNG test artefact (ImageMagick's ``import``)."""
    if shutil.which("import") is None:
        pytest.fail("ImageMagick's 'import' is missing: apt-get install -y imagemagick")
    subprocess.run(["import", "-window", "root", str(path)], check=True, timeout=20)


def xdotool(*args: str) -> None:
    """A real X input event (mouse or keyboard), as a person would make it."""
    if shutil.which("xdotool") is None:
        pytest.fail("xdotool is missing: apt-get install -y xdotool")
    subprocess.run(["xdotool", *args], check=True, timeout=10)


def showing_with_focus(window: KioskWindow) -> tk.Tk:
    """Wait for the first frame on screen and give the kiosk the keyboard focus; returns its root."""
    root = window.root
    assert pump(root, lambda: window.video.frames_shown > 0, 10.0), "no frame on screen"
    root.focus_force()
    root.update()
    return root


def toplevels(root: tk.Tk) -> list[tk.Toplevel]:
    return [w for w in root.winfo_children() if isinstance(w, tk.Toplevel) and w.winfo_exists()]


@pytest.fixture
def kiosk(x_display, tmp_path, model_dir):
    """Factory for a started kiosk window (real model, runtime, event services); closed after the test.
    ``frame_source``: an opened ``FrameSource`` (e.g. a test's own camera) instead of ``source``'s."""
    opened: list[KioskWindow] = []

    def start(source, explicit_source: bool = True, with_services: bool = True, frame_source=None,
              **overrides) -> KioskWindow:
        cfg = kiosk_config(tmp_path, model_dir, source, **overrides)
        _root, window = build_window(cfg, explicit_source, source=frame_source, with_services=with_services)
        window.start()
        opened.append(window)
        return window

    yield start
    for window in opened:
        window.close()
    opened.clear()
    # Tk objects must be freed in the thread that made them: collect the closed window's
    # reference cycles here, before a later test's worker threads trigger a collection
    gc.collect()
