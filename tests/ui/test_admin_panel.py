"""The admin panel in a real Tk window (Xvfb): today's events with thumbnails and the outbox."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from tests.helpers.events import make_config
from tools.alert_drill import denial
from kiosk.events.services import EventServices
from tools.loopback_smtp import free_port
from kiosk.records import DecisionEvent
from tests.helpers.ui import pump


@pytest.fixture
def tk_root(x_display):
    import tkinter as tk

    root = tk.Tk()
    root.withdraw()
    yield root
    root.destroy()


def test_admin_panel_shows_todays_events_with_thumbnails_and_the_outbox(tmp_path, tk_root):
    from kiosk.ui.admin_panel import open_admin_panel

    port = free_port()  # nothing listens: the alerts stay in the outbox with their error
    cfg = make_config(tmp_path, port)
    services = EventServices(cfg)
    services.start()
    now = datetime.now().astimezone()
    services.on_decision(denial(cfg, when=now - timedelta(days=1)))  # yesterday: not shown
    services.on_decision(denial(cfg, when=now))
    services.on_decision(DecisionEvent(time=now + timedelta(seconds=1), kiosk_id=cfg.kiosk.id, decision="granted", label="with_mask",
                                       score=0.97, faces=1))
    assert pump(tk_root, lambda: services.status()["last_email_error"] is not None, timeout_s=15)

    top = open_admin_panel(tk_root, services)
    panel = top.panel
    assert pump(tk_root, lambda: panel.loads >= 1, timeout_s=15)

    rows = [panel.events.item(iid) for iid in panel.events.get_children()]
    assert [r["values"][1] for r in rows] == ["granted", "denied"]  # newest first, only today
    assert rows[1]["image"] and not rows[0]["image"]  # the denial has a face thumbnail
    assert len(panel._photos) == 1 and panel._photos[0].width() <= 48
    queued = [panel.outbox.item(iid)["values"] for iid in panel.outbox.get_children()]
    assert len(queued) == 2 and all("cannot connect to 127.0.0.1" in str(v[4]) for v in queued if v[3])
    summary = panel.summary.get()
    assert top.panel is panel
    assert "1 granted, 1 denied" in summary and "pending" in summary and "last email error: cannot connect" in summary
    assert top.winfo_exists() and top.title() == "Admin: kiosk test-door"

    panel.close()
    services.stop(grace_s=0.2)


def test_staff_open_the_door_from_the_admin_panel_and_it_is_recorded(tmp_path, tk_root):
    """Issue 20: the PIN-protected admin panel's "Open door" pulses the real relay (a pty here) and
    the opening is recorded in the event log as manual_open; without a door output there is no button."""
    from kiosk.outputs.serial_relay import SerialRelay
    from kiosk.ui.admin_panel import open_admin_panel
    from tests.helpers.relay import RelayBoard

    cfg = make_config(tmp_path, free_port())
    services = EventServices(cfg)
    services.start()
    board = RelayBoard()
    door = SerialRelay(board.port, 9600, bytes.fromhex("A0 01 01 A2"), bytes.fromhex("A0 01 00 A1"), 0.2,
                       source_kind="camera", on_health=services.on_health,
                       on_manual_open=lambda reason: services.on_health("manual_open", reason, alert=False))
    door.start()
    try:
        assert board.read(4) == bytes.fromhex("A0 01 00 A1")  # locked on connect
        top = open_admin_panel(tk_root, services, door)
        panel = top.panel
        panel.open_door_button.invoke()
        assert "Door opening" in panel.summary.get()  # said at once; the relay works on its own thread
        assert board.read(4) == bytes.fromhex("A0 01 01 A2")  # unlocked by hand
        assert board.read(4, timeout=3) == bytes.fromhex("A0 01 00 A1")  # and locked again after open_s
        assert pump(tk_root, lambda: any(e.label == "manual_open" for e in services.store.events()), timeout_s=10)
        panel.close()
        without = open_admin_panel(tk_root, services).panel
        assert not hasattr(without, "open_door_button")
        without.close()
    finally:
        door.stop()
        board.close()
        services.stop()
