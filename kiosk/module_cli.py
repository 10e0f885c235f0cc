"""``python -m kiosk.<tool>`` entry points (evaluate, detection_study) share one main: parse,
set up logging, and turn a ``KioskError`` into ``error: <message>`` with exit status 2."""

from __future__ import annotations

import argparse
import sys
from typing import Callable, Optional, Sequence

from kiosk.errors import KioskError
from kiosk.logging_setup import setup_logging


def module_main(prog: str, doc: Optional[str], add_arguments: Callable[[argparse.ArgumentParser], None],
                run: Callable[[argparse.Namespace], int], argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog=prog, description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    add_arguments(parser)
    args = parser.parse_args(argv)
    setup_logging(args.log_level)
    try:
        return int(run(args) or 0)
    except KioskError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
