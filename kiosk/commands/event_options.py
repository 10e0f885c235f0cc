"""What the events, report and send-test-email commands share: the --config option and
opening the event database named in it (read by paths in the file, never created by a typo,
never changed when it is damaged: the kiosk itself moves a damaged file aside at its next start)."""

from __future__ import annotations

import argparse
import sqlite3
from contextlib import contextmanager
from typing import Iterator

from kiosk.config import Config
from kiosk.errors import KioskError
from kiosk.events.store import DatabaseDamaged, EventStore


def add_config_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="FILE", help="config file (default: kiosk.toml when present)")


def open_store(cfg: Config) -> EventStore:
    """The configured event database; a missing file is an error here, not a new empty log, and a
    damaged one (empty, not SQLite, failing quick_check) a one-line error that leaves it as it is."""
    path = cfg.resolve_path(cfg.storage.database)
    if not path.is_file():
        raise KioskError(f"no event database at {path} ([storage] database); has the kiosk run yet?")
    try:
        return EventStore(path)
    except DatabaseDamaged as exc:
        raise KioskError(f"{exc}; the kiosk moves it aside at its next start") from None


@contextmanager
def reading_store(cfg: Config) -> Iterator[EventStore]:
    """``open_store`` for one read, closed afterwards; damage that only shows while reading (past
    what quick_check looks at) is a one-line error too, never a traceback."""
    store = open_store(cfg)
    try:
        yield store
    except sqlite3.DatabaseError as exc:
        raise KioskError(f"cannot read the event database {store.path}: {' '.join(str(exc).split())}") from None
    finally:
        store.close()
