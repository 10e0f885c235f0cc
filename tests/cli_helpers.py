"""Running the project's commands as a user's shell would, for the CLI tests."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def closed_pipe_run(argv: list[str]) -> tuple[int, str]:
    """Run ``python argv...`` with its stdout reader gone before the first line (``... | head -0``);
    returns the exit status and stderr."""
    process = subprocess.Popen([sys.executable, *argv], cwd=PROJECT_ROOT, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    process.stdout.close()
    stderr = process.communicate(timeout=120)[1]
    return process.returncode, stderr
