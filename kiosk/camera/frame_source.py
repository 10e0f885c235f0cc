"""What every frame source is: the ``FrameSource`` interface and the three ways a source says
something went wrong. The sources (``sources.py``, ``demo_feed.py``) and the capture thread that
reads them all depend on this module, and it on none of them."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Optional

import numpy as np

from kiosk.errors import KioskError


class SourceUnavailable(Exception):
    """The source cannot be opened right now (camera unplugged, stream unreachable); retry later."""


class SourceEnded(Exception):
    """A finite source (video file or image folder without looping) has no more frames."""


class SourceError(KioskError):
    """A source that can never work (missing file, empty folder): stop with a one-line message."""


class FrameSource(ABC):
    """One input of frames. ``read`` returns a BGR frame, or None when no frame is ready (yet)."""

    label: str = ""  # shown in the status bar, e.g. "camera 0", "demo", "hall.mp4"
    kind: str = "camera"  # recorded with every event: camera | stream | file | folder | demo (records.SOURCE_KINDS)
    live_state: str = "live"  # source_state while frames flow: "live" or "demo"
    status_text: str = ""  # standing note for the operator, e.g. why the demo is shown
    fps: Optional[float] = None  # media rate of files and the demo; None for live devices
    retry: bool = True  # reconnect when it fails (devices and streams), rather than give up

    @property
    def is_open(self) -> bool:
        return True

    @property
    def is_media(self) -> bool:
        """Frames have their own timeline (index / fps) instead of arriving in real time."""
        return self.fps is not None

    @abstractmethod
    def open(self) -> None:
        """Connect; raise ``SourceUnavailable`` (retry later) or ``SourceError`` (never works)."""

    @abstractmethod
    def read(self) -> Optional[np.ndarray]:
        """The next frame, None when there is none right now, ``SourceEnded`` at the end."""

    def close(self) -> None:
        """Release the device or file; safe to call twice."""

    def probe(self) -> bool:
        """A cheap sign of life while the source is closed and unavailable: False when it certainly
        cannot be opened now, True when it may be (then the capture thread tries ``open`` at once).
        The default cannot tell, so the capture thread tries to open it every few seconds."""
        return True

    def unavailable_text(self) -> str:
        return f"{self.label} not available — retrying"
