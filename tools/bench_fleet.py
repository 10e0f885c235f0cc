"""Measure the fleet store: many kiosks copying their events into one PostgreSQL through the real sync.

  python -m tools.bench_fleet                          # 50 kiosks, 60 s, a server crash at 25 s, 100,000 rows
  python -m tools.bench_fleet --kiosks 10 --seconds 20 --page-rows 20000 --outage-s 3

A temporary PostgreSQL on 127.0.0.1 (tools/temp_postgres.py) and one folder per kiosk. Each kiosk
is the real thing from its event services on: ``EventServices.on_decision`` writes its own SQLite
log and wakes its own ``FleetSync`` thread, with its own connection. Every kiosk decides once a
second (spread over the second). Partway through, the server is killed (``pg_ctl -m immediate``:
no checkpoint, as in a power cut) and started again after ``--outage-s``. Stops by itself.

Prints:
* stored:  events per second that reached PostgreSQL during the run, and how fast a backlog of
           ``--burst`` events per kiosk drains when all kiosks have one at once (the ceiling);
* delay:   decision time -> row (``received_at``, stamped by PostgreSQL's now()): p50/p95/max,
           for events outside the outage and for all of them;
* page:    the console's events page (``FleetStore.events``, page 1 of 50 and its total) with
           ``--page-rows`` events in the store, unfiltered and filtered, and the kiosks overview;
* lost:    events each kiosk recorded that PostgreSQL does not have, and rows stored twice (target 0).
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Callable, Optional

import psycopg

from kiosk.config import build_config
from kiosk.credentials import FLEET_ENV_VAR
from kiosk.events.services import EventServices
from kiosk.events.store import EventStore
from kiosk.fleet.store import EVENT_COLUMNS, FleetStore
from kiosk.fleet.sync import MARK, FleetSync
from kiosk.logging_setup import setup_logging
from kiosk.web.data import EventFilter
from tools.alert_drill import denial
from tools.temp_postgres import TemporaryPostgres
from tools.stats import latency_summary

DECISIONS = ("granted", "granted", "granted", "denied", "uncertain")  # a door lets most people in


def kiosk_config(folder: Path, url: str, kiosk_id: str):
    return build_config({
        "kiosk": {"id": kiosk_id},
        "fleet": {"database_url": url, "retry_initial_s": 0.25, "retry_max_s": 2.0},
        "storage": {"database": str(folder / "events.sqlite3"), "snapshots": str(folder / "snapshots"),
                    "reports": str(folder / "reports")},
    })


def decide(services: EventServices, rng: random.Random) -> None:
    event = denial(services.cfg, with_frame=False)
    event.decision = rng.choice(DECISIONS)
    event.label = "with_mask" if event.decision == "granted" else "without_mask"
    services.on_decision(event)


def every_second(services: EventServices, phase_s: float, until: float, stop: threading.Event, seed: int) -> None:
    """One decision per second at ``phase_s`` past each second, until ``until`` (time.monotonic)."""
    rng = random.Random(seed)
    tick = time.monotonic() + phase_s
    while tick < until and not stop.is_set():
        stop.wait(max(0.0, tick - time.monotonic()))
        decide(services, rng)
        tick += 1.0


def wait_for(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


def all_copied(stores: list[EventStore]) -> bool:
    """No kiosk has an event after its copy mark."""
    return not any(store.events_after(store.copy_mark(MARK), 1) for store in stores)


def run_fleet(server: TemporaryPostgres, folder: Path, kiosks: int, seconds: float, outage_at: float,
              outage_s: float, burst: int) -> None:
    url = server.create_database("fleet")
    fleet = [EventServices(kiosk_config(folder / f"kiosk-{k:02d}", url, f"bench-{k:02d}")) for k in range(kiosks)]
    for services in fleet:
        services.camera_state = lambda: "live"
        services.start()
    stop = threading.Event()
    started = time.monotonic()
    started_wall = time.time()
    until = started + seconds
    producers = [threading.Thread(target=every_second, args=(s, k / kiosks, until, stop, k), daemon=True)
                 for k, s in enumerate(fleet)]
    for thread in producers:
        thread.start()
    outage: Optional[tuple[float, float]] = None
    if 0 < outage_at < seconds:
        time.sleep(max(0.0, started + outage_at - time.monotonic()))
        down = time.time()
        server.kill()
        time.sleep(outage_s)
        server.start()
        outage = (down, time.time())
    for thread in producers:
        thread.join()
    ended_wall = time.time()
    stores = [s.store for s in fleet]
    drained = wait_for(lambda: all_copied(stores), timeout=120)
    drain_s = time.time() - ended_wall

    with psycopg.connect(url, password=server.password) as conn:
        rows = conn.execute("SELECT kiosk_id, event_id, epoch, extract(epoch FROM received_at)::float8 FROM events").fetchall()
        distinct = conn.execute("SELECT count(DISTINCT (kiosk_id, event_id)) FROM events").fetchone()[0]
    local = {(s.cfg.kiosk.id, e.id) for s in fleet for e in s.store.events()}
    stored = {(kiosk_id, event_id) for kiosk_id, event_id, _, _ in rows}
    in_run = [r for r in rows if started_wall <= r[3] <= ended_wall]
    delays = [received - epoch for _, _, epoch, received in rows]
    steady = [received - epoch for _, _, epoch, received in rows
              if outage is None or not (outage[0] - 1.0 <= epoch <= outage[1] + 1.0)]
    print(f"kiosks   {kiosks} kiosks x 1 decision/s for {seconds:.0f} s = {len(local)} events recorded locally")
    print(f"stored   {len(in_run) / (ended_wall - started_wall):.1f} events/s reached PostgreSQL during the run"
          f" (offered {kiosks}/s); backlog after the run copied in {drain_s:.1f} s")
    print(f"delay    decision -> row, outside the outage ({len(steady)} events): {latency_summary(steady)}")
    print(f"delay    decision -> row, all {len(delays)} events: {latency_summary(delays)}")
    if outage is not None:
        during = sum(1 for _, _, epoch, _ in rows if outage[0] <= epoch <= outage[1])
        print(f"outage   PostgreSQL killed (pg_ctl -m immediate) at {outage_at:.0f} s, down {outage[1] - outage[0]:.1f} s;"
              f" {during} decisions made while it was down")
    print(f"lost     {len(local - stored)} of {len(local)} events lost, {len(rows) - distinct} stored twice,"
          f" {len(stored - local)} rows no kiosk recorded{'' if drained else ' (NOT all copied within 120 s)'}")

    if burst:  # every kiosk has a backlog at once (say, after a long network cut): how fast does the store take it?
        for services in fleet:
            services.fleet.stop(5)
        rng = random.Random(1)
        for services in fleet:
            for _ in range(burst):
                decide(services, rng)
        stop_burst = threading.Event()
        syncs = [FleetSync(s.cfg.fleet, s.cfg.kiosk.id, s.store, FleetStore.from_settings(s.cfg.fleet), stop_burst)
                 for s in fleet]
        t0 = time.monotonic()
        for sync in syncs:
            sync.start()
        done = wait_for(lambda: all_copied(stores), timeout=300)
        took = time.monotonic() - t0
        for sync in syncs:
            sync.stop(5)
            sync.fleet.close()
        print(f"burst    {burst} events queued on each of {kiosks} kiosks ({burst * kiosks}) copied in {took:.1f} s:"
              f" {burst * kiosks / took:.0f} events/s{'' if done else ' (NOT finished)'}")
    for services in fleet:
        services.stop(grace_s=1.0)


def fill(conn: psycopg.Connection, rows: int, kiosks: int, days: int) -> None:
    """``rows`` events over ``days`` days from ``kiosks`` kiosks, as the sync would store them (COPY: fast)."""
    rng = random.Random(7)
    now = datetime.now(timezone.utc)
    with conn.cursor() as cur, cur.copy(f"COPY events ({EVENT_COLUMNS}) FROM STDIN") as copy:
        for n in range(rows):
            moment = now - timedelta(seconds=rng.uniform(0, days * 86400))
            kind = "health" if n % 200 == 0 else "decision"
            decision = "health" if kind == "health" else rng.choice(DECISIONS)
            label = "camera-offline" if kind == "health" else ("with_mask" if decision == "granted" else "without_mask")
            copy.write_row((f"door-{n % kiosks:02d}", n // kiosks + 1, moment, 0, moment.date(), moment.timestamp(),
                            kind, decision, label, 0.9, 1, "camera", "", None))
    conn.execute("INSERT INTO kiosks (kiosk_id, last_seen, camera_state) SELECT DISTINCT kiosk_id, now(), 'live'"
                 " FROM events ON CONFLICT DO NOTHING")


def timed(call: Callable[[], object], repeat: int = 20) -> str:
    call()  # warm: the first call connects
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        call()
        times.append(time.perf_counter() - t0)
    return f"median {statistics.median(times) * 1000:.1f} ms, max {max(times) * 1000:.1f} ms"


def bench_page(server: TemporaryPostgres, rows: int, kiosks: int = 50, days: int = 30) -> None:
    url = server.create_database("page")
    store = FleetStore.from_settings(build_config({"fleet": {"database_url": url}}).fleet)
    store.ensure_schema()
    t0 = time.monotonic()
    with psycopg.connect(url, password=server.password, autocommit=True) as conn:
        fill(conn, rows, kiosks, days)
        filled = time.monotonic() - t0
        conn.execute("VACUUM ANALYZE events")  # what autovacuum does on its own soon after
    today = date.today()
    page, total = store.events(EventFilter(), 0, 50)
    print(f"page     {total} decisions (of {rows} events, {kiosks} kiosks, {days} days; COPY {filled:.1f} s)")
    print(f"page     events page 1 (50 newest + total): {timed(lambda: store.events(EventFilter(), 0, 50))}")
    where = EventFilter(kiosk_id="door-07", decision="denied")
    print(f"page     filtered kiosk + decision ({store.events(where, 0, 50)[1]} match):"
          f" {timed(lambda: store.events(where, 0, 50))}")
    where = EventFilter(day=today - timedelta(days=3), label="without_mask")
    print(f"page     filtered day + label ({store.events(where, 0, 50)[1]} match):"
          f" {timed(lambda: store.events(where, 0, 50))}")
    print(f"page     page 100 (offset 4950): {timed(lambda: store.events(EventFilter(), 4950, 50))}")
    print(f"page     kiosks overview for today: {timed(lambda: store.kiosks(today))}")
    print(f"page     hourly counts, whole fleet, today: {timed(lambda: store.hourly_counts(today, None))}")
    store.close()


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.bench_fleet", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kiosks", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--outage-at", type=float, default=25.0, help="seconds into the run; 0: no outage")
    parser.add_argument("--outage-s", type=float, default=5.0)
    parser.add_argument("--burst", type=int, default=200, help="events queued per kiosk at once after the run; 0: none")
    parser.add_argument("--page-rows", type=int, default=100_000, help="events in the store for the page timing; 0: skip")
    args = parser.parse_args(argv)
    setup_logging("ERROR")
    with TemporaryPostgres(settings=["max_connections=200"]) as server, \
            tempfile.TemporaryDirectory(prefix="bench-fleet-") as tmp:
        os.environ[FLEET_ENV_VAR] = server.password
        print(f"machine  {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}; PostgreSQL from {server.bin_dir},"
              f" fsync on, loopback")
        run_fleet(server, Path(tmp), args.kiosks, args.seconds, args.outage_at, args.outage_s, args.burst)
        if args.page_rows:
            bench_page(server, args.page_rows)
        print(f"machine  load after {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
