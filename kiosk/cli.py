"""Command dispatch for ``main.py``: one module per command in ``kiosk/commands``.

A command module is imported only when its command runs, so ``main.py classify`` never loads
Tk and the kiosk never loads TensorFlow. Each module offers ``add_arguments(parser)`` and
``run(args) -> int``; its docstring is its help text.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Optional, Sequence

from kiosk.logging_setup import add_logging_options, setup_logging
from kiosk.module_cli import CommandParser, run_command

COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("kiosk.commands.run", "start the kiosk (the default command)"),
    "classify": ("kiosk.commands.classify", "classify face-crop images as mask / no mask"),
    "analyze": ("kiosk.commands.analyze", "find and classify faces in photos, folders and videos"),
    "events": ("kiosk.commands.events", "list recorded decision events"),
    "report": ("kiosk.commands.report", "write (and optionally email) the daily report"),
    "send-test-email": ("kiosk.commands.send_test_email", "check the email settings by sending a test email"),
    "set-pin": ("kiosk.commands.set_pin", "set the staff PIN that guards the admin panel and quitting"),
    "calibrate": ("kiosk.commands.calibrate", "choose this site's mask threshold from its annotated photos"),
    "evaluate": ("kiosk.commands.evaluate", "how the kiosk does on a site's annotated photos (PASCAL VOC)"),
    "serve": ("kiosk.commands.serve", "start the web console: every kiosk's status, events, reports and health"),
    "user": ("kiosk.commands.user", "add, list or remove the web console's accounts"),
}
DEFAULT_COMMAND = "run"


def usage() -> str:
    width = max(map(len, COMMANDS))
    lines = ["usage: main.py [COMMAND] [OPTIONS]", "", "commands:"]
    lines += [f"  {name:<{width}}  {help_text}" for name, (_, help_text) in COMMANDS.items()]
    lines += ["", "Run 'main.py COMMAND --help' for a command's options. Without a command, 'run' is used."]
    return "\n".join(lines)


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] in ("-h", "--help"):
        print(usage())
        return 0
    if not argv or argv[0].startswith("-"):
        argv.insert(0, DEFAULT_COMMAND)
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"error: unknown command '{name}'\n\n{usage()}", file=sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[name][0])
    parser = CommandParser(
        prog=f"main.py {name}", description=module.__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_logging_options(parser)
    module.add_arguments(parser)
    args = parser.parse_args(rest)
    setup_logging(args.log_level)
    return run_command(module.run, args)
