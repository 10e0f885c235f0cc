"""Smoke test of ``python -m tools.bench_mqtt``: a short run end to end on a real Mosquitto, nothing lost."""

from __future__ import annotations

import subprocess
import sys

from tests.helpers import PROJECT_ROOT


def test_the_mqtt_bench_runs_and_loses_nothing():
    proc = subprocess.run([sys.executable, "-m", "tools.bench_mqtt", "--count", "10", "--outage-s", "3"],
                          capture_output=True, text=True, timeout=240, cwd=PROJECT_ROOT)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].startswith("decision -> MQTT message at the subscriber") and "10 decisions" in lines[0]
    assert lines[1].startswith("broker outage of 3 s: 6 decisions during it")
    assert lines[3].startswith("lost: 0 of ") and "Traceback" not in proc.stderr
