"""Where frames come from: a camera, a video file, an RTSP/HTTP stream, a folder of images, or the demo.

Every source has the same small interface (``open`` / ``read`` / ``close``) so the capture thread
treats them alike. A source says *what* happened (no frame now, the file ended, cannot open);
the capture thread decides what to do about it (retry, reconnect with backoff, report "ended").
"""

from __future__ import annotations

import logging
import os
import socket
import sys
from abc import abstractmethod
from pathlib import Path
from typing import Any, Iterator, Optional
from urllib.parse import urlsplit

import cv2
import numpy as np

from kiosk.config import Config
from kiosk.camera.demo_feed import DemoFeed
from kiosk.camera.frame_source import FrameSource, SourceEnded, SourceError, SourceUnavailable
from kiosk.camera.media import DEFAULT_MAX_IMAGE_PIXELS, IMAGE_EXTENSIONS, MediaError, iter_media_files, read_image
from kiosk.camera.video_io import DEFAULT_FPS, VideoReader
from kiosk.logging_setup import native_output_to_log

log = logging.getLogger(__name__)

DEMO = "demo"
DEFAULT_CAMERA = 0
DEMO_FALLBACK_TEXT = "No camera found: showing the demo feed"
STREAM_TIMEOUT_MS = 5000  # an unreachable RTSP/HTTP camera must not freeze the capture thread for 30 s
PROBE_TIMEOUT_S = 1.0  # a stream's host that does not accept a connection within this is not back yet
TCP_DEFAULT_PORTS = {"rtsp": 554, "rtsps": 322, "http": 80, "https": 443, "rtmp": 1935}
# An image folder plays like people arriving one after another: each picture is shown long
# enough for a decision and its hold (default hold_s 3 s), then an empty frame longer than the
# default leave_after_s (1 s), so every picture is its own episode with its own decision.
IMAGE_SLIDE_S = 4.0
IMAGE_GAP_S = 1.5
IMAGE_FOLDER_FPS = 10.0
EMPTY_GRAY = 90  # the empty frame between pictures
EMPTY_SIZE = (640, 480)  # its size before any picture has been read (then: the last picture's)


class _CaptureSource(FrameSource):
    """Anything ``cv2.VideoCapture`` opens."""

    def __init__(self) -> None:
        self._capture: Optional[cv2.VideoCapture] = None

    @abstractmethod
    def _make_capture(self) -> cv2.VideoCapture: ...

    @property
    def is_open(self) -> bool:
        return self._capture is not None

    def open(self) -> None:
        self.close()
        # OpenCV and its backends (V4L2, GStreamer, FFmpeg) print a screen of warnings for every
        # camera they cannot open: those go to the debug log, and the one-line reason is raised below
        with native_output_to_log(f"opening {self.label}"):
            capture = self._make_capture()
        if not capture.isOpened():
            capture.release()
            raise SourceUnavailable(self.unavailable_text())
        self._capture = capture

    def read(self) -> Optional[np.ndarray]:
        if self._capture is None:
            return None
        ok, frame = self._capture.read()
        return frame if ok else None

    def close(self) -> None:
        if self._capture is not None:
            self._capture.release()
            self._capture = None


class CameraSource(_CaptureSource):
    """A local camera by index; when it is unplugged the capture thread reconnects with backoff."""

    kind = "camera"

    def __init__(self, index: int, width: int, height: int) -> None:
        super().__init__()
        self.index = index
        self.width, self.height = width, height
        self.label = f"Camera {index}"

    def _make_capture(self) -> cv2.VideoCapture:
        backend = cv2.CAP_V4L2 if sys.platform.startswith("linux") else cv2.CAP_ANY
        capture = cv2.VideoCapture(self.index, backend)
        if capture.isOpened():
            capture.set(cv2.CAP_PROP_FRAME_WIDTH, self.width)
            capture.set(cv2.CAP_PROP_FRAME_HEIGHT, self.height)
            capture.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # we want the newest frame, not a backlog
        return capture

    def probe(self) -> bool:
        """On Linux an unplugged camera has no device node; elsewhere there is no cheap way to tell."""
        return os.path.exists(f"/dev/video{self.index}") if sys.platform.startswith("linux") else True


class StreamSource(_CaptureSource):
    """An RTSP/HTTP network camera, opened through FFmpeg with bounded timeouts."""

    kind = "stream"

    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = url
        self.label = _short_url(url)

    def _make_capture(self) -> cv2.VideoCapture:
        params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, STREAM_TIMEOUT_MS, cv2.CAP_PROP_READ_TIMEOUT_MSEC, STREAM_TIMEOUT_MS]
        return cv2.VideoCapture(self.url, cv2.CAP_FFMPEG, params)

    def probe(self) -> bool:
        """The camera's host accepts a TCP connection on the stream's port: a sign of life that
        costs one connection, where opening the stream through FFmpeg may wait its full timeout.
        True when it cannot be told (no host, an unknown scheme such as udp://)."""
        try:
            parts = urlsplit(self.url)
            scheme, host, port = parts.scheme.lower(), parts.hostname, parts.port
        except ValueError:  # e.g. a port that is not a number: let open() say what is wrong
            return True
        if scheme not in TCP_DEFAULT_PORTS or not host:  # udp://, srt://, ...: no connection to try
            return True
        port = port or TCP_DEFAULT_PORTS[scheme]
        try:
            with socket.create_connection((host, port), timeout=PROBE_TIMEOUT_S):
                return True
        except OSError:
            return False


class VideoFileSource(FrameSource):
    """A video file, played at its own frame rate; optionally looped."""

    kind = "file"
    retry = False

    def __init__(self, path: Path, loop: bool) -> None:
        self.path = Path(path)
        self.loop = loop
        self.label = self.path.name
        self.fps = DEFAULT_FPS
        self._reader: Optional[VideoReader] = None
        self._frames: Optional[Iterator[np.ndarray]] = None

    @property
    def is_open(self) -> bool:
        return self._reader is not None

    def open(self) -> None:
        """``MediaError`` (one line, exit 2) for a missing file or one that is not a video."""
        self.close()
        self._reader = VideoReader(self.path)
        self._frames = self._reader.frames()
        self.fps = self._reader.fps

    def read(self) -> Optional[np.ndarray]:
        if self._frames is None:
            return None
        frame = self._next_frame()
        if frame is None and self.loop and self._reader is not None and self._reader.frames_read > 0:
            self.open()
            frame = self._next_frame()
        if frame is None:
            raise SourceEnded(f"{self.label} ended")
        return frame

    def _next_frame(self) -> Optional[np.ndarray]:
        assert self._frames is not None
        try:
            return next(self._frames)
        except StopIteration:
            return None
        except MediaError as exc:  # opened, but nothing decodes: it ends here, with the reason logged
            log.warning("%s", exc)
            return None

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
        self._reader, self._frames = None, None


class ImageFolderSource(FrameSource):
    """A slideshow of the pictures in a folder (recursively, sorted): each shown for ``IMAGE_SLIDE_S``,
    then ``IMAGE_GAP_S`` of an empty frame, so each picture is decided as a person of its own.
    A picture that cannot be read is logged and its slot shows the empty frame: the picture
    before it must not stay on screen and be decided a second time."""

    kind = "folder"
    retry = False

    def __init__(self, folder: Path, loop: bool, max_pixels: int = DEFAULT_MAX_IMAGE_PIXELS) -> None:
        self.folder = Path(folder)
        self.loop = loop
        self.max_pixels = max_pixels
        self.label = f"{self.folder.name}/"
        self.fps = IMAGE_FOLDER_FPS
        self._files: list[Path] = []
        self._position = 0
        self._current: Optional[np.ndarray] = None
        self._empty = np.full((EMPTY_SIZE[1], EMPTY_SIZE[0], 3), EMPTY_GRAY, np.uint8)
        self._shown = max(1, round(IMAGE_SLIDE_S * IMAGE_FOLDER_FPS))
        self._per_picture = self._shown + round(IMAGE_GAP_S * IMAGE_FOLDER_FPS)

    @property
    def is_open(self) -> bool:
        return bool(self._files)

    @property
    def seconds_per_picture(self) -> float:
        """Media time from one picture's first frame to the next one's (shown, then the gap)."""
        return self._per_picture / self.fps

    def open(self) -> None:
        self._files = list(iter_media_files([self.folder], IMAGE_EXTENSIONS))
        if not self._files:
            raise SourceError(f"image folder {self.folder} has no images ({', '.join(sorted(IMAGE_EXTENSIONS))})")
        self._position = 0

    def read(self) -> Optional[np.ndarray]:
        slide, step = divmod(self._position, self._per_picture)
        if slide >= len(self._files):
            if not self.loop:
                raise SourceEnded(f"{self.label} ended")
            self._position, slide, step = 0, 0, 0
        self._position += 1
        if step == 0:
            self._current = None  # whatever happens next, the picture before is not shown again
            try:
                self._current = read_image(self._files[slide], self.max_pixels)
                self._empty = np.full_like(self._current, EMPTY_GRAY)
            except MediaError as exc:
                log.warning("skipping picture: %s", exc)
                self._current = None
        if self._current is None or step >= self._shown:
            return self._empty
        return self._current


def _short_url(url: str) -> str:
    """The URL without credentials, for the status bar and logs."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    host_part = rest.split("@", 1)[-1]
    return f"{scheme}://{host_part}"


def parse_source(value: Any) -> Any:
    """``--source 2`` on the command line means camera 2, not a file called "2"."""
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return value


def make_source(source: Any, cfg: Config) -> FrameSource:
    """The source for a ``[camera] source`` value, without opening it."""
    source = parse_source(source)
    if isinstance(source, int):
        return CameraSource(source, cfg.camera.width, cfg.camera.height)
    text = str(source).strip()
    if text.lower() == DEMO:
        return DemoFeed(size=(cfg.camera.width, cfg.camera.height))
    if "://" in text:
        return StreamSource(text)
    path = cfg.resolve_path(text) if not Path(text).expanduser().exists() else Path(text).expanduser()
    if path.is_dir():
        return ImageFolderSource(path, loop=cfg.camera.loop, max_pixels=cfg.camera.max_image_pixels)
    return VideoFileSource(path, loop=cfg.camera.loop)


def open_source(cfg: Config, explicit: bool = False) -> FrameSource:
    """The configured source, opened when it can be.

    When the default camera (index 0, not asked for on the command line) cannot be opened and
    ``[camera] fallback_to_demo`` is on, the kiosk starts on the demo feed and says so, so a
    fresh install shows something useful instead of a black screen. Any other camera that is
    missing is returned unopened: the capture thread shows it offline and keeps retrying.
    A file or folder that cannot work raises ``SourceError`` (one line, exit 2).
    """
    source = make_source(cfg.camera.source, cfg)
    try:
        source.open()
        log.info("source %s opened", source.label)
        return source
    except SourceUnavailable as exc:
        is_default_camera = isinstance(source, CameraSource) and source.index == DEFAULT_CAMERA and not explicit
        if is_default_camera and cfg.camera.fallback_to_demo:
            log.warning("%s cannot be opened: showing the demo feed", source.label)
            demo = DemoFeed(size=(cfg.camera.width, cfg.camera.height), status_text=DEMO_FALLBACK_TEXT)
            demo.open()
            return demo
        log.warning("%s", exc)
        return source
