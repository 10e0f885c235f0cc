"""List recorded decision events (oldest first) from the kiosk's event database.

Examples:
  python main.py events                       # today's events
  python main.py events --since 2026-11-01    # from a day (local time) on
  python main.py events --since 2026-11-23T08:00 --csv > events.csv
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime, time

from kiosk.commands.event_options import add_config_option, reading_store
from kiosk.commands.options import load_command_config
from kiosk.errors import KioskError
from kiosk.events.table import format_lines, write_csv


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_option(parser)
    parser.add_argument("--since", metavar="WHEN", help="YYYY-MM-DD or YYYY-MM-DDTHH:MM (local time); default: today")
    parser.add_argument("--all", action="store_true", help="every event ever recorded")
    parser.add_argument("--limit", type=int, metavar="N", help="only the newest N events")
    parser.add_argument("--csv", action="store_true", help="write CSV to stdout instead of a table")


def parse_since(value: str | None) -> datetime:
    """The start of the listing as an aware local datetime."""
    if value is None:
        return datetime.combine(datetime.now().date(), time()).astimezone()
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise KioskError(f"--since {value}: must be YYYY-MM-DD or YYYY-MM-DDTHH:MM") from None
    return moment if moment.tzinfo else moment.astimezone()


def run(args: argparse.Namespace) -> int:
    cfg = load_command_config(args)
    since = None if args.all else parse_since(args.since)
    with reading_store(cfg) as store:
        rows = store.events(since=since, limit=args.limit)
    if args.csv:
        write_csv(rows, sys.stdout)
    else:
        print("\n".join(format_lines(rows)))
        print(f"{len(rows)} events")
    return 0
