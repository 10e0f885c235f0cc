"""tools.bench_door runs the real serial door output on a pty and prints its figures."""

from __future__ import annotations

import re

from tools import bench_door


def test_bench_door_prints_the_latency_of_decision_to_relay_command(capsys):
    code = bench_door.main(["--count", "20", "--open-s", "0.02"])
    out = capsys.readouterr().out
    figures = re.search(r"decision -> relay command, serial relay on a pty \(20 grants, sinks: door, then the event"
                        r" log\): p50 [\d.]+ ms, p95 ([\d.]+) ms, max [\d.]+ ms \(target p95 <= 50 ms: (met|MISSED)\)",
                        out)
    assert figures, out
    assert code == (0 if figures.group(2) == "met" else 1)
    assert "on_decision on the analysis thread: p95" in out


def test_bench_door_usage_errors_are_one_line(capsys):
    assert bench_door.main(["--count", "0"]) == 2
    assert capsys.readouterr().err.strip().count("\n") == 0
