"""Start the web console: every kiosk's status, its events with their faces, the daily reports
and the kiosks' health, in a browser, for the accounts made with 'main.py user add'.

It reads the fleet's PostgreSQL store when [fleet] database_url is set, and otherwise this
kiosk's own event log ([storage] database), so one entrance needs no other server. Served by
uvicorn on loopback by default; to reach it from other machines put a TLS proxy in front of it
(and set [web] secure_cookies = true) rather than serving plain HTTP on the network.

Examples:
  python main.py user add alice --role admin      # first, an account
  python main.py serve                            # http://127.0.0.1:8080/
  python main.py serve --config /etc/kiosk.toml --port 8081
"""

from __future__ import annotations

import argparse
import logging

from kiosk.commands.event_options import add_config_option, open_store
from kiosk.commands.options import int_at_least, load_command_config
from kiosk.config import Config, redacted_url
from kiosk.web.data import ConsoleData

log = logging.getLogger("kiosk.serve")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_config_option(parser)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1, this machine only)")
    parser.add_argument("--port", type=_port, default=8080, help="port to listen on (default: 8080)")


def _port(text: str) -> int:
    value = int_at_least(1, "a port from 1 to 65535")(text)
    if value > 65535:
        raise argparse.ArgumentTypeError(f"must be a port from 1 to 65535, got {text!r}")
    return value


def open_console_data(cfg: Config) -> tuple[ConsoleData, str]:
    """What the console reads, and its name for people (no password in it): the fleet store when
    [fleet] database_url is set and the fleet package is there, else this kiosk's event log."""
    url = cfg.fleet.database_url
    if url:
        try:
            from kiosk.fleet.store import FleetStore
        except ImportError as exc:  # the fleet store is missing from this installation (or psycopg is)
            log.error("[fleet] database_url is set but the fleet store cannot be loaded (%s);"
                      " reading this kiosk's own event log instead", exc)
        else:
            store = FleetStore.from_settings(cfg.fleet)
            return store, f"the fleet store {redacted_url(url)}"
    from kiosk.web.local_data import LocalConsoleData

    store = open_store(cfg)
    return LocalConsoleData(cfg, store, cfg.web.online_within_s), f"the event log {store.path}"


def run(args: argparse.Namespace) -> int:
    cfg = load_command_config(args)
    import uvicorn

    from kiosk.web.accounts import AccountStore
    from kiosk.web.app import ConsoleSettings, build_app

    accounts = AccountStore(cfg.resolve_path(cfg.web.users_db))
    data, store_name = open_console_data(cfg)
    try:
        if not accounts.users():
            log.warning("no console accounts yet in %s: add one with 'main.py user add NAME --role admin'",
                        accounts.path)
        app = build_app(data, accounts, ConsoleSettings(cfg.web.session_hours, cfg.web.secure_cookies, store_name))
        log.info("console at http://%s:%d/ reading %s", args.host, args.port, store_name)
        # log_config=None: uvicorn logs through the kiosk's own logging set-up; the access log holds
        # paths and query strings only (no form field, cookie or token ever travels in a URL)
        uvicorn.run(app, host=args.host, port=args.port, log_config=None, server_header=False,
                    proxy_headers=True, forwarded_allow_ips="127.0.0.1")
    finally:
        data.close()
        accounts.close()
    return 0
