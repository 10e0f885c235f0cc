"""One HTTP request that must be answered 2xx: the door controller and the webhooks both send
through here, so both name a failure the same way (one line, the reason, not urllib's wrapping)."""

from __future__ import annotations

import urllib.error
import urllib.request


def direct_opener(*handlers: urllib.request.BaseHandler) -> urllib.request.OpenerDirector:
    """An opener that ignores proxy environment variables: the kiosk talks to hosts on its own
    network, and an inherited ``http_proxy`` must not route a door opening elsewhere."""
    return urllib.request.build_opener(urllib.request.ProxyHandler({}), *handlers)


def send_expecting_2xx(opener: urllib.request.OpenerDirector, request: urllib.request.Request,
                       timeout_s: float, peer: str) -> None:
    """Send ``request``; ConnectionError("the <peer> answered HTTP 500 ...") for any answer but
    2xx, and the plain reason when nobody answers (refused, unknown host, timed out)."""
    try:
        with opener.open(request, timeout=timeout_s) as response:
            response.read(65536)
            status, why = response.status, response.reason
    except urllib.error.HTTPError as exc:  # 3xx (when not followed), 4xx, 5xx
        status, why = exc.code, exc.reason
        exc.close()
    except urllib.error.URLError as exc:
        raise ConnectionError(str(exc.reason)) from None
    if not 200 <= status < 300:
        raise ConnectionError(f"the {peer} answered HTTP {status} {why}")
