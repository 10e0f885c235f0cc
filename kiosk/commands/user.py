"""Manage the web console's accounts: add one (its password is asked twice and never shown),
list them, or remove one (their open sessions end with it).

Roles: admin (may also delete one person's records, a privacy request) and viewer (looks only).
Passwords are kept as argon2id hashes in [web] users_db, never as text.

Examples:
  python main.py user add alice --role admin
  python main.py user list
  python main.py user remove alice
  python main.py user add robot --role viewer --password-stdin < password.txt   # scripts
"""

from __future__ import annotations

import argparse
import getpass
import sys
from datetime import datetime

from kiosk.commands.event_options import add_config_option
from kiosk.commands.options import load_command_config
from kiosk.errors import KioskError
from kiosk.web.accounts import MIN_PASSWORD_CHARS, ROLES, AccountStore


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = actions.add_parser("add", help="add an account (asks for its password twice)")
    add.add_argument("name", help="the name to sign in with")
    add.add_argument("--role", choices=ROLES, required=True, help="admin may delete a person's records; viewer only looks")
    add.add_argument("--password-stdin", action="store_true",
                     help="read the password from the first line of standard input instead of asking")
    listing = actions.add_parser("list", help="list the accounts and their roles")
    remove = actions.add_parser("remove", help="remove an account and end its sessions")
    remove.add_argument("name")
    for action in (add, listing, remove):
        add_config_option(action)


def read_password(name: str, from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    password = getpass.getpass(f"Password for {name} (at least {MIN_PASSWORD_CHARS} characters): ")
    if getpass.getpass("The same password again: ") != password:
        raise KioskError("the two passwords differ; nothing was changed")
    return password


def run(args: argparse.Namespace) -> int:
    cfg = load_command_config(args)
    accounts = AccountStore(cfg.resolve_path(cfg.web.users_db))
    try:
        if args.action == "add":
            user = accounts.add_user(args.name, args.role, read_password(args.name, args.password_stdin))
            print(f"added {user.name} ({user.role}) to {accounts.path}")
        elif args.action == "list":
            users = accounts.users()
            for user in users:
                print(f"{user.name:<24} {user.role:<7} added {datetime.fromtimestamp(user.created):%Y-%m-%d %H:%M}")
            if not users:
                print(f"no accounts in {accounts.path}: add one with 'main.py user add NAME --role admin'")
        elif not accounts.remove_user(args.name):
            raise KioskError(f"no user {args.name} in {accounts.path}")
        else:
            print(f"removed {args.name}; their sessions are closed")
    finally:
        accounts.close()
    return 0
