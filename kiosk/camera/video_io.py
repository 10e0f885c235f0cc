"""Video files in and out: frames streamed one at a time, annotated video written with a codec
this OpenCV build really has.

Frames are never collected in memory, so a long video costs as much RAM as one frame. A file
OpenCV cannot open or decode is a one-line ``MediaError``; a batch run records it and carries on.
"""

from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Iterator, Optional

import cv2
import numpy as np

from kiosk.camera.media import MediaError
from kiosk.logging_setup import native_output_to_log

log = logging.getLogger(__name__)

DEFAULT_FPS = 25.0  # when a file does not say (some AVI/MJPG files report 0)

# Codecs to try per container, best first; the last resort is MJPG in an AVI, which every
# OpenCV build can write (it does not need FFmpeg).
CODECS_BY_SUFFIX: dict[str, tuple[str, ...]] = {
    ".mp4": ("mp4v", "avc1"),
    ".m4v": ("mp4v", "avc1"),
    ".mov": ("mp4v", "avc1"),
    ".mkv": ("mp4v", "XVID", "MJPG"),
    ".avi": ("MJPG", "XVID", "mp4v"),
}
FALLBACK_SUFFIX, FALLBACK_CODEC = ".avi", "MJPG"


class VideoReader:
    """Frames of a video file, read lazily; use as a context manager so the file is released."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        if not self.path.exists():
            raise MediaError(f"{self.path}: no such file")
        if self.path.is_dir():
            raise MediaError(f"{self.path}: is a directory")
        with native_output_to_log("OpenCV video reader"):  # its AVI parser prints to stderr by itself
            self._capture = cv2.VideoCapture(str(self.path))
        if not self._capture.isOpened():
            self._capture.release()
            raise MediaError(f"{self.path}: not a video OpenCV can open")
        fps = self._capture.get(cv2.CAP_PROP_FPS)
        self.fps = float(fps) if fps and math.isfinite(fps) and 0 < fps <= 1000 else DEFAULT_FPS
        count = self._capture.get(cv2.CAP_PROP_FRAME_COUNT)
        self.frame_count = int(count) if count and math.isfinite(count) and count > 0 else None  # a hint only
        self.frames_read = 0

    def frames(self) -> Iterator[np.ndarray]:
        """Decoded BGR frames in order. ``MediaError`` when not even the first frame decodes."""
        while True:
            ok, frame = self._capture.read()
            if not ok or frame is None:
                break
            self.frames_read += 1
            yield frame
        if self.frames_read == 0:
            raise MediaError(f"{self.path}: no frame could be decoded (corrupt or unsupported video)")
        if self.frame_count and self.frames_read < self.frame_count - 1:
            log.warning("%s: decoding stopped after %d of %d frames (truncated or corrupt file?)",
                        self.path, self.frames_read, self.frame_count)

    def close(self) -> None:
        self._capture.release()

    def __enter__(self) -> "VideoReader":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


class VideoWriter:
    """Writes frames to a video file, opened on the first frame (whose size fixes the video's).

    Tries the codecs that suit the file's container; when none works in this OpenCV build, it
    writes MJPG into an ``.avi`` next to the requested name. ``path`` is the file really written.
    """

    def __init__(self, path: Path, fps: float = DEFAULT_FPS) -> None:
        self.path = Path(path)
        self.fps = fps
        self.size: Optional[tuple[int, int]] = None
        self.frames_written = 0
        self._writer: Optional[cv2.VideoWriter] = None

    def _open(self, width: int, height: int) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        attempts = [(self.path, codec) for codec in CODECS_BY_SUFFIX.get(self.path.suffix.lower(), ())]
        attempts.append((self.path.with_suffix(FALLBACK_SUFFIX), FALLBACK_CODEC))
        for path, codec in attempts:
            writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*codec), self.fps, (width, height))
            if writer.isOpened():
                if path != self.path:
                    log.warning("%s: cannot write this container here; writing %s (%s) instead", self.path, path.name, codec)
                self.path, self._writer, self.size = path, writer, (width, height)
                log.debug("writing %s with %s at %.1f fps, %dx%d", path, codec, self.fps, width, height)
                return
            writer.release()
        raise MediaError(f"{self.path}: no video codec available to write it")

    def write(self, frame: np.ndarray) -> None:
        height, width = frame.shape[:2]
        if self._writer is None:
            self._open(width, height)
        elif (width, height) != self.size:
            frame = cv2.resize(frame, self.size)  # a video keeps one frame size
        if frame.ndim == 2:
            frame = cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
        self._writer.write(frame)
        self.frames_written += 1

    def close(self) -> None:
        if self._writer is not None:
            self._writer.release()
            self._writer = None

    def __enter__(self) -> "VideoWriter":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
