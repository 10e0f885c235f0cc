"""``python -m kiosk.<tool>`` entry points (evaluate, detection_study) share one main: parse,
set up logging, and run through ``run_command``, which ``main.py``'s commands use too."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import Callable, NoReturn, Optional, Sequence

from kiosk.errors import KioskError
from kiosk.logging_setup import add_logging_options, setup_logging


class CommandParser(argparse.ArgumentParser):
    """An argument parser whose usage errors are one line, what is wrong and where the help is,
    instead of the whole usage first (several wrapped lines for most commands)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def module_main(prog: str, doc: Optional[str], add_arguments: Callable[[argparse.ArgumentParser], None],
                run: Callable[[argparse.Namespace], int], argv: Optional[Sequence[str]] = None) -> int:
    parser = CommandParser(prog=prog, description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_logging_options(parser)
    add_arguments(parser)
    args = parser.parse_args(argv)
    setup_logging(args.log_level)
    return run_command(run, args)


def run_command(run: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    """Run a command the way a Unix tool should end.

    A ``KioskError`` becomes ``error: <message>`` on stderr, exit status 2. A reader that closed
    our stdout early (``| head``) ends the run quietly, exit status 0, instead of a traceback; the
    final flush is inside the guard because short output is only written then. Ctrl+C gives 130.
    """
    try:
        code = int(run(args) or 0)
        sys.stdout.flush()
        return code
    except KioskError as exc:
        logging.getLogger("kiosk").debug("command failed", exc_info=True)
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        discard_stdout()
        return 0
    except KeyboardInterrupt:
        return 130


def discard_stdout() -> None:
    """Point stdout at /dev/null once its reader is gone, so that the interpreter's own last
    flush of what is still buffered cannot fail again (a traceback at exit)."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
