"""A door controller or smart relay on the network: one GET or POST per opening (urllib).

The controller locks by itself: a Shelly relay with its timer
(``http://192.0.2.7/relay/0?turn=on&timer={open_s}``, ``{open_s}`` becoming the seconds), a Home
Assistant webhook whose automation pulses the strike. A POST carries JSON: action, kiosk_id,
open_s, reason. Any answer but 2xx, or none within ``http_timeout_s``, is a failure. Proxies from
the environment are not used: door controllers are on the local network.
"""

from __future__ import annotations

import json
import urllib.request
from typing import Any

from kiosk.outputs.door import DoorOutput
from kiosk.outputs.http_request import direct_opener, send_expecting_2xx


class HttpRelay(DoorOutput):
    """Unlocks with one request; ``_lock`` sends nothing (the controller's own timer locks)."""

    def __init__(self, url: str, method: str, timeout_s: float, open_s: float, *, kiosk_id: str = "",
                 **door: Any) -> None:
        super().__init__(open_s, target=f"door controller at {url.split('?', 1)[0]}", **door)
        self.url = url.replace("{open_s}", f"{open_s:g}")
        self.method = method.upper()
        self.timeout_s = timeout_s
        self.kiosk_id = kiosk_id
        self._opener = direct_opener()

    def _unlock(self, reason: str) -> None:
        data = None
        headers = {"User-Agent": "mask-kiosk"}
        if self.method == "POST":
            body = {"action": "open", "kiosk_id": self.kiosk_id, "open_s": self.open_s, "reason": reason}
            data = json.dumps(body).encode("utf-8")
            headers["Content-Type"] = "application/json"
        request = urllib.request.Request(self.url, data=data, headers=headers, method=self.method)
        send_expecting_2xx(self._opener, request, self.timeout_s, "controller")

    def _lock(self) -> None:
        """Nothing to send: the controller locks after its own timer."""
