"""The daily report from a generated event database: chart, totals, CSV, thumbnails, email."""

from __future__ import annotations

import csv
from datetime import datetime, timedelta

import cv2
import pytest

from tests.helpers.events import make_config
from tools.alert_drill import denial
from kiosk.events.services import EventServices
from tools.loopback_smtp import LoopbackSmtp
from kiosk.events.mailer import Mailer
from kiosk.records import DecisionEvent
from kiosk.events.report import build_report, compose_report_email, hourly_counts

DAY = datetime(2026, 3, 14).astimezone().date()


def fill_day(cfg) -> EventServices:
    """3 denials at 08:xx, 09:xx, 09:xx and 4 grants at 08:xx and 17:xx of DAY, one event the day after."""
    services = EventServices(cfg)
    at = lambda h, m: datetime(DAY.year, DAY.month, DAY.day, h, m).astimezone()  # noqa: E731
    for when in (at(8, 5), at(9, 10), at(9, 40)):
        services.on_decision(denial(cfg, when=when))
    for when in (at(8, 1), at(8, 2), at(17, 30), at(17, 31)):
        services.on_decision(DecisionEvent(time=when, kiosk_id=cfg.kiosk.id, decision="granted",
                                           label="with_mask", score=0.98, faces=1))
    services.on_decision(denial(cfg, when=at(9, 0) + timedelta(days=1)))
    return services


def test_report_files_hold_counts_chart_csv_and_denial_thumbnails(tmp_path):
    cfg = make_config(tmp_path)
    services = fill_day(cfg)
    files = build_report(services.store, DAY, tmp_path / "out", cfg.kiosk.id, privacy=False)

    assert (files.granted, files.denied) == (4, 3)
    counts = hourly_counts(services.store.events(day=DAY))
    assert counts["denied"][8:10] == [1, 2] and counts["granted"][8] == 2 and counts["granted"][17] == 2
    chart = cv2.imread(str(files.chart))
    assert chart is not None and chart.shape[1] == 800  # 8 in x 100 dpi
    with open(files.csv, encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 7 and sorted({r["decision"] for r in rows}) == ["denied", "granted"]
    page = files.html.read_text(encoding="utf-8")
    assert "<b>4</b> granted, <b>3</b> denied" in page
    assert page.count("data:image/png;base64,") == 3  # one thumbnail per denial
    assert files.chart.name in page


def test_privacy_report_has_no_thumbnails(tmp_path):
    cfg = make_config(tmp_path, storage={"privacy": True})
    services = fill_day(cfg)
    files = build_report(services.store, DAY, tmp_path / "out", cfg.kiosk.id, privacy=True)
    assert files.denied == 3 and "data:image" not in files.html.read_text(encoding="utf-8")


def test_report_email_carries_chart_inline_and_files_attached(tmp_path):
    with LoopbackSmtp() as server:
        cfg = make_config(tmp_path, server.port)
        services = fill_day(cfg)
        files = build_report(services.store, DAY, tmp_path / "out", cfg.kiosk.id, privacy=False)
        Mailer(cfg.email).send(compose_report_email(files, cfg.kiosk.id, privacy=False))
        mail = server.wait_for(1, timeout_s=10)[0].message
    assert mail["Subject"] == f"[test-door] Daily report {DAY}: 4 granted, 3 denied"
    names = sorted(p.get_filename() for p in mail.walk() if p.get_filename() and p.get_content_maintype() != "image")
    assert names == [files.csv.name, files.html.name]
    inline_pngs = [p for p in mail.walk() if p.get_content_type() == "image/png" and p["Content-ID"]]
    assert len(inline_pngs) == 1  # the chart


@pytest.mark.timeout(120)
def test_running_kiosk_emails_yesterdays_report_at_report_time(tmp_path):
    with LoopbackSmtp() as server:
        cfg = make_config(tmp_path, server.port, email={"report_time": "00:00"})
        services = EventServices(cfg)
        yesterday = datetime.now().astimezone() - timedelta(days=1)
        services.on_decision(denial(cfg, when=yesterday))
        services.start()  # housekeeping finds report_time passed and queues yesterday's report
        server.wait_for(2, timeout_s=30)
        services.stop()
    subjects = sorted(m.message["Subject"] for m in server.received)
    assert any(s.startswith(f"[test-door] Daily report {yesterday.date()}: 0 granted, 1 denied") for s in subjects)
    assert len(subjects) == 2  # the alert and the report, nothing more
