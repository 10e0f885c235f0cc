"""Running the project's commands as a user's shell would, for the CLI tests."""

from __future__ import annotations

import subprocess
import sys
import time
from tests.helpers import PROJECT_ROOT



def closed_pipe_run(argv: list[str]) -> tuple[int, str]:
    """Run ``python argv...`` with its stdout reader gone before the first line (``... | head -0``);
    returns the exit status and stderr."""
    process = subprocess.Popen([sys.executable, *argv], cwd=PROJECT_ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    process.stdout.close()
    stderr = process.communicate(timeout=120)[1]
    return process.returncode, stderr


def main_command(*argv: str) -> list[str]:
    return [sys.executable, str(PROJECT_ROOT / "main.py"), *argv]


def start_headless(*argv: str) -> subprocess.Popen:
    return subprocess.Popen(main_command("run", "--headless", *argv), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=PROJECT_ROOT)


def stderr_until(proc: subprocess.Popen, text: str, timeout: float = 60) -> list[str]:
    """Log lines of a running kiosk up to the first one containing ``text`` (or its exit)."""
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line and proc.poll() is not None:
            break
        seen.append(line)
        if text in line:
            break
    return seen


def stop_with(proc: subprocess.Popen, signum: int) -> tuple[str, str]:
    """Send a stop signal; the process must exit by itself."""
    try:
        proc.send_signal(signum)
        return proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
