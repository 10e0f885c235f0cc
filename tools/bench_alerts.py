"""Measure the alert path end to end against a real SMTP server on 127.0.0.1 and print figures.

  python -m tools.bench_alerts            # all four scenarios, about a minute
  python -m tools.bench_alerts latency    # or: outage, kill9, standing

* latency:  denial handed to EventServices -> email received by the server (p50/p95/max)
* outage:   server down while 50 denials happen, then up: every alert accounted for exactly once
* kill9:    a kiosk process killed with SIGKILL with alerts pending; a new process delivers them
* standing: one person reported denied every second for 60 s (timestamps, not wall time):
            the cooldown allows exactly one email
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Optional


from tools.alert_drill import denial, write_toml
from kiosk.config import PROJECT_ROOT, build_config
from kiosk.events.services import EventServices
from kiosk.events.store import EventStore
from tools.loopback_smtp import LoopbackSmtp, free_port
from kiosk.logging_setup import setup_logging
from tools.stats import latency_summary


def settings(folder: Path, port: int, **email) -> dict:
    values = {"enabled": True, "host": "127.0.0.1", "port": port, "security": "none",
              "recipients": ["security@example.org"], "cooldown_s": 0.0, "hourly_cap": 10000,
              "retry_initial_s": 0.5, "retry_max_s": 2.0}
    values.update(email)
    return {"kiosk": {"id": "bench-door"}, "email": values,
            "storage": {"database": str(folder / "events.sqlite3"), "snapshots": str(folder / "snapshots"),
                        "reports": str(folder / "reports")}}


def accounting(server: LoopbackSmtp, expected: set[int]) -> str:
    counts = Counter(i for mail in server.received for i in mail.event_ids)
    missing = expected - set(counts)
    twice = sorted(i for i, n in counts.items() if n > 1)
    kinds = Counter(str(m.message["X-Kiosk-Mail-Kind"]) for m in server.received)
    return (f"alerts {len(expected)}, emails {len(server.received)} ({dict(kinds)}), "
            f"accounted {len(set(counts) & expected)}, lost {len(missing)}, sent twice {len(twice)}")


def bench_latency(folder: Path, count: int = 40, gap_s: float = 0.25) -> None:
    with LoopbackSmtp() as server:
        cfg = build_config(settings(folder, server.port))
        services = EventServices(cfg)
        services.start()
        sent_at: dict[int, float] = {}
        handling: list[float] = []
        for n in range(1, count + 1):
            event = denial(cfg)
            sent_at[n] = time.time()
            services.on_decision(event)
            handling.append(time.time() - sent_at[n])
            server.wait_for(n, timeout_s=10)
            time.sleep(gap_s)
        services.stop()
    latencies = sorted(m.at - sent_at[m.event_ids[0]] for m in server.received if len(m.event_ids) == 1)
    print(f"latency  denial -> email received, {len(latencies)} emails with snapshot + crop inline: "
          f"{latency_summary(latencies)} (target p95 <= 2000 ms)")
    print(f"latency  on_decision on the worker thread (2 JPEGs + SQLite commit with fsync): {latency_summary(handling)}")


def bench_outage(folder: Path, label: str, count: int = 50, **email) -> None:
    port = free_port()
    cfg = build_config(settings(folder, port, **email))
    services = EventServices(cfg)
    services.start()
    for _ in range(count):
        services.on_decision(denial(cfg))
    time.sleep(1.0)
    error = services.status()["last_email_error"]
    store = EventStore(cfg.resolve_path(cfg.storage.database))
    queued = store.outbox_counts()
    waiting = f"{queued['pending']} alerts + {queued['repeats']} cooldown repeats"
    up = time.monotonic()
    with LoopbackSmtp(port=port) as server:
        deadline = time.monotonic() + 30
        while store.outbox_counts()["sent"] < count and time.monotonic() < deadline:
            time.sleep(0.05)
        delivered_after = time.monotonic() - up
        services.stop()
    leftover = store.outbox_counts()
    print(f"outage   {label}: server down, {count} denials -> {waiting} queued (error: {error}); server up -> "
          f"{accounting(server, set(range(1, count + 1)))}; all delivered {delivered_after:.1f} s after the "
          f"server returned; cooldown repeats still waiting for a next alert: {leftover['repeats']}")


def bench_kill9(folder: Path, count: int = 20) -> None:
    port = free_port()
    config = write_toml(folder / "kiosk.toml", settings(folder, port))
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT)}
    producer = subprocess.Popen([sys.executable, "-m", "tools.alert_drill", "--config", str(config), "produce",
                                 str(count)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    producer.stdout.readline()
    producer.send_signal(signal.SIGKILL)
    producer.wait()
    pending = EventStore(folder / "events.sqlite3").outbox_counts()
    with LoopbackSmtp(port=port) as server:
        started = time.monotonic()
        subprocess.run([sys.executable, "-m", "tools.alert_drill", "--config", str(config), "deliver", "30"],
                       env=env, check=False, capture_output=True)
        took = time.monotonic() - started
    print(f"kill9    SIGKILL with {pending['pending'] + pending['sending']} alerts pending; restarted process "
          f"({took:.1f} s incl. start-up): {accounting(server, set(range(1, count + 1)))}")


def bench_standing(folder: Path) -> None:
    with LoopbackSmtp() as server:
        cfg = build_config(settings(folder, server.port, cooldown_s=60.0))
        services = EventServices(cfg)
        services.start()
        start = datetime.now().astimezone()
        for second in range(60):
            services.on_decision(denial(cfg, when=start + timedelta(seconds=second)))
        server.wait_for(1, timeout_s=10)
        time.sleep(2.0)  # anything more would have gone out by now
        services.stop()
    carried = sum(len(m.event_ids) for m in server.received)
    print(f"standing one person denied once a second for 60 s (worst case: engine splits the episode), "
          f"cooldown 60 s: {len(server.received)} email(s), carrying {carried} report(s) already queued with the "
          f"first; the other {60 - carried} ride along in the next alert email")


SCENARIOS = ("latency", "outage", "kill9", "standing")


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.bench_alerts", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("scenario", nargs="*", help=f"any of {', '.join(SCENARIOS)} (default: all)")
    args = parser.parse_args(argv)
    unknown = set(args.scenario) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenario {', '.join(sorted(unknown))}; choose from {', '.join(SCENARIOS)}")
    setup_logging("ERROR")
    for scenario in args.scenario or SCENARIOS:
        with tempfile.TemporaryDirectory(prefix=f"bench-{scenario}-") as tmp:
            folder = Path(tmp)
            if scenario == "latency":
                bench_latency(folder)
            elif scenario == "outage":
                bench_outage(folder, "cooldown 0 s, no cap")
            elif scenario == "kill9":
                bench_kill9(folder)
            else:
                bench_standing(folder)
        if scenario == "outage":
            with tempfile.TemporaryDirectory(prefix="bench-outage-limited-") as tmp:
                bench_outage(Path(tmp), "default limits (cooldown 60 s, cap 20/h)", cooldown_s=60.0, hourly_cap=20)
    return 0


if __name__ == "__main__":
    sys.exit(main())
