"""Logging for every entry point: one format, stderr, optional file; never print().

Native libraries print on their own, outside this format: OpenCV (``[ WARN:0@...]``,
``[ERROR:0@...]``), the codecs it wraps (``libpng error``, ``Corrupt JPEG data``), FFmpeg, and
LiteRT (``INFO: Created TensorFlow Lite XNNPACK delegate for CPU.``). Unless the log level is
DEBUG (``--verbose``), OpenCV and FFmpeg are told to keep quiet, and what the others write
straight to file descriptor 2 inside ``native_output_to_log`` is sent to the log at DEBUG.
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import sys
import tempfile
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Optional

LOG_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
# read by OpenCV (its own log) and by its FFmpeg backend (-8 = AV_LOG_QUIET) when they start
QUIET_NATIVE_ENV = {"OPENCV_LOG_LEVEL": "SILENT", "OPENCV_FFMPEG_LOGLEVEL": "-8"}
_LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} [A-Z]+ ")  # a record of ours (LOG_FORMAT)

native_log = logging.getLogger("kiosk.native")


def add_logging_options(parser: argparse.ArgumentParser, default: str = "INFO") -> None:
    parser.add_argument("--log-level", default=default, choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    parser.add_argument("--verbose", dest="log_level", action="store_const", const="DEBUG",
                        help="same as --log-level DEBUG: also let OpenCV, FFmpeg and LiteRT print their own messages")


def setup_logging(level: str = "INFO", log_file: Optional[Path] = None) -> None:
    """``level`` DEBUG also lets native libraries print their own messages (``--verbose``)."""
    handlers: list[logging.Handler] = [logging.StreamHandler()]
    if log_file is not None:
        Path(log_file).parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_file, encoding="utf-8"))
    logging.basicConfig(level=getattr(logging, level.upper(), logging.INFO), format=LOG_FORMAT, handlers=handlers, force=True)
    # third-party chatter that says nothing to an operator
    for noisy in ("PIL", "matplotlib", "mail.log", "asyncio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    quiet_native_libraries(level.upper() != "DEBUG")


def quiet_native_libraries(quiet: bool) -> None:
    """OpenCV and FFmpeg silent (``quiet``) or at their own defaults."""
    _stderr_capture.enabled = quiet
    for name, value in QUIET_NATIVE_ENV.items():
        if quiet:
            os.environ[name] = value  # for a library not loaded yet
        elif os.environ.get(name) == value:
            del os.environ[name]
    cv2 = sys.modules.get("cv2")  # already loaded: its level is set, the variable was read
    cv_logging = getattr(getattr(cv2, "utils", None), "logging", None)
    if cv_logging is not None:
        cv_logging.setLogLevel(cv_logging.LOG_LEVEL_SILENT if quiet else cv_logging.LOG_LEVEL_WARNING)


class _StderrCapture:
    """File descriptor 2 pointed at a temporary file while any thread is inside a capture.

    Nested and concurrent captures share one redirection (the last to leave restores it), so
    descriptor 2 always comes back. Python's own stderr goes through the same descriptor: a log
    record another thread wrote meanwhile is written again to stderr as it was, not lost.
    """

    def __init__(self) -> None:
        self.enabled = False
        self._lock = threading.Lock()
        self._depth = 0
        self._saved: Optional[int] = None
        self._file = None

    def enter(self) -> None:
        with self._lock:
            if self._depth == 0:
                try:
                    sys.stderr.flush()
                    if self._file is None:
                        self._file = tempfile.TemporaryFile()
                    saved = os.dup(2)
                    os.dup2(self._file.fileno(), 2)
                    self._saved = saved
                except (OSError, ValueError, AttributeError):  # no descriptor 2 (a daemon): nothing to hide
                    self._saved = None
            self._depth += 1

    def leave(self, what: str) -> None:
        with self._lock:
            self._depth -= 1
            if self._depth or self._saved is None:
                return
            try:
                sys.stderr.flush()
            except (OSError, ValueError, AttributeError):
                pass
            os.dup2(self._saved, 2)
            os.close(self._saved)
            self._saved = None
            self._file.seek(0)
            text = self._file.read().decode("utf-8", "replace")
            self._file.seek(0)
            self._file.truncate()
        for line in text.splitlines():
            if _LOG_LINE.match(line):
                print(line, file=sys.stderr)
            elif line.strip():
                native_log.debug("%s: %s", what, line.strip())


_stderr_capture = _StderrCapture()


@contextmanager
def native_output_to_log(what: str) -> Iterator[None]:
    """Around a call into a native library that prints to descriptor 2 by itself (``what`` names
    it in the log): its messages go to the log at DEBUG, unless the log level is DEBUG, when
    they are let through as they are."""
    if not _stderr_capture.enabled:
        yield
        return
    _stderr_capture.enter()
    try:
        yield
    finally:
        _stderr_capture.leave(what)
