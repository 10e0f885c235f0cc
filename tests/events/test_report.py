"""The daily report from a generated event database: chart, totals, CSV, thumbnails, email."""

from __future__ import annotations

import csv
import dataclasses
from datetime import datetime, timedelta

import cv2
import numpy as np
import pytest

from tests.helpers.events import make_config
from tools.alert_drill import denial
from kiosk.events.services import EventServices
from tools.loopback_smtp import LoopbackSmtp
from kiosk.events.mailer import THUMBNAIL_PX, Mailer
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
    assert len(inline_pngs) == 4  # the chart and one small thumbnail per denial, never a full frame
    sizes = sorted(cv2.imdecode(np.frombuffer(p.get_content(), np.uint8), cv2.IMREAD_COLOR).shape[1::-1]
                   for p in inline_pngs)
    assert sizes[-1] == (800, 300)  # the chart
    assert all(max(size) <= THUMBNAIL_PX for size in sizes[:-1])
    assert not [p for p in mail.walk() if p.get_content_type() == "image/jpeg"]


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


def test_demo_events_are_in_no_report_and_replays_can_be_left_out(tmp_path):
    cfg = make_config(tmp_path)
    services = EventServices(cfg)
    at = lambda h, m: datetime(DAY.year, DAY.month, DAY.day, h, m).astimezone()  # noqa: E731
    for hour, source in ((8, "camera"), (9, "stream"), (10, "file"), (11, "folder"), (12, "demo"), (13, "demo")):
        services.on_decision(dataclasses.replace(denial(cfg, when=at(hour, 0)), source=source))
    services.on_decision(DecisionEvent(time=at(14, 0), kiosk_id=cfg.kiosk.id, decision="granted", label="with_mask",
                                       score=0.98, faces=1, source="demo"))

    files = build_report(services.store, DAY, tmp_path / "all", cfg.kiosk.id, privacy=False)
    assert (files.granted, files.denied, files.replays) == (0, 4, 2)
    with open(files.csv, encoding="utf-8") as f:
        assert [r["source"] for r in csv.DictReader(f)] == ["camera", "stream", "file", "folder"]
    page = files.html.read_text(encoding="utf-8")
    assert "<b>0</b> granted, <b>4</b> denied" in page and page.count("data:image/png;base64,") == 4
    assert "2 of these decisions came from file or folder replays" in page

    cameras = build_report(services.store, DAY, tmp_path / "cameras", cfg.kiosk.id, privacy=False,
                           exclude_replays=True)
    assert (cameras.granted, cameras.denied, cameras.replays) == (0, 2, 0)
    assert [e.source for e in cameras.denials] == ["camera", "stream"]
    assert "file or folder replays are not included" in cameras.html.read_text(encoding="utf-8")
    mail = compose_report_email(cameras, cfg.kiosk.id, privacy=False)
    assert mail.subject == f"[test-door] Daily report {DAY}: 0 granted, 2 denied"
    services.stop()
