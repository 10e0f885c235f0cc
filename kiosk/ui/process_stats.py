"""What the kiosk process costs, read from /proc: its age (for "first frame after start") and memory.

Linux only, like the kiosk's target; elsewhere the figures are None rather than wrong.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional


def process_age_s(pid: Optional[int] = None) -> Optional[float]:
    """Seconds since the process started (10 ms resolution), so start-up includes interpreter and imports."""
    try:
        stat = Path(f"/proc/{pid or 'self'}/stat").read_text()
        uptime = float(Path("/proc/uptime").read_text().split()[0])
    except (OSError, ValueError):
        return None
    fields = stat.rsplit(")", 1)[1].split()  # after "pid (comm)": field 3 is state, field 22 starttime
    start_ticks = int(fields[19])
    return uptime - start_ticks / os.sysconf("SC_CLK_TCK")


def memory_mb(pid: Optional[int] = None) -> dict[str, float]:
    """Resident memory now (``rss``) and at its peak (``peak``), in MB."""
    figures: dict[str, float] = {}
    try:
        lines = Path(f"/proc/{pid or 'self'}/status").read_text().splitlines()
    except OSError:
        return figures
    for line in lines:
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            figures["rss" if key == "VmRSS" else "peak"] = int(value.split()[0]) / 1024
    return figures


def loaded_libraries(pid: Optional[int] = None) -> set[str]:
    """File names of the shared libraries mapped into the process (to prove TensorFlow is not)."""
    try:
        maps = Path(f"/proc/{pid or 'self'}/maps").read_text()
    except OSError:
        return set()
    return {Path(line.split()[-1]).name for line in maps.splitlines() if ".so" in line}
