"""Webhooks: each event (a decision or a health event, never the demo) POSTed as JSON to every ``[webhook] urls``.

The body is the event's JSON (``kiosk.outputs.outbox.event_payload``: ``id``, kind, time, source,
decision or what/note). It is signed: ``X-Kiosk-Signature: sha256=<hex HMAC-SHA256 of the body>``
with the secret from ``KIOSK_WEBHOOK_SECRET`` or the keyring, so a receiver can check it came from
the kiosk and was not changed. ``X-Kiosk-Event-Id`` repeats the payload's ``id``: a post can
arrive twice (at least once, from the durable outbox), never with a different id.

A receiver answers 2xx to take it. Anything else (an error status, a redirect, a refused or slow
connection) is retried with backoff, per URL: one URL down does not hold back the others.
Environment proxies are not used. The secret is never logged, nor is any password in a URL.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import urllib.request
from typing import Optional, Sequence

from kiosk.config import redacted_url
from kiosk.events.store import EventStore, Outgoing, OutgoingRow
from kiosk.outputs.outbox import OutboxOutput
from kiosk.outputs.http_request import direct_opener, send_expecting_2xx

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Kiosk-Signature"
EVENT_ID_HEADER = "X-Kiosk-Event-Id"


def sign(secret: str, body: bytes) -> str:
    """The ``X-Kiosk-Signature`` value of ``body``: "sha256=" and the hex HMAC-SHA256."""
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def signature_matches(secret: str, body: bytes, header: Optional[str]) -> bool:
    """What a receiver does: compare in constant time."""
    return header is not None and hmac.compare_digest(sign(secret, body), header)


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect is an answer to fix in the config, not a POST to replay elsewhere (urllib would turn it into a GET)."""

    def redirect_request(self, *args, **kwargs):  # noqa: ANN002, ANN003 - urllib's signature
        return None


class WebhookOutput(OutboxOutput):
    """POSTs queued events to ``urls``, one thread for all of them."""

    channel = "webhook"

    def __init__(self, store: EventStore, urls: Sequence[str], secret: str, *, timeout_s: float,
                 retry_initial_s: float, retry_max_s: float) -> None:
        super().__init__(store, retry_initial_s=retry_initial_s, retry_max_s=retry_max_s)
        self.urls = list(urls)
        self.timeout_s = timeout_s
        self._secret = secret
        self._opener = direct_opener(_NoRedirects())

    def __repr__(self) -> str:  # never the secret
        return f"WebhookOutput({len(self.urls)} URLs)"

    def messages(self, payload: dict) -> list[Outgoing]:
        body = json.dumps(payload, ensure_ascii=False, sort_keys=True)
        return [Outgoing(self.channel, url, body) for url in self.urls]

    def _describe_target(self, target: str) -> str:
        return f"POST to {redacted_url(target)}"

    def _send(self, row: OutgoingRow) -> bool:
        body = row.payload.encode("utf-8")
        event_id = json.loads(row.payload).get("id", "")
        headers = {"Content-Type": "application/json", "User-Agent": "mask-kiosk",
                   SIGNATURE_HEADER: sign(self._secret, body), EVENT_ID_HEADER: str(event_id)}
        request = urllib.request.Request(row.target, data=body, headers=headers, method="POST")
        send_expecting_2xx(self._opener, request, self.timeout_s, "receiver")
        return True
