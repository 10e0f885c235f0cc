"""Shared fixtures: the synthetic portrait, a real X display (Xvfb), the shipped model."""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from kiosk.camera import synthetic

from tests.helpers import PROJECT_ROOT, SHARED_DATASETS
ARTIFACTS = PROJECT_ROOT / "test-artifacts"


@pytest.fixture(autouse=True)
def restore_root_logging():
    """Commands run in-process call setup_logging, which binds a handler to the stderr pytest
    captures for that one test; left in place, later tests log into a closed file."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in root.handlers:
        if handler not in handlers:
            handler.close()
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture(scope="session")
def portrait() -> np.ndarray:
    return synthetic.load_portrait()


@pytest.fixture(scope="session")
def masked_portrait() -> np.ndarray:
    return synthetic.masked_portrait()


@pytest.fixture(scope="session")
def model_dir() -> Path:
    """The committed, really trained model."""
    path = PROJECT_ROOT / "models"
    if not (path / "model_card.json").is_file():
        pytest.fail("models/model_card.json is missing: the trained model must be committed")
    return path


@pytest.fixture(scope="session")
def shared_datasets() -> Path:
    if not SHARED_DATASETS.is_dir():
        pytest.skip(f"needs the shared datasets at {SHARED_DATASETS}, which are absent here")
    return SHARED_DATASETS


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def x_display():
    """A real X display: the existing one, or an Xvfb the tests start and stop themselves."""
    if os.environ.get("DISPLAY"):
        yield os.environ["DISPLAY"]
        return
    if shutil.which("Xvfb") is None:
        pytest.fail("no DISPLAY and no Xvfb: install it with 'apt-get install -y xvfb'")
    display = f":{90 + os.getpid() % 500}"
    proc = subprocess.Popen(["Xvfb", display, "-screen", "0", "1280x1024x24", "-nolisten", "tcp"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    socket = Path(f"/tmp/.X11-unix/X{display[1:]}")
    deadline = time.monotonic() + 10
    while not socket.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    os.environ["DISPLAY"] = display
    try:
        yield display
    finally:
        del os.environ["DISPLAY"]
        proc.terminate()
        proc.wait(timeout=5)


@pytest.fixture()
def config_file(tmp_path) -> Path:
    """Event log and snapshots inside the test's folder, everything else default."""
    path = tmp_path / "kiosk.toml"
    path.write_text(f'[storage]\ndatabase = "{tmp_path / "events.sqlite3"}"\nsnapshots = "{tmp_path / "snaps"}"\n',
                    encoding="utf-8")
    return path
