"""A kiosk process that only copies its event log to the fleet store, for the kill -9 tests.

  python -m tests.fleet.sync_process KIOSK.TOML               # the FleetSync thread, until killed
  python -m tests.fleet.sync_process KIOSK.TOML --hold-after N  # copy batch by batch; after the Nth
        PostgreSQL commit print "committed" and hang before the copy mark is written (kill me then)
"""

from __future__ import annotations

import argparse
import sys
import threading

from kiosk.config import load_config
from kiosk.events.store import EventStore
from kiosk.fleet.store import FleetStore
from kiosk.fleet.sync import FleetSync

BATCH = 5


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("config")
    parser.add_argument("--hold-after", type=int, default=0)
    args = parser.parse_args()
    cfg = load_config(args.config)
    events = EventStore(cfg.resolve_path(cfg.storage.database))
    sync = FleetSync(cfg.fleet, cfg.kiosk.id, events, FleetStore.from_settings(cfg.fleet), threading.Event(),
                     batch=BATCH, poll_s=0.05)
    if args.hold_after:
        commits = 0
        set_mark = events.set_copy_mark

        def set_mark_or_hold(name: str, event_id: int) -> None:
            nonlocal commits
            commits += 1
            if commits == args.hold_after:
                print("committed", event_id, flush=True)
                threading.Event().wait()  # PostgreSQL has the batch, the mark does not move: kill -9 now
            set_mark(name, event_id)

        events.set_copy_mark = set_mark_or_hold
        sync.sync_all()
        return 1
    print("syncing", flush=True)
    sync.start()
    threading.Event().wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
