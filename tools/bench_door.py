"""Measure decision -> relay command through the real serial door output, and print the figures.

  python -m tools.bench_door                 # 200 grants, the event log after the door as in the kiosk
  python -m tools.bench_door --count 500 --no-event-log

Each grant is handed to the sinks the way the kiosk's analysis thread does (the door first, then the
event log writing its SQLite row), and timed until the relay's "on" frame has arrived at the far end
of a pseudo-terminal, where a USB relay board would be. The door then locks (``--open-s``) before the
next grant, so every grant starts from a locked door. On a real board add the wire time: 4 bytes at
9600 baud are 4.2 ms. Target: p95 <= 50 ms. Also printed: what ``on_decision`` costs the analysis
thread (it only queues the request).
"""

from __future__ import annotations

import argparse
import logging
import os
import pty
import select
import statistics
import sys
import tempfile
import time
import tty
from datetime import datetime
from pathlib import Path
from typing import Optional, Sequence

from kiosk.config import build_config
from kiosk.module_cli import module_main
from kiosk.outputs.serial_relay import SerialRelay
from kiosk.records import DecisionEvent
from tools.stats import percentile

TARGET_P95_MS = 50.0
ON = bytes.fromhex("A0 01 01 A2")
OFF = bytes.fromhex("A0 01 00 A1")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--count", type=int, default=200, metavar="N", help="grants to time (default 200)")
    parser.add_argument("--open-s", type=float, default=0.05, metavar="S",
                        help="door pulse between grants (default 0.05 s)")
    parser.add_argument("--no-event-log", dest="event_log", action="store_false",
                        help="the door alone, without the event log as the next sink")


def read_exactly(fd: int, count: int, timeout: float = 5.0) -> tuple[bytes, float]:
    """``count`` bytes from ``fd`` and the perf_counter() time the last one arrived."""
    deadline = time.perf_counter() + timeout
    got = b""
    while len(got) < count:
        left = deadline - time.perf_counter()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            raise TimeoutError(f"the relay received {got.hex(' ')} and no more within {timeout} s")
        got += os.read(fd, count - len(got))
    return got, time.perf_counter()


def grant() -> DecisionEvent:
    return DecisionEvent(time=datetime.now().astimezone(), kiosk_id="bench-door", decision="granted",
                         label="with_mask", score=0.97, faces=1, source="camera")


def bench(count: int, open_s: float, event_log: bool, folder: Path) -> dict:
    master, slave = pty.openpty()
    tty.setraw(slave)
    door = SerialRelay(os.ttyname(slave), 9600, ON, OFF, open_s, source_kind="camera")
    sinks: list = [door]
    services = None
    if event_log:
        from kiosk.events.services import EventServices

        cfg = build_config({"storage": {"database": str(folder / "events.sqlite3"),
                                        "snapshots": str(folder / "snapshots"), "reports": str(folder / "reports")}})
        services = EventServices(cfg, "camera")
        services.start()
        sinks.append(services)
    door.start()
    latencies, handing = [], []
    try:
        assert read_exactly(master, len(OFF))[0] == OFF  # connected and locked
        for _ in range(count):
            event = grant()
            started = time.perf_counter()
            for sink in sinks:
                sink.on_decision(event)
                if sink is door:
                    handing.append(time.perf_counter() - started)
            frame, arrived = read_exactly(master, len(ON))
            if frame != ON:
                raise RuntimeError(f"the relay received {frame.hex(' ')}, not the on frame")
            latencies.append(arrived - started)
            if read_exactly(master, len(OFF))[0] != OFF:
                raise RuntimeError("the relay did not receive the off frame")
    finally:
        door.stop()
        if services is not None:
            services.stop()
        os.close(master)
        os.close(slave)
    return {"count": count, "p50_ms": statistics.median(latencies) * 1000, "p95_ms": percentile(latencies, 95) * 1000,
            "max_ms": max(latencies) * 1000, "handing_max_ms": max(handing) * 1000,
            "handing_p95_ms": percentile(handing, 95) * 1000, "opens": door.opens}


def run(args: argparse.Namespace) -> int:
    if args.count < 1 or args.open_s <= 0:
        print("--count must be at least 1 and --open-s positive", file=sys.stderr)
        return 2
    if args.log_level == "INFO":  # one line per unlock and lock is the kiosk's; here it would bury the figures
        logging.getLogger("kiosk.outputs").setLevel(logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="bench-door-") as folder:
        figures = bench(args.count, args.open_s, args.event_log, Path(folder))
    met = figures["p95_ms"] <= TARGET_P95_MS
    sinks = "door, then the event log" if args.event_log else "door alone"
    print(f"decision -> relay command, serial relay on a pty ({figures['count']} grants, sinks: {sinks}): "
          f"p50 {figures['p50_ms']:.2f} ms, p95 {figures['p95_ms']:.2f} ms, max {figures['max_ms']:.2f} ms"
          f" (target p95 <= {TARGET_P95_MS:g} ms: {'met' if met else 'MISSED'})")
    print(f"on_decision on the analysis thread: p95 {figures['handing_p95_ms']:.3f} ms,"
          f" max {figures['handing_max_ms']:.3f} ms; load average {os.getloadavg()[0]:.2f}")
    return 0 if met else 1


def main(argv: Optional[Sequence[str]] = None) -> int:
    return module_main("python -m tools.bench_door", __doc__, add_arguments, run, argv)


if __name__ == "__main__":
    sys.exit(main())
