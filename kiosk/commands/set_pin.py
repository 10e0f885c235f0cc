"""Set the staff PIN that guards the admin panel and quitting ([ui] admin_pin_hash).

The PIN is typed twice on the terminal, never shown, and only its salted scrypt hash is written
to the config file (created when missing; every other line is kept). The PIN itself is never
printed, logged or stored. At least 4 digits or characters. Restart the kiosk to use it. A stop
from a service manager (SIGTERM) never asks for it.

examples:
  python main.py set-pin                            # kiosk.toml in the working directory
  python main.py set-pin --config /etc/kiosk.toml
  python main.py set-pin --clear                    # no PIN: nothing is asked
"""

from __future__ import annotations

import argparse
import getpass
import stat
import warnings
from pathlib import Path

from kiosk.admin_pin import hash_pin, pin_problem
from kiosk.config import DEFAULT_CONFIG_PATH, write_setting
from kiosk.errors import KioskError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", metavar="FILE",
                        help=f"config file to write (default: {DEFAULT_CONFIG_PATH}, created when missing)")
    parser.add_argument("--clear", action="store_true", help="remove the PIN: the admin panel and quitting ask nothing")


def read_pin(prompt: str) -> str:
    """One line from the terminal with echo off; never from a pipe, where it could not be hidden."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", getpass.GetPassWarning)
        try:
            return getpass.getpass(prompt)
        except getpass.GetPassWarning:
            raise KioskError("set-pin reads the PIN from a terminal, and there is none; nothing changed") from None
        except EOFError:
            raise KioskError("no PIN given; nothing changed") from None


def run(args: argparse.Namespace) -> int:
    path = Path(args.config) if args.config else DEFAULT_CONFIG_PATH
    if args.clear:
        write_setting(path, "ui", "admin_pin_hash", "")
        print(f"staff PIN removed from {path}: the admin panel and quitting ask nothing after the kiosk restarts")
        return 0
    pin = read_pin("New staff PIN: ")
    problem = pin_problem(pin)
    if problem:
        raise KioskError(f"{problem}; nothing changed")
    if read_pin("The same PIN again: ") != pin:
        raise KioskError("the two PINs differ; nothing changed")
    write_setting(path, "ui", "admin_pin_hash", hash_pin(pin))
    del pin
    print(f"staff PIN set in {path} ([ui] admin_pin_hash, only its hash); restart the kiosk to use it")
    if path.stat().st_mode & stat.S_IROTH:
        print(f"note: every user of this machine can read {path} and could try PINs against the hash;"
              f" 'chmod o-r {path}' keeps it to the kiosk's user and group")
    return 0
