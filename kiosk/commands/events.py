"""List recorded events (oldest first) from the kiosk's event database, or delete one.

Every event says its source: camera, stream, file, folder or demo. Demo events (the built-in
demo feed, never a real visitor) are left out unless --include-demo; --all lists every event
ever recorded, demo included.

Examples:
  python main.py events                       # today's events
  python main.py events --since 2026-11-01    # from a day (local time) on
  python main.py events --since 2026-11-23T08:00 --csv > events.csv
  python main.py events --all --json          # every event ever, one JSON object per line
  python main.py events --delete 42           # one person's records: event 42, its images, its queued alert,
                                              # and its copy in the fleet store ([fleet] database_url)
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime, time

from kiosk.commands.event_options import add_config_option, reading_store
from kiosk.commands.options import int_at_least, load_command_config
from kiosk.config import Config
from kiosk.errors import KioskError
from kiosk.events.snapshots import SnapshotStore
from kiosk.events.table import format_lines, write_csv, write_json_lines
from kiosk.records import DEMO_SOURCE

# what each state of a deleted event's outbox row means for the person (``--delete``'s line)
ALERT_FATES = {"pending": "queued alert never sent", "sending": "alert being sent (it may still arrive)",
               "sent": "alert already emailed (it cannot be recalled)"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_option(parser)
    parser.add_argument("--since", metavar="WHEN", help="YYYY-MM-DD or YYYY-MM-DDTHH:MM (local time); default: today")
    parser.add_argument("--all", action="store_true", help="every event ever recorded, demo events included")
    parser.add_argument("--include-demo", action="store_true", help="also list demo events (left out by default)")
    parser.add_argument("--limit", type=int_at_least(0, "0 or more"), metavar="N", help="only the newest N events")
    output = parser.add_mutually_exclusive_group()
    output.add_argument("--csv", action="store_true", help="write CSV to stdout instead of a table")
    output.add_argument("--json", action="store_true", help="write one JSON object per event and line")
    parser.add_argument("--delete", type=int_at_least(1, "an event id (1 or more)"), metavar="ID",
                        help="delete one person's records: event ID, its image files and any alert queued for it")


def parse_since(value: str | None) -> datetime:
    """The start of the listing as an aware local datetime."""
    if value is None:
        return datetime.combine(datetime.now().date(), time()).astimezone()
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise KioskError(f"--since {value}: must be YYYY-MM-DD or YYYY-MM-DDTHH:MM") from None
    return moment if moment.tzinfo else moment.astimezone()


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def delete_event(cfg: Config, event_id: int) -> str:
    """Delete event ``event_id`` with its image files and outbox rows, rewrite the day's report in
    ``[storage] reports`` when there is one; returns the one-line confirmation."""
    snapshots = SnapshotStore(cfg.resolve_path(cfg.storage.snapshots), cfg.storage.retention_days)
    with reading_store(cfg) as store:
        event = store.event(event_id)
        if event is None:
            raise KioskError(f"no event {event_id} in {store.path}")
        fleet_copy = ""  # the fleet store's copy first: when it cannot be reached, nothing is deleted yet
        if cfg.fleet.database_url and event.source != DEMO_SOURCE:  # a demo event is never copied
            fleet_copy = _delete_fleet_copy(cfg, event.kiosk_id, event_id)
        try:  # the images first: a record whose files are gone is harmless, files without a record are forgotten
            files = snapshots.delete([event.snapshot_path, event.crop_path])
        except OSError as exc:
            raise KioskError(f"cannot delete {exc.filename}: {exc.strerror or exc}") from None
        deleted = store.delete_event(event_id)
        if deleted is None:  # deleted by someone else meanwhile
            raise KioskError(f"no event {event_id} in {store.path}")
        _, alert_states = deleted
        day = datetime.fromisoformat(event.time).date()
        report = cfg.resolve_path(cfg.storage.reports) / f"report-{day.isoformat()}.html"
        rewritten = report.is_file() and event.source != DEMO_SOURCE  # demo events are in no report
        if rewritten:  # its page shows the face: the report of that day is written again without it
            from kiosk.events.report import build_report  # matplotlib only when needed

            try:
                build_report(store, day, report.parent, cfg.kiosk.id, cfg.storage.privacy)
            except OSError as exc:
                raise KioskError(f"event {event_id} deleted, but {report} still shows it and cannot be rewritten:"
                                 f" {exc.strerror or exc}") from None
    parts = [f"deleted event {event_id} ({event.decision}, {event.time}, {event.source}): its record",
             _plural(files, "image file")]
    parts += [ALERT_FATES.get(state, f"{state} alert") for state in alert_states]
    if rewritten:
        parts.append(f"{report.name} rewritten without it")
    if fleet_copy:
        parts.append(fleet_copy)
    return ", ".join(parts)


def _delete_fleet_copy(cfg: Config, kiosk_id: str, event_id: int) -> str:
    """Delete the event's copy in the fleet store ([fleet] database_url), which then refuses it for good."""
    from kiosk.fleet.store import FleetError, FleetStore

    fleet = FleetStore.from_settings(cfg.fleet)
    try:
        copied = fleet.delete_event(kiosk_id, event_id)
    except FleetError as exc:
        raise KioskError(f"event {event_id} not deleted: {exc};"
                         " try again when the fleet store can be reached") from None
    finally:
        fleet.close()
    return "its copy in the fleet store" if copied else "no copy in the fleet store yet (none will be made)"


def run(args: argparse.Namespace) -> int:
    cfg = load_command_config(args)
    if args.delete is not None:
        listing = [name for name, given in (("--since", args.since is not None), ("--all", args.all),
                                            ("--include-demo", args.include_demo), ("--limit", args.limit is not None),
                                            ("--csv", args.csv), ("--json", args.json)) if given]
        if listing:
            raise KioskError(f"--delete cannot be combined with {', '.join(listing)}")
        print(delete_event(cfg, args.delete))
        return 0
    since = None if args.all else parse_since(args.since)
    hidden = () if args.all or args.include_demo else (DEMO_SOURCE,)
    with reading_store(cfg) as store:
        rows = store.events(since=since, limit=args.limit, exclude_sources=hidden)
        demo = store.count_by_source(since).get(DEMO_SOURCE, 0) if hidden and not (args.csv or args.json) else 0
    if args.csv:
        write_csv(rows, sys.stdout)
    elif args.json:
        write_json_lines(rows, sys.stdout)
    else:
        print("\n".join(format_lines(rows)))
        print(f"{_plural(len(rows), 'event')}" + (f" ({_plural(demo, 'demo event')} not shown: --include-demo)"
                                                   if demo else ""))
    return 0
