"""tools/bench_fleet runs end to end on a small fleet and accounts for every event across a server crash."""

from __future__ import annotations

import re

import pytest

from tools import bench_fleet
from tools.temp_postgres import postgres_bin_dir


@pytest.mark.skipif(postgres_bin_dir() is None, reason="needs PostgreSQL's initdb and pg_ctl (apt-get install postgresql)")
def test_a_small_fleet_with_a_crash_loses_nothing(capsys):
    assert bench_fleet.main(["--kiosks", "4", "--seconds", "6", "--outage-at", "2", "--outage-s", "1",
                             "--burst", "20", "--page-rows", "2000"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"^lost     0 of 2\d events lost, 0 stored twice, 0 rows no kiosk recorded$", out, re.M), out
    assert re.search(r"^page     events page 1 \(50 newest \+ total\): median [\d.]+ ms", out, re.M), out
