"""Health emails through the real runtime, event services and a real SMTP server on 127.0.0.1:
a camera that goes away and comes back (``[camera] alert_offline_after_s = 1``) is one email each
way; with the SMTP server down meanwhile, both wait in the outbox, across a restart, and nothing is
lost. A classifier that fails on every frame, and a model that cannot be loaded, are health events
too; a demo's are never emailed."""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from tests.camera.test_capture import UnpluggableCamera
from tests.helpers import PROJECT_ROOT, wait_until
from tests.helpers.cli import main_command
from tests.helpers.events import kiosk_settings, write_config
from kiosk.config import Config, build_config
from kiosk.door.health import ANALYSIS_BACK, ANALYSIS_FAILED, CAMERA_BACK, CAMERA_OFFLINE, MODEL_FAILED
from kiosk.door.runtime import KioskRuntime
from kiosk.events.services import EventServices
from kiosk.events.store import EventStore
from tools.loopback_smtp import LoopbackSmtp, free_port

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")

CAMERA = {"alert_offline_after_s": 1.0, "offline_after_s": 0.5, "reconnect_max_s": 1.0}


class Named:
    def __init__(self, name: str) -> None:
        self.name = name


class StubAnalyzer:
    """Finds nobody, cheaply; raises while ``broken`` is set, like a classifier failing at run time."""

    def __init__(self) -> None:
        self.classifier, self.detector = Named("stub"), Named("stub")
        self.broken = threading.Event()

    def analyze(self, frame: np.ndarray) -> list:
        if self.broken.is_set():
            raise RuntimeError("interpreter tensor mismatch")
        return []


def health_config(tmp_path: Path, port: int | None) -> Config:
    settings = kiosk_settings(tmp_path, port)
    settings["camera"] = dict(CAMERA)
    return build_config(settings)


class Kiosk:
    """Event services and the runtime on an unpluggable camera, wired as ``main.py run`` wires them."""

    def __init__(self, cfg: Config, camera: UnpluggableCamera, analyzer: StubAnalyzer | None = None) -> None:
        self.services = EventServices(cfg, camera.kind)
        self.services.start()
        self.runtime = KioskRuntime(cfg, analyzer or StubAnalyzer(), [self.services], camera,
                                    on_health=self.services.on_health)
        self.runtime.start()

    def health(self) -> list[tuple[str, str]]:
        """(label, alert state) of each health event so far, oldest first."""
        return [(e.label, e.alert_state) for e in self.services.store.events() if e.kind == "health"]

    def stop(self) -> None:
        self.runtime.stop()
        self.services.stop()


def health_subject(mail) -> str:
    return str(mail.message["Subject"])


def test_camera_gone_then_back_is_one_health_email_each_way(tmp_path):
    camera = UnpluggableCamera()
    with LoopbackSmtp() as server:
        kiosk = Kiosk(health_config(tmp_path, server.port), camera)
        try:
            assert wait_until(lambda: camera.good_frames > 20)
            camera.plugged.clear()
            received = server.wait_for(1, timeout_s=20)
            assert len(received) == 1, kiosk.health()
            assert wait_until(lambda: kiosk.health() == [(CAMERA_OFFLINE, "sent")])
            camera.plugged.set()
            received = server.wait_for(2, timeout_s=20)
            assert wait_until(lambda: kiosk.health() == [(CAMERA_OFFLINE, "sent"), (CAMERA_BACK, "sent")])
            threading.Event().wait(1.5)  # longer than alert_offline_after_s: still nothing more
        finally:
            kiosk.stop()
    assert len(server.received) == 2  # one per outage and one per return, never one per frame
    offline, back = server.received
    assert health_subject(offline).startswith("[test-door] Kiosk health: camera-offline at ")
    assert health_subject(back).startswith("[test-door] Kiosk health: camera-back at ")
    body = next(p for p in offline.message.walk() if p.get_content_type() == "text/html").get_content()
    assert "Camera 7: no picture for 1 s" in body and "OUT OF SERVICE" in body
    assert sorted(offline.rcpt_tos) == ["admin@example.org", "security@example.org"]
    assert offline.event_ids != back.event_ids


def test_health_emails_wait_in_the_outbox_while_smtp_is_down_and_survive_a_restart(tmp_path):
    port = free_port()
    cfg = health_config(tmp_path, port)
    camera = UnpluggableCamera()
    kiosk = Kiosk(cfg, camera)  # no SMTP server on the port yet: every try fails
    try:
        assert wait_until(lambda: camera.good_frames > 20)
        camera.plugged.clear()
        assert wait_until(lambda: [label for label, _ in kiosk.health()] == [CAMERA_OFFLINE], timeout=20)
        camera.plugged.set()
        assert wait_until(lambda: [label for label, _ in kiosk.health()] == [CAMERA_OFFLINE, CAMERA_BACK], timeout=20)
        assert wait_until(lambda: kiosk.services.sender.last_error is not None, timeout=20)
    finally:
        kiosk.stop()
    store = EventStore(cfg.resolve_path(cfg.storage.database))
    ids = {e.id for e in store.events() if e.kind == "health"}
    assert len(ids) == 2 and store.outbox_counts().get("pending") == 2  # queued on disk, none lost
    store.close()

    with LoopbackSmtp(port=port) as server:  # the kiosk starts again, and the mail server is back
        services = EventServices(cfg, "camera")
        services.start()
        try:
            received = server.wait_for_events(ids, timeout_s=30)
        finally:
            services.stop()
    assert {i for mail in received for i in mail.event_ids} == ids
    assert sum(len(mail.event_ids) for mail in received) == 2  # at least once, and here exactly once
    store = EventStore(cfg.resolve_path(cfg.storage.database))
    counts = store.outbox_counts()
    assert (counts["sent"], counts["pending"], counts["failed"]) == (2, 0, 0)
    store.close()


def test_a_classifier_failing_on_every_frame_is_one_health_event_then_one_when_it_works(tmp_path):
    camera = UnpluggableCamera()
    analyzer = StubAnalyzer()
    kiosk = Kiosk(health_config(tmp_path, None), camera, analyzer)
    try:
        assert wait_until(lambda: kiosk.runtime.frames_analyzed > 10)
        analyzer.broken.set()
        assert wait_until(lambda: kiosk.health() != [], timeout=20)
        threading.Event().wait(1.5)  # hundreds more failed frames: still one event
        assert kiosk.health() == [(ANALYSIS_FAILED, "none")]  # email is off in this config
        analyzer.broken.clear()
        assert wait_until(lambda: len(kiosk.health()) == 2, timeout=20)
        assert kiosk.health() == [(ANALYSIS_FAILED, "none"), (ANALYSIS_BACK, "none")]
        failed = [e for e in kiosk.services.store.events() if e.label == ANALYSIS_FAILED][0]
    finally:
        kiosk.stop()
    assert "RuntimeError: interpreter tensor mismatch" in failed.policy_note and kiosk.runtime.analysis_errors > 10


def test_a_demo_kiosk_records_its_health_events_but_never_emails_them(tmp_path):
    cfg = health_config(tmp_path, free_port())
    services = EventServices(cfg, "demo")
    try:
        services.on_health(CAMERA_OFFLINE, "demo feed: no picture for 1 s")
        (event,) = services.store.events()
        assert (event.kind, event.source, event.alert_state) == ("health", "demo", "none")
        assert services.store.outbox_counts().get("pending", 0) == 0
    finally:
        services.stop()


def test_a_model_that_cannot_be_loaded_is_emailed_before_the_kiosk_stops(tmp_path, model_dir):
    broken = tmp_path / "broken-model"
    broken.mkdir()
    shutil.copy(model_dir / "model_card.json", broken / "model_card.json")
    # past the start-up file checks (a TFLite identifier), but the interpreter cannot load it
    (broken / "mask_classifier.tflite").write_bytes(b"\x1c\x00\x00\x00TFL3" + b"\x00garbage" * 64)
    with LoopbackSmtp() as server:
        config = write_config(tmp_path, server.port)
        done = subprocess.run(main_command("run", "--headless", "--source", "99", "--config", str(config),
                                           "--model", str(broken)),
                              capture_output=True, text=True, timeout=120, cwd=PROJECT_ROOT)
        received = server.wait_for(1, timeout_s=10)
    assert done.returncode == 2
    errors = [line for line in done.stderr.splitlines() if "error" in line.lower()]
    assert len(errors) == 1 and "is not a valid TFLite model" in errors[0], done.stderr  # said once
    assert len(received) == 1, done.stderr
    assert health_subject(received[0]).startswith(f"[test-door] Kiosk health: {MODEL_FAILED} at ")
    body = next(p for p in received[0].message.walk() if p.get_content_type() == "text/html").get_content()
    assert "the mask model could not be loaded, the kiosk did not start" in body


def test_a_missing_model_folder_is_emailed_too_and_validate_config_sends_nothing(tmp_path):
    """Refused by the start-up file checks (no folder at all), the kiosk still tells the
    administrators why it did not start; --validate-config only checks and says so."""
    with LoopbackSmtp() as server:
        config = write_config(tmp_path, server.port)
        missing = tmp_path / "no-model-here"
        checked = subprocess.run(main_command("run", "--validate-config", "--config", str(config), "--model", str(missing)),
                                 capture_output=True, text=True, timeout=120, cwd=PROJECT_ROOT)
        done = subprocess.run(main_command("run", "--headless", "--source", "99", "--config", str(config),
                                           "--model", str(missing)),
                              capture_output=True, text=True, timeout=120, cwd=PROJECT_ROOT)
        received = server.wait_for(1, timeout_s=10)
    assert checked.returncode == 2 and done.returncode == 2
    assert f'[model] dir = "{missing}": no such folder' in done.stderr.splitlines()[-1], done.stderr
    assert len(received) == 1, done.stderr  # one, from the start; none from --validate-config
    assert health_subject(received[0]).startswith(f"[test-door] Kiosk health: {MODEL_FAILED} at ")


def test_a_health_event_queued_just_before_stop_is_still_sent_in_the_grace_period(tmp_path):
    """The race a kiosk that stops right after recording (a model that cannot be loaded) ran into:
    the sender had looked at an empty outbox, the event was queued and stop asked before it
    looked again; it used to return at once, leaving the email for the next start."""
    with LoopbackSmtp() as server:
        services = EventServices(health_config(tmp_path, server.port), "camera")
        sender = services.sender
        looked = threading.Event()
        cycle = sender._cycle

        def first_look_then_queue_and_stop():
            wait_s = cycle()
            if not looked.is_set():  # between this look and the next: what the main thread did
                looked.set()
                services.on_health(MODEL_FAILED, "the mask model could not be loaded")
                sender._stop_deadline = time.monotonic() + 5.0
            return wait_s

        sender._cycle = first_look_then_queue_and_stop
        services.start()
        assert looked.wait(10)
        services.stop()
        received = server.wait_for(1, timeout_s=5)
    assert len(received) == 1 and MODEL_FAILED in health_subject(received[0])
