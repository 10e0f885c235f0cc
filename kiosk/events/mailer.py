"""Compose alert emails and send any email through yagmail, with one-line failure reasons.

yagmail builds the MIME message (HTML body, inline ``cid:`` images, attachments) and opens the
SMTP connection (SSL / STARTTLS / plain). Two things are done around it on purpose:

* login: yagmail would log in as the From address (and append ``@gmail.com`` to a login without
  ``@``), and fetch a missing password with an interactive prompt. We connect with
  ``smtp_skip_login`` and log in ourselves with ``[email] username`` and the password from
  ``kiosk.credentials``, so From (``[email] sender``) and login stay independent.
* sending: ``Client.send`` retries internally with sleeps of 3 + 6 s and then returns False; our
  outbox does retries with backoff, so we hand the prepared message to the connection once.

TLS always verifies the server certificate (``ssl.create_default_context``), and a login over an
unencrypted connection is refused unless ``[email] allow_plaintext_login`` says otherwise.

Private by default: an email shows a face only as a small thumbnail of its crop (``Thumbnail``,
made when the email is sent), never a full frame. Retention deletes the kiosk's files, not what
sits in mailboxes, so what leaves the kiosk is kept to what staff need to tell who it was.
"""

from __future__ import annotations

import hashlib
import html
import logging
import smtplib
import socket
import ssl
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Callable, Optional, Sequence, Union

import yagmail

from kiosk.config import EmailSection, plaintext_login_problem
from kiosk.credentials import smtp_password
from kiosk.errors import KioskError
from kiosk.events.snapshots import thumbnail_png
from kiosk.records import StoredEvent

log = logging.getLogger(__name__)
# yagmail says "Connected ... as <From>" at INFO before our login: misleading, keep its warnings only
_yagmail_log = logging.getLogger(f"{__name__}.yagmail")
_yagmail_log.setLevel(logging.WARNING)

MAX_INLINE_THUMBNAILS = 12  # a digest shows the first faces, the table lists them all
THUMBNAIL_PX = 96  # longest side of a face in a report or digest email
ALERT_THUMBNAIL_PX = 160  # longest side of the face in an email about one alert


@dataclass(frozen=True)
class Thumbnail:
    """A face shown inline as a small PNG, scaled down from ``path`` when the email is sent."""

    path: str  # the event's face crop (or its frame when there is no crop)
    name: str  # the file name the email gives it, e.g. "event-12.png"
    max_side: int = THUMBNAIL_PX


Content = Union[str, yagmail.inline, Thumbnail]


class MailError(KioskError):
    """An email could not be delivered; the message is one line naming the cause."""


@dataclass
class Email:
    """A composed message, ready for ``Mailer.send`` (contents in yagmail's terms)."""

    subject: str
    contents: list[Content]
    kind: str = "alert"  # alert | digest | report | test
    message_id: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    attachments: list[str] = field(default_factory=list)
    event_ids: list[int] = field(default_factory=list)  # what this email accounts for


def _first_line(value: object) -> str:
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    lines = str(value).strip().splitlines()
    return lines[0] if lines else ""


def _smtp_reply(exc: smtplib.SMTPResponseException) -> str:
    return f"{exc.smtp_code} {_first_line(exc.smtp_error)}".strip()


class Mailer:
    """Sends ``Email`` objects with the ``[email]`` settings; one SMTP session per email."""

    def __init__(self, settings: EmailSection, password_source: Callable[[str], str] = smtp_password) -> None:
        self.settings = settings
        self._password_source = password_source

    @property
    def server(self) -> str:
        return f"{self.settings.host}:{self.settings.port}"

    def _client(self) -> yagmail.SMTP:
        s = self.settings
        kwargs: dict = {"timeout": s.timeout_s}
        starttls: Union[bool, dict] = False
        if s.security == "ssl":
            kwargs["context"] = ssl.create_default_context()
        elif s.security == "starttls":
            starttls = {"context": ssl.create_default_context()}
        client = yagmail.SMTP(
            user={s.sender: s.sender}, password=None, host=s.host, port=s.port,
            smtp_ssl=s.security == "ssl", smtp_starttls=starttls, smtp_skip_login=True,
            soft_email_validation=False, **kwargs,
        )
        client.log = _yagmail_log  # yagmail's own logger writes to stderr in its own format
        return client

    def _security_hint(self) -> str:
        return (f"is [email] security = \"{self.settings.security}\" right for port {self.settings.port}?"
                " (usually 465: ssl, 587: starttls, 25: starttls or none)")

    def _connect(self, client: yagmail.SMTP) -> None:
        try:
            client.login()  # connect (+ STARTTLS); login is skipped, we do it below
        except smtplib.SMTPNotSupportedError:
            raise MailError(f"{self.server} does not offer STARTTLS; set [email] security = \"none\" or \"ssl\"") from None
        except smtplib.SMTPServerDisconnected as exc:
            if "timed out" in str(exc):
                raise MailError(f"cannot connect to {self.server}: no SMTP greeting within {self.settings.timeout_s:g} s;"
                                f" {self._security_hint()}") from None
            raise MailError(f"{self.server} closed the connection ({_first_line(exc) or 'no greeting'});"
                            f" {self._security_hint()}") from None
        except smtplib.SMTPResponseException as exc:
            raise MailError(f"{self.server} refused the connection: {_smtp_reply(exc)}") from None
        except ssl.SSLCertVerificationError as exc:
            raise MailError(f"TLS with {self.server} failed: certificate not trusted ({exc.verify_message})") from None
        except ssl.SSLError as exc:
            raise MailError(f"TLS with {self.server} failed: {exc.reason or _first_line(exc)}; {self._security_hint()}") from None
        except socket.gaierror as exc:
            raise MailError(f"cannot connect to {self.server}: unknown host ({exc.strerror})") from None
        except (TimeoutError, socket.timeout):
            raise MailError(f"cannot connect to {self.server}: timed out after {self.settings.timeout_s:g} s") from None
        except OSError as exc:
            raise MailError(f"cannot connect to {self.server}: {exc.strerror or _first_line(exc)}") from None

    def _login(self, client: yagmail.SMTP) -> None:
        user = self.settings.username
        if not user:
            return
        password = self._password_source(user)
        try:
            client.smtp.login(user, password)
        except smtplib.SMTPAuthenticationError as exc:
            raise MailError(f"login failed for user {user}: {_smtp_reply(exc)}") from None
        except smtplib.SMTPNotSupportedError:
            hint = "; most servers offer it only after STARTTLS" if self.settings.security == "none" else ""
            raise MailError(f"{self.server} does not offer login (AUTH) for user {user}{hint}") from None
        except smtplib.SMTPException as exc:
            raise MailError(f"login failed for user {user}: {_first_line(exc)}") from None

    def _transmit(self, client: yagmail.SMTP, mail: Email, recipients: Sequence[str]) -> None:
        headers = {"X-Mailer": "mask-kiosk", "X-Kiosk-Mail-Kind": mail.kind, **mail.headers}
        with tempfile.TemporaryDirectory(prefix="kiosk-mail-") as folder:  # thumbnails live only while composed
            to, message = client.prepare_send(
                to=list(recipients), subject=mail.subject, contents=_with_thumbnails(mail.contents, Path(folder)),
                attachments=mail.attachments or None, headers=headers, prettify_html=False,
                message_id=mail.message_id or None,
            )
        try:
            refused = client.smtp.sendmail(self.settings.sender, to, message)
        except smtplib.SMTPRecipientsRefused as exc:
            reasons = "; ".join(f"{addr} ({_smtp_reply(smtplib.SMTPResponseException(*r))})"
                                for addr, r in exc.recipients.items())
            raise MailError(f"{self.server} refused every recipient: {reasons}") from None
        except smtplib.SMTPSenderRefused as exc:
            raise MailError(f"{self.server} refused sender {self.settings.sender}: {_smtp_reply(exc)}") from None
        except smtplib.SMTPDataError as exc:
            raise MailError(f"{self.server} rejected the message: {_smtp_reply(exc)}") from None
        except smtplib.SMTPServerDisconnected:
            raise MailError(f"{self.server} closed the connection while the message was sent") from None
        except smtplib.SMTPException as exc:
            raise MailError(f"sending through {self.server} failed: {_first_line(exc)}") from None
        except OSError as exc:
            raise MailError(f"sending through {self.server} failed: {exc.strerror or _first_line(exc)}") from None
        if refused:
            log.warning("%s refused some recipients of '%s': %s", self.server, mail.subject, ", ".join(refused))

    def send(self, mail: Email, recipients: Optional[Sequence[str]] = None) -> None:
        """Deliver ``mail`` to ``recipients`` (default: ``[email] recipients``) or raise ``MailError``."""
        recipients = list(recipients or self.settings.recipients)
        if not recipients:
            raise MailError("no recipients: set [email] recipients")
        plaintext = plaintext_login_problem(self.settings)  # the config refuses it too; settings can come from elsewhere
        if plaintext:
            raise MailError(f"not logging in to {self.server} as {self.settings.username}: {plaintext}")
        client = self._client()
        try:
            self._connect(client)
            self._login(client)
            self._transmit(client, mail, recipients)
        finally:
            client.close()
        log.info("email sent to %s: %s", ", ".join(recipients), mail.subject)


# --- composing alerts -----------------------------------------------------------------------

def _when(iso: str) -> str:
    return f"{datetime.fromisoformat(iso):%Y-%m-%d %H:%M:%S %z}"


def face_thumbnail(event: StoredEvent, privacy: bool, max_side: int = THUMBNAIL_PX) -> Optional[Thumbnail]:
    """The event's face as a small inline image, or None (privacy on, no image kept, or cleaned up)."""
    path = event.thumbnail_path
    if privacy or not path or not Path(path).is_file():
        return None
    return Thumbnail(path, f"event-{event.id}.png", max_side)


def _with_thumbnails(contents: Sequence[Content], folder: Path) -> list[Union[str, yagmail.inline]]:
    """``contents`` for yagmail: each ``Thumbnail`` written as a small PNG into ``folder``; one
    whose image is gone by now (retention, a deleted event) is left out."""
    ready: list[Union[str, yagmail.inline]] = []
    for item in contents:
        if not isinstance(item, Thumbnail):
            ready.append(item)
            continue
        data = thumbnail_png(item.path, item.max_side)
        if data is not None:
            path = folder / item.name
            path.write_bytes(data)
            ready.append(yagmail.inline(str(path)))
    return ready


def _row_html(event: StoredEvent) -> str:
    cells = [f"#{event.id}", _when(event.time), event.decision.upper(), event.label,
             f"{event.score * 100:.0f}%", str(event.faces), event.source, event.policy_note]
    return "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>"


def events_table(events: Sequence[StoredEvent]) -> str:
    """An HTML table of events (no newlines: yagmail turns them into <br>)."""
    head = "".join(f"<th align='left'>{h}</th>" for h in ("event", "time", "decision", "label", "score", "faces", "source", "note"))
    return f"<table border='1' cellpadding='4' cellspacing='0'><tr>{head}</tr>{''.join(map(_row_html, events))}</table>"


def message_id(kind: str, kiosk_id: str, keys: Sequence[int]) -> str:
    """Stable for the same content, so a retried duplicate can be recognised by mail systems."""
    digest = hashlib.sha1(",".join(map(str, keys)).encode()).hexdigest()[:20]
    return f"<{kind}-{digest}@{kiosk_id}.mask-kiosk>"


def compose_alert(kiosk_id: str, leads: Sequence[StoredEvent], repeats: Sequence[StoredEvent], privacy: bool) -> Email:
    """One email for the alerts in ``leads`` (one: an alert; several: a digest) plus cooldown repeats.
    A health event alone (the kiosk itself, e.g. a damaged database replaced) says so in its subject.

    Every event id is listed in the ``X-Kiosk-Event-Ids`` header: that is how each alert is
    accounted for exactly once in what was delivered.
    """
    if not leads:
        raise ValueError("an alert email needs at least one leading alert")
    contents: list[Content] = []
    if len(leads) == 1 and leads[0].kind == "health":
        event = leads[0]
        kind = "alert"
        subject = f"[{kiosk_id}] Kiosk health: {event.label} at {_when(event.time)}"
        contents.append(f"<h2>Kiosk health at kiosk {html.escape(kiosk_id)}</h2>"
                        f"<p>{html.escape(event.policy_note)}</p>" + events_table([event]))
    elif len(leads) == 1:
        event = leads[0]
        kind = "alert"
        subject = f"[{kiosk_id}] Access {event.decision} at {_when(event.time)}"
        contents.append(f"<h2>Access {html.escape(event.decision)} at kiosk {html.escape(kiosk_id)}</h2>"
                        + events_table([event]))
        face = face_thumbnail(event, privacy, ALERT_THUMBNAIL_PX)
        contents += [face] if face is not None else []
    else:
        kind = "digest"
        subject = f"[{kiosk_id}] Digest: {len(leads)} alerts from {_when(leads[0].time)} to {_when(leads[-1].time)}"
        contents.append(f"<h2>{len(leads)} alerts at kiosk {html.escape(kiosk_id)}</h2>"
                        "<p>Rolled into one email because of the hourly cap or a backlog.</p>" + events_table(leads))
        thumbs = [face_thumbnail(e, privacy) for e in leads[:MAX_INLINE_THUMBNAILS]]
        contents += [img for img in thumbs if img is not None]
    if repeats:
        contents.append(f"<h3>{len(repeats)} more within the alert cooldown (no separate email)</h3>"
                        + events_table(repeats))
    if privacy:
        contents.append("<p><i>Privacy mode: no images are stored or sent.</i></p>")
    ids = sorted(e.id for e in (*leads, *repeats))
    return Email(subject=subject, contents=contents, kind=kind, message_id=message_id(kind, kiosk_id, ids),
                 headers={"X-Kiosk-Id": kiosk_id, "X-Kiosk-Event-Ids": ",".join(map(str, ids))}, event_ids=ids)


def compose_test(kiosk_id: str, settings: EmailSection) -> Email:
    body = (f"<h2>Test email from kiosk {html.escape(kiosk_id)}</h2><p>SMTP {html.escape(settings.host)}:"
            f"{settings.port}, security {html.escape(settings.security)}, login "
            f"{html.escape(settings.username or '(none)')}. Alerts will reach you.</p>")
    return Email(subject=f"[{kiosk_id}] Test email {datetime.now().astimezone():%Y-%m-%d %H:%M:%S %z}",
                 contents=[body], kind="test", message_id=message_id("test", kiosk_id, [int(time.time() * 1000)]))
