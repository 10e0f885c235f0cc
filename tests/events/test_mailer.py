"""Real yagmail mail to a real aiosmtpd server on 127.0.0.1: content, login, one-line failures."""

from __future__ import annotations

import dataclasses
import logging
import re
import ssl
import subprocess

import cv2
import numpy as np
import pytest

from tests.helpers.cli import main_command
from tests.helpers.events import make_config, write_config
from kiosk.config import ConfigError
from tools.alert_drill import denial
from tools.measure_window import door_frame
from kiosk.door.decision import NO_FACE
from kiosk.credentials import ENV_VAR, CredentialsError
from kiosk.events.services import EventServices
from tools.loopback_smtp import LoopbackSmtp, free_port
from kiosk.events.mailer import ALERT_THUMBNAIL_PX, Mailer, MailError, compose_test

# aiosmtpd warns that the loopback test server allows login without TLS: that is intended here
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")

PASSWORD = "Zq9-s3cret-Pw!"


@pytest.fixture
def server():
    with LoopbackSmtp() as smtp:
        yield smtp


@pytest.fixture
def login_server():
    with LoopbackSmtp(username="door-kiosk", password=PASSWORD) as smtp:
        yield smtp


def test_denial_email_has_subject_recipients_html_and_a_small_face_thumbnail(tmp_path, server):
    cfg = make_config(tmp_path, server.port)
    services = EventServices(cfg)
    services.start()
    event = denial(cfg)
    services.on_decision(event)
    received = server.wait_for(1, timeout_s=15)
    stored = services.store.events()[0]
    services.stop()

    assert len(received) == 1
    mail = received[0]
    assert sorted(mail.rcpt_tos) == ["admin@example.org", "security@example.org"]
    assert mail.mail_from == "kiosk@example.org"
    subject = mail.message["Subject"]
    assert "test-door" in subject and event.time.strftime("%Y-%m-%d %H:%M:%S") in subject
    html_part = next(p for p in mail.message.walk() if p.get_content_type() == "text/html")
    body = html_part.get_content()
    assert "denied" in body and "without_mask" in body and "93%" in body
    images = [p for p in mail.message.walk() if p.get_content_maintype() == "image"]
    assert len(images) == 1  # the face, never the whole frame: what leaves the kiosk outlives retention
    (image,) = images
    assert f"cid:{image['Content-ID'].strip('<>')}" in body  # shown inline, not as a loose attachment
    face = cv2.imdecode(np.frombuffer(image.get_content(), np.uint8), cv2.IMREAD_COLOR)
    assert image.get_content_type() == "image/png" and max(face.shape[:2]) == ALERT_THUMBNAIL_PX
    assert max(cv2.imread(stored.snapshot_path).shape[:2]) > 2 * ALERT_THUMBNAIL_PX  # the frame stays on the kiosk
    assert mail.event_ids == [1]


def test_a_visitor_whose_face_was_never_found_is_mailed_with_a_small_picture_of_the_whole_view(tmp_path, server):
    """No face box: the thumbnail is the whole view, as small as a face thumbnail, so the staff
    see who stood at the door while no more leaves the kiosk than for a face."""
    cfg = make_config(tmp_path, server.port)
    services = EventServices(cfg)
    services.start()
    view = door_frame("faceless")
    services.on_decision(dataclasses.replace(denial(cfg, view), decision="uncertain", label=NO_FACE, score=0.0,
                                             faces=0, box=None))
    received = server.wait_for(1, timeout_s=15)
    services.stop()

    body = next(p for p in received[0].message.walk() if p.get_content_type() == "text/html").get_content()
    assert "UNCERTAIN" in body.upper() and NO_FACE in body
    (image,) = [p for p in received[0].message.walk() if p.get_content_maintype() == "image"]
    picture = cv2.imdecode(np.frombuffer(image.get_content(), np.uint8), cv2.IMREAD_COLOR)
    assert max(picture.shape[:2]) == ALERT_THUMBNAIL_PX
    assert picture.shape[1] / picture.shape[0] == pytest.approx(view.shape[1] / view.shape[0], abs=0.05)


def test_allowed_login_over_plain_smtp_uses_configured_user_and_env_password(tmp_path, login_server, monkeypatch):
    monkeypatch.setenv(ENV_VAR, PASSWORD)
    cfg = make_config(tmp_path, login_server.port, email={"username": "door-kiosk", "allow_plaintext_login": True})
    Mailer(cfg.email).send(compose_test(cfg.kiosk.id, cfg.email))
    assert login_server.authenticator.attempts == ["door-kiosk"]
    assert len(login_server.wait_for(1, timeout_s=10)) == 1


def test_plaintext_login_is_refused_by_the_config(tmp_path, monkeypatch):
    with pytest.raises(ConfigError) as refusal:
        make_config(tmp_path, 2525, email={"username": "door-kiosk", "allow_plaintext_login": False})
    assert str(refusal.value) == (
        '[email] username = "door-kiosk": with security = "none" the password would be sent unencrypted;'
        ' use "starttls" or "ssl", or set allow_plaintext_login = true on a network you trust')
    config = write_config(tmp_path, 2525, email={"username": "door-kiosk", "allow_plaintext_login": False})
    done = subprocess.run(main_command("run", "--validate-config", "--config", str(config)),
                          capture_output=True, text=True, timeout=90)
    assert done.returncode == 2 and done.stderr == f"error: {config}: {refusal.value}\n"


def test_mailer_refuses_plaintext_login_without_attempting_auth(tmp_path, login_server, monkeypatch):
    """Defence in depth: settings that never went through the config check still send no password."""
    monkeypatch.setenv(ENV_VAR, PASSWORD)
    allowed = make_config(tmp_path, login_server.port, email={"username": "door-kiosk"}).email
    settings = dataclasses.replace(allowed, allow_plaintext_login=False)
    asked = []
    mailer = Mailer(settings, password_source=lambda user: asked.append(user) or PASSWORD)
    with pytest.raises(MailError) as refusal:
        mailer.send(compose_test("test-door", settings))
    assert str(refusal.value) == (
        f"not logging in to 127.0.0.1:{login_server.port} as door-kiosk: with security = \"none\" the password would be"
        ' sent unencrypted; use "starttls" or "ssl", or set allow_plaintext_login = true on a network you trust')
    assert asked == [] and login_server.authenticator.attempts == [] and login_server.received == []
    Mailer(allowed).send(compose_test("test-door", allowed))  # the same server, allowed: it logs in and delivers
    assert login_server.authenticator.attempts == ["door-kiosk"]
    assert len(login_server.wait_for(1, timeout_s=10)) == 1


def test_wrong_password_is_one_clear_line(tmp_path, login_server, monkeypatch):
    monkeypatch.setenv(ENV_VAR, "not-the-password")
    cfg = make_config(tmp_path, login_server.port, email={"username": "door-kiosk"})
    with pytest.raises(MailError) as failure:
        Mailer(cfg.email).send(compose_test(cfg.kiosk.id, cfg.email))
    message = str(failure.value)
    assert re.fullmatch(r"login failed for user door-kiosk: 535 .+", message), message
    assert "not-the-password" not in message and login_server.received == []


def test_unreachable_server_is_one_clear_line(tmp_path):
    port = free_port()  # nothing listens here
    cfg = make_config(tmp_path, port)
    with pytest.raises(MailError) as failure:
        Mailer(cfg.email).send(compose_test(cfg.kiosk.id, cfg.email))
    assert str(failure.value) == f"cannot connect to 127.0.0.1:{port}: Connection refused"


def test_starttls_against_a_server_without_it_says_so(tmp_path, server):
    cfg = make_config(tmp_path, server.port, email={"security": "starttls"})
    with pytest.raises(MailError, match=r'does not offer STARTTLS; set \[email\] security = "none" or "ssl"'):
        Mailer(cfg.email).send(compose_test(cfg.kiosk.id, cfg.email))


def test_missing_password_names_both_sources(tmp_path, login_server, monkeypatch):
    monkeypatch.delenv(ENV_VAR, raising=False)
    cfg = make_config(tmp_path, login_server.port, email={"username": "door-kiosk"})
    with pytest.raises(CredentialsError, match=r"^no password: set KIOSK_SMTP_PASSWORD or store one with keyring"):
        Mailer(cfg.email).send(compose_test(cfg.kiosk.id, cfg.email))


def test_password_never_reaches_the_logs(tmp_path, login_server, monkeypatch, caplog):
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv(ENV_VAR, PASSWORD)
    cfg = make_config(tmp_path, login_server.port, email={"username": "door-kiosk", "cooldown_s": 0.0})
    services = EventServices(cfg)
    services.start()
    services.on_decision(denial(cfg))
    assert len(login_server.wait_for(1, timeout_s=15)) == 1
    monkeypatch.setenv(ENV_VAR, PASSWORD + "-wrong")  # a failing login is logged too
    services.on_decision(denial(cfg))
    services.stop(grace_s=1.0)
    assert "login failed for user door-kiosk" in caplog.text
    assert PASSWORD not in caplog.text
    assert "email sent to" in caplog.text  # the logs were really captured


def test_ssl_to_a_plain_port_names_the_security_setting(tmp_path, server):
    cfg = make_config(tmp_path, server.port, email={"security": "ssl"})
    with pytest.raises(MailError, match=r'^TLS with 127\.0\.0\.1:\d+ failed: .*is \[email\] security = "ssl" right'):
        Mailer(cfg.email).send(compose_test(cfg.kiosk.id, cfg.email))


def test_tls_refuses_an_untrusted_server_certificate(tmp_path):
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(cert),
                    "-days", "1", "-subj", "/CN=127.0.0.1"], check=True, capture_output=True)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    with LoopbackSmtp(ssl_context=context) as tls_server:
        cfg = make_config(tmp_path, tls_server.port, email={"security": "ssl"})
        with pytest.raises(MailError, match=r"failed: certificate not trusted \(self.signed certificate\)"):
            Mailer(cfg.email).send(compose_test(cfg.kiosk.id, cfg.email))
        assert tls_server.received == []
