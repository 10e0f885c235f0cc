"""``main.py events``, ``main.py report`` and ``main.py send-test-email`` as real subprocesses."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from tests.helpers.events import write_config
from tools.alert_drill import denial
from kiosk.config import load_config
from kiosk.events.services import EventServices
from tools.loopback_smtp import LoopbackSmtp, free_port

from tests.helpers import PROJECT_ROOT
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


def main_py(*args: str, env_extra: dict | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "KIOSK_SMTP_PASSWORD"}  # only what a test passes
    env.update(env_extra or {})
    return subprocess.run([sys.executable, str(PROJECT_ROOT / "main.py"), *args], capture_output=True, text=True,
                          env=env, timeout=120)


def last_line(result: subprocess.CompletedProcess) -> str:
    """The command's error line (log lines may come before it), after checking there is no traceback."""
    assert "Traceback" not in result.stderr, result.stderr
    return result.stderr.strip().splitlines()[-1]


@pytest.fixture
def event_db(tmp_path) -> Path:
    """A config whose database holds 2 events yesterday and 3 today."""
    config = write_config(tmp_path)
    cfg = load_config(config)
    services = EventServices(cfg)
    now = datetime.now().astimezone()
    for when in (now - timedelta(days=1, minutes=2), now - timedelta(days=1, minutes=1)):
        services.on_decision(denial(cfg, when=when, with_frame=False))
    for _ in range(3):
        services.on_decision(denial(cfg))
    services.stop()
    return config


def test_events_csv_lists_todays_events(event_db):
    result = main_py("events", "--csv", "--config", str(event_db))
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [r["id"] for r in rows] == ["3", "4", "5"]
    assert {r["decision"] for r in rows} == {"denied"} and all(r["snapshot_path"].endswith(".jpg") for r in rows)


def test_events_since_and_table_output(event_db):
    yesterday = (datetime.now() - timedelta(days=1)).date().isoformat()
    result = main_py("events", "--since", yesterday, "--config", str(event_db))
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("5 events")
    bad = main_py("events", "--since", "last tuesday", "--config", str(event_db))
    assert bad.returncode == 2 and last_line(bad) == "error: --since last tuesday: must be YYYY-MM-DD or YYYY-MM-DDTHH:MM"


def test_events_without_a_database_is_one_line(tmp_path):
    config = write_config(tmp_path)
    result = main_py("events", "--config", str(config))
    assert result.returncode == 2
    assert last_line(result).startswith("error: no event database at ") and "Traceback" not in result.stderr


def test_report_command_writes_html_csv_and_chart(event_db, tmp_path):
    out = tmp_path / "report-out"
    result = main_py("report", "--config", str(event_db), "--out", str(out))
    assert result.returncode == 0, result.stderr
    day = datetime.now().astimezone().date().isoformat()
    assert result.stdout.split() == [str(out / f"report-{day}.html"), str(out / f"report-{day}.csv"),
                                     str(out / f"report-{day}-hours.png")]
    assert "<b>3</b> denied" in (out / f"report-{day}.html").read_text(encoding="utf-8")


def test_report_command_emails_the_report(tmp_path):
    with LoopbackSmtp() as server:
        config = write_config(tmp_path, server.port)
        services = EventServices(load_config(config))
        services.on_decision(denial(services.cfg))
        services.stop()
        result = main_py("report", "--config", str(config), "--email")
        assert result.returncode == 0, result.stderr
        mail = server.wait_for(1, timeout_s=10)[0]
    assert "Daily report" in mail.message["Subject"] and "emailed to" in result.stdout


def test_send_test_email_with_login_and_one_line_failures(tmp_path):
    with LoopbackSmtp(username="door-kiosk", password="pw-from-env-77") as server:
        config = write_config(tmp_path, server.port, email={"username": "door-kiosk"})
        ok = main_py("send-test-email", "--config", str(config), env_extra={"KIOSK_SMTP_PASSWORD": "pw-from-env-77"})
        assert ok.returncode == 0, ok.stderr
        assert ok.stdout.startswith(f"test email sent through 127.0.0.1:{server.port} (none)")
        assert len(server.wait_for(1, timeout_s=10)) == 1

        wrong = main_py("send-test-email", "--config", str(config), env_extra={"KIOSK_SMTP_PASSWORD": "nope-123"})
        assert wrong.returncode == 2
        assert last_line(wrong).startswith("error: login failed for user door-kiosk: 535")
        assert "nope-123" not in wrong.stderr + wrong.stdout

        missing = main_py("send-test-email", "--config", str(config))
        assert missing.returncode == 2
        assert last_line(missing).startswith("error: no password: set KIOSK_SMTP_PASSWORD or store one with keyring")

    port = free_port()
    config = write_config(tmp_path, port)
    down = main_py("send-test-email", "--config", str(config))
    assert down.returncode == 2
    assert last_line(down) == f"error: cannot connect to 127.0.0.1:{port}: Connection refused"
