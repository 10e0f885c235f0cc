"""Reading inputs from disk: images and videos, found by walking folders.

Every reader gives a one-line ``MediaError`` for a file it cannot use, so batch commands record
the problem and carry on with the next file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Iterator

import cv2
import numpy as np

from kiosk.errors import KioskError

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".pgm", ".ppm"})
VIDEO_EXTENSIONS = frozenset({".mp4", ".avi", ".mov", ".mkv", ".m4v", ".webm", ".mpg", ".mpeg"})


class MediaError(KioskError):
    """An input file that cannot be read as an image or video."""


def is_video(path: Path) -> bool:
    return Path(path).suffix.lower() in VIDEO_EXTENSIONS


def read_image(path: Path) -> np.ndarray:
    """A BGR uint8 image; ``MediaError`` naming the file when it cannot be decoded."""
    path = Path(path)
    try:
        data = np.fromfile(str(path), dtype=np.uint8)  # imread cannot report why it failed
    except FileNotFoundError:
        raise MediaError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise MediaError(f"{path}: is a directory") from None
    except OSError as exc:
        raise MediaError(f"{path}: cannot read ({exc.strerror})") from None
    if data.size == 0:
        raise MediaError(f"{path}: empty file")
    image = cv2.imdecode(data, cv2.IMREAD_COLOR)
    if image is None:
        raise MediaError(f"{path}: not an image OpenCV can decode")
    return image


def iter_media_files(paths: Iterable[Path], extensions: frozenset[str]) -> Iterator[Path]:
    """Files given directly (whatever their extension) and, for folders, matching files found
    recursively in sorted order. Folders and symlinks that loop are walked once."""
    for path in map(Path, paths):
        if path.is_dir():
            for root, dirs, files in os.walk(path, followlinks=False):
                dirs.sort()
                for name in sorted(files):
                    candidate = Path(root) / name
                    if candidate.suffix.lower() in extensions:
                        yield candidate
        else:
            yield path
