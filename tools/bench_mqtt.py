"""Measure decision -> MQTT message at the subscriber, and count what is lost across a broker outage and a kill -9.

  python -m tools.bench_mqtt                  # 100 timed decisions, a 60 s outage, two kill -9s
  python -m tools.bench_mqtt --short          # the same with a 10 s outage (said so in the output)
  python -m tools.bench_mqtt --outage-s 120 --count 300

Everything is real and on loopback: a Mosquitto broker (``tools.mosquitto_broker``), a kiosk
process (this module's ``child`` mode: the kiosk's EventServices with [mqtt] on, handed decisions
the way the analysis thread hands them, each recorded in SQLite with its message in the same
transaction), and a paho subscriber with a persistent QoS 1 session. Three phases:

1. latency: ``--count`` decisions, 10 a second, timed from the decision's own time (set as the
   analysis thread would set it) to its arrival at the subscriber. Target: p95 <= 200 ms.
2. outage: the broker stops; the kiosk decides for the whole outage (2 a second), is killed with
   SIGKILL before the broker returns and started again; the broker starts. Every decision the
   kiosk recorded must arrive. Target: 0 lost.
3. kill -9 while publishing: the broker is up, the kiosk is killed in the middle of 200 quick
   decisions and started again. Again every recorded decision must arrive.

"Recorded" is read from the kiosk's own event database afterwards; duplicates (allowed: at least
once) are counted by the payload's id.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Optional, Sequence

from kiosk.module_cli import module_main
from tools.stats import percentile

TARGET_P95_MS = 200.0
PREFIX = "bench"
KIOSK_ID = "bench-door"
DECISION_TOPIC = f"{PREFIX}/{KIOSK_ID}/decision"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="mode")
    child = sub.add_parser("child", help="(internal) the kiosk process: decide --count times every --interval s")
    child.add_argument("config")
    child.add_argument("--count", type=int, default=0)
    child.add_argument("--interval", type=float, default=0.1)
    parser.add_argument("--count", type=int, default=100, metavar="N", help="decisions timed in phase 1 (default 100)")
    parser.add_argument("--outage-s", type=float, default=60.0, metavar="S", help="broker outage (default 60 s)")
    parser.add_argument("--short", action="store_true", help="a 10 s outage instead, for a quick look")


# --- the kiosk process ----------------------------------------------------------------------

def run_child(args: argparse.Namespace) -> int:
    """A kiosk: decide ``count`` times, then keep running (sending what is queued) until killed or stdin closes."""
    from kiosk.config import load_config
    from kiosk.events.services import EventServices
    from kiosk.records import DecisionEvent

    services = EventServices(load_config(Path(args.config)), "camera")
    services.start()
    print("ready", flush=True)
    for i in range(args.count):
        services.on_decision(DecisionEvent(time=datetime.now().astimezone(), kiosk_id=KIOSK_ID,
                                           decision="granted" if i % 2 else "denied", label="with_mask",
                                           score=0.95, faces=1))
        print(f"decided {i + 1}", flush=True)
        time.sleep(args.interval)
    print("done", flush=True)
    sys.stdin.read()  # until the parent closes our stdin (or kills us)
    services.stop()
    return 0


class Kiosk:
    def __init__(self, config: Path, count: int, interval: float) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tools.bench_mqtt", "--log-level", "WARNING", "child", str(config),
             "--count", str(count), "--interval", str(interval)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parents[1])
        self.wait_for("ready")

    def wait_for(self, text: str, timeout: float = 600.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line:
                raise RuntimeError(f"the kiosk process ended (exit {self.process.wait()}) before '{text}'")
            if line.strip() == text:
                return
        raise TimeoutError(f"the kiosk process did not say '{text}' within {timeout} s")

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        self.process.stdin.close()
        self.process.wait(30)


# --- the bench ------------------------------------------------------------------------------

def recorded_ids(database: Path) -> set[int]:
    import sqlite3

    db = sqlite3.connect(database)
    try:
        return {row[0] for row in db.execute("SELECT id FROM events WHERE kind = 'decision'")}
    finally:
        db.close()


def arrivals(subscriber) -> dict[int, list[float]]:
    """event id -> the times each copy of its decision arrived."""
    got: dict[int, list[float]] = {}
    for heard in subscriber.on(DECISION_TOPIC):
        got.setdefault(heard.json()["event_id"], []).append(heard.at)
    return got


def wait_all(subscriber, ids: set[int], timeout: float) -> float:
    """Seconds until every id has arrived (raises on timeout)."""
    start = time.monotonic()
    if not subscriber.wait_for(lambda heard: ids <= set(arrivals(subscriber)), timeout):
        missing = sorted(ids - set(arrivals(subscriber)))
        raise RuntimeError(f"{len(missing)} decisions never arrived: {missing[:10]}")
    return time.monotonic() - start


def bench(folder: Path, count: int, outage_s: float) -> dict:
    from tools.alert_drill import write_toml
    from tools.mosquitto_broker import MosquittoBroker, Subscriber

    broker = MosquittoBroker(folder / "broker").start()
    database = folder / "events.sqlite3"
    config = write_toml(folder / "kiosk.toml", {
        "kiosk": {"id": KIOSK_ID},
        "storage": {"database": str(database), "snapshots": str(folder / "snapshots"), "reports": str(folder / "reports")},
        "mqtt": {"enabled": True, "host": "127.0.0.1", "port": broker.port, "topic_prefix": PREFIX,
                 "retry_max_s": 2.0, "keepalive_s": 10}})
    subscriber = Subscriber(broker.port, [f"{PREFIX}/#"], client_id="bench-subscriber")
    figures: dict = {"outage_s": outage_s}
    try:
        if not subscriber.subscribed.wait(10):
            raise RuntimeError("the subscriber could not subscribe")
        # 1. latency
        kiosk = Kiosk(config, count, 0.1)
        kiosk.wait_for("done")
        first = recorded_ids(database)
        wait_all(subscriber, first, 30)
        times = {e: min(t) for e, t in arrivals(subscriber).items()}
        decided = {json.loads(h.payload)["event_id"]: datetime.fromisoformat(h.json()["time"]).timestamp()
                   for h in subscriber.on(DECISION_TOPIC)}
        latencies = [(times[e] - decided[e]) * 1000 for e in first]
        figures.update(count=len(first), p50_ms=statistics.median(latencies), p95_ms=percentile(latencies, 95),
                       max_ms=max(latencies))
        kiosk.stop()
        # 2. outage with a kill -9 inside it
        broker.stop()
        during = max(1, int(outage_s * 2))
        began = time.monotonic()
        kiosk = Kiosk(config, during, outage_s / during * 0.9)
        kiosk.wait_for("done", timeout=outage_s * 3 + 60)
        kiosk.kill()  # every decision of the outage is only in SQLite now
        kiosk = Kiosk(config, 0, 0.1)  # the restarted kiosk, broker still down
        time.sleep(max(0.0, outage_s - (time.monotonic() - began)))
        figures["outage_real_s"] = time.monotonic() - began
        broker.start()
        second = recorded_ids(database) - first
        figures["outage_recorded"] = len(second)
        figures["outage_catch_up_s"] = wait_all(subscriber, second, 120)
        kiosk.stop()
        # 3. kill -9 while publishing
        kiosk = Kiosk(config, 200, 0.01)
        kiosk.wait_for("decided 100")
        kiosk.kill()
        kiosk = Kiosk(config, 0, 0.1)
        third = recorded_ids(database) - first - second
        figures["kill_recorded"] = len(third)
        figures["kill_catch_up_s"] = wait_all(subscriber, third, 60)
        kiosk.stop()
        got = arrivals(subscriber)
        every = first | second | third
        figures["lost"] = len(every - set(got))
        figures["duplicates"] = sum(len(t) - 1 for t in got.values())
        figures["recorded"] = len(every)
        figures["broker_version"] = subprocess.run([broker.executable, "-h"], capture_output=True, text=True) \
            .stdout.splitlines()[0].strip()
    finally:
        subscriber.close()
        broker.close()
    return figures


def run(args: argparse.Namespace) -> int:
    if args.mode == "child":
        return run_child(args)
    if args.count < 1 or args.outage_s <= 0:
        print("--count must be at least 1 and --outage-s positive", file=sys.stderr)
        return 2
    outage_s = 10.0 if args.short else args.outage_s
    with tempfile.TemporaryDirectory(prefix="bench-mqtt-") as folder:
        f = bench(Path(folder), args.count, outage_s)
    met_latency = f["p95_ms"] <= TARGET_P95_MS
    print(f"decision -> MQTT message at the subscriber ({f['broker_version']} on loopback, QoS 1, through the"
          f" kiosk's SQLite outbox; {f['count']} decisions at 10/s): p50 {f['p50_ms']:.1f} ms,"
          f" p95 {f['p95_ms']:.1f} ms, max {f['max_ms']:.1f} ms"
          f" (target p95 <= {TARGET_P95_MS:g} ms: {'met' if met_latency else 'MISSED'})")
    short = " (--short: not the 60 s of the target)" if args.short else ""
    print(f"broker outage of {f['outage_real_s']:.0f} s{short}: {f['outage_recorded']} decisions during it, the kiosk"
          f" killed (SIGKILL) and restarted before the broker came back; all arrived {f['outage_catch_up_s']:.1f} s"
          f" after it did")
    print(f"kill -9 while publishing: {f['kill_recorded']} decisions recorded by the killed kiosk; all arrived"
          f" {f['kill_catch_up_s']:.1f} s after the restart")
    print(f"lost: {f['lost']} of {f['recorded']} recorded decisions (target 0: {'met' if f['lost'] == 0 else 'MISSED'});"
          f" duplicates (same id, at least once): {f['duplicates']}; load average {os.getloadavg()[0]:.2f}")
    return 0 if met_latency and f["lost"] == 0 else 1


def main(argv: Optional[Sequence[str]] = None) -> int:
    return module_main("python -m tools.bench_mqtt", __doc__, add_arguments, run, argv)


if __name__ == "__main__":
    sys.exit(main())
