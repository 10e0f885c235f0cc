"""A network camera on loopback: an MJPEG stream over HTTP, served at a camera's pace, that the
kiosk opens as a live ``stream`` source (the kind that may open the door)."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable

import cv2
import numpy as np

BOUNDARY = b"frame"


class MjpegCamera(ThreadingHTTPServer):
    """Serves ``frame_at(i)`` as frame i of an endless stream at ``fps``; use as a context manager."""

    daemon_threads = True

    def __init__(self, frame_at: Callable[[int], np.ndarray], fps: float = 12.0) -> None:
        super().__init__(("127.0.0.1", 0), _StreamHandler)
        self.frame_at = frame_at
        self.fps = fps
        self.closing = threading.Event()
        self._thread = threading.Thread(target=self.serve_forever, name="mjpeg-camera", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/stream.mjpg"

    def __enter__(self) -> "MjpegCamera":
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.closing.set()
        self.shutdown()
        self.server_close()


class _StreamHandler(BaseHTTPRequestHandler):
    server: MjpegCamera

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", f"multipart/x-mixed-replace; boundary={BOUNDARY.decode()}")
        self.end_headers()
        started, i = time.monotonic(), 0
        try:
            while not self.server.closing.is_set():
                jpeg = cv2.imencode(".jpg", self.server.frame_at(i))[1].tobytes()
                self.wfile.write(b"--%s\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n%s\r\n"
                                 % (BOUNDARY, len(jpeg), jpeg))
                i += 1
                self.server.closing.wait(max(0.0, started + i / self.server.fps - time.monotonic()))
        except OSError:  # the kiosk hung up
            pass

    def log_message(self, *args) -> None:
        pass
