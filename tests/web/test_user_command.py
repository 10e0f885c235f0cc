"""main.py user: accounts are added with a password asked twice (stored as an argon2 hash, never
as text), listed and removed; a removed user's sessions end."""

from __future__ import annotations

import subprocess

from kiosk import cli
from kiosk.web.accounts import AccountStore
from tests.helpers.cli import main_command
from tests.helpers.events import write_config
from tests.helpers import PROJECT_ROOT


def _config(tmp_path):
    path = write_config(tmp_path)
    with open(path, "a", encoding="utf-8") as out:
        out.write(f'[web]\nusers_db = "{tmp_path / "users.sqlite3"}"\n')
    return path


def test_add_asks_twice_and_stores_only_a_hash(tmp_path, monkeypatch, capsys):
    config = _config(tmp_path)
    answers = iter(["correct horse battery", "correct horse battery", "first try 12345", "second try 12345"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    assert cli.main(["user", "add", "alice", "--role", "admin", "--config", str(config)]) == 0
    assert cli.main(["user", "add", "bob", "--role", "viewer", "--config", str(config)]) == 2
    output = capsys.readouterr()
    assert "added alice (admin)" in output.out and "the two passwords differ; nothing was changed" in output.err
    raw = (tmp_path / "users.sqlite3").read_bytes()
    assert b"correct horse battery" not in raw and b"$argon2id$" in raw
    assert (tmp_path / "users.sqlite3").stat().st_mode & 0o077 == 0  # readable by the kiosk's account only
    accounts = AccountStore(tmp_path / "users.sqlite3")
    assert [u.name for u in accounts.users()] == ["alice"]
    assert accounts.verify("alice", "correct horse battery") and accounts.verify("alice", "Correct horse battery") is None


def test_list_remove_and_refusals_from_the_command_line(tmp_path):
    config = str(_config(tmp_path))

    def user(*argv: str, stdin: str = "") -> subprocess.CompletedProcess:
        return subprocess.run(main_command("user", *argv, "--config", config), input=stdin, capture_output=True,
                              text=True, cwd=PROJECT_ROOT, timeout=60)

    assert user("add", "carol", "--role", "viewer", "--password-stdin", stdin="a long enough one\n").returncode == 0
    short = user("add", "dave", "--role", "viewer", "--password-stdin", stdin="short\n")
    assert short.returncode == 2 and short.stderr.strip() == "error: a password needs at least 10 characters"
    again = user("add", "carol", "--role", "admin", "--password-stdin", stdin="a long enough one\n")
    assert "user carol already exists" in again.stderr
    assert user("add", "erin", "--role", "root").stderr.count("\n") == 1  # a usage error in one line
    accounts = AccountStore(tmp_path / "users.sqlite3")
    token, _ = accounts.open_session(accounts.verify("carol", "a long enough one"), hours=1)
    listing = user("list").stdout
    assert listing.startswith("carol") and "viewer" in listing
    assert user("remove", "carol").stdout.strip() == "removed carol; their sessions are closed"
    assert accounts.session(token) is None and "no accounts" in user("list").stdout
    assert user("remove", "carol").stderr.strip().startswith("error: no user carol in ")
