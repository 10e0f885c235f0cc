"""Helpers shared by the tests: project paths and waiting for a condition without sleeping blindly."""

from __future__ import annotations

import threading
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SHARED_DATASETS = PROJECT_ROOT.parent / "shared" / "datasets"


def wait_until(condition, timeout: float = 10.0) -> bool:
    pause = threading.Event()
    for _ in range(int(timeout / 0.02)):
        if condition():
            return True
        pause.wait(0.02)
    return condition()
