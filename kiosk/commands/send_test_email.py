"""Check the [email] settings by sending a test email to [email] recipients (or --to).

Prints one line: what was sent, or exactly what failed (cannot connect, TLS, login, refused
recipient, missing password). The password comes from KIOSK_SMTP_PASSWORD or the keyring
(service "mask-kiosk", user = [email] username), never from the config file.
"""

from __future__ import annotations

import argparse

from kiosk.commands.event_options import add_config_option
from kiosk.commands.options import load_command_config
from kiosk.events.mailer import Mailer, compose_test


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_option(parser)
    parser.add_argument("--to", metavar="ADDRESS", action="append", help="send here instead of [email] recipients")


def run(args: argparse.Namespace) -> int:
    cfg = load_command_config(args)
    settings = cfg.email
    mailer = Mailer(settings)
    recipients = args.to or settings.recipients
    mailer.send(compose_test(cfg.kiosk.id, settings), recipients)
    print(f"test email sent through {mailer.server} ({settings.security}) to {', '.join(recipients)}")
    if not settings.enabled:
        print("note: [email] enabled = false, so the kiosk itself sends no alerts")
    return 0
