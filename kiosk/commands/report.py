"""Write the daily report (HTML page, CSV of events, PNG chart of decisions per hour) and
optionally email it to [email] recipients.

Demo events are never in a report. File and folder replays are, marked as such, unless
--exclude-replays leaves them out.

Examples:
  python main.py report                          # today, into [storage] reports
  python main.py report --date 2026-11-22 --out /tmp/r --email
  python main.py report --exclude-replays        # the camera's and streams' events only
"""

from __future__ import annotations

import argparse
import logging
from datetime import date, datetime
from pathlib import Path

from kiosk.commands.event_options import add_config_option, reading_store
from kiosk.commands.options import load_command_config
from kiosk.errors import KioskError
from kiosk.events.mailer import Mailer
from kiosk.events.report import build_report, compose_report_email

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_option(parser)
    parser.add_argument("--date", metavar="YYYY-MM-DD", help="the day to report (default: today)")
    parser.add_argument("--out", metavar="DIR", help="output folder (default: [storage] reports)")
    parser.add_argument("--email", action="store_true", help="also email the report to [email] recipients")
    parser.add_argument("--exclude-replays", action="store_true",
                        help="leave out the events of file and folder replays (demo events are always left out)")


def run(args: argparse.Namespace) -> int:
    cfg = load_command_config(args)
    try:
        day = date.fromisoformat(args.date) if args.date else datetime.now().astimezone().date()
    except ValueError:
        raise KioskError(f"--date {args.date}: must be YYYY-MM-DD") from None
    out_dir = Path(args.out).resolve() if args.out else cfg.resolve_path(cfg.storage.reports)
    try:
        with reading_store(cfg) as store:
            files = build_report(store, day, out_dir, cfg.kiosk.id, cfg.storage.privacy,
                                 exclude_replays=args.exclude_replays)
    except OSError as exc:
        raise KioskError(f"cannot write the report to {out_dir}: {exc.strerror or exc}") from None
    print(files.html)
    print(files.csv)
    print(files.chart)
    log.info("report %s: %d granted, %d denied", day, files.granted, files.denied)
    if args.email:
        Mailer(cfg.email).send(compose_report_email(files, cfg.kiosk.id, cfg.storage.privacy))
        print(f"emailed to {', '.join(cfg.email.recipients)}")
    return 0
