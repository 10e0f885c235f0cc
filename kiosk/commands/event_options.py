"""What the events, report and send-test-email commands share: the --config option and
opening the event database named in it (read by paths in the file, never created by a typo)."""

from __future__ import annotations

import argparse

from kiosk.config import Config
from kiosk.errors import KioskError
from kiosk.events.store import EventStore


def add_config_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="FILE", help="config file (default: kiosk.toml when present)")


def open_store(cfg: Config) -> EventStore:
    """The configured event database; a missing file is an error here, not a new empty log."""
    path = cfg.resolve_path(cfg.storage.database)
    if not path.is_file():
        raise KioskError(f"no event database at {path} ([storage] database); has the kiosk run yet?")
    return EventStore(path)
