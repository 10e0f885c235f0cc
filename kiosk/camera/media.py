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

from kiosk.camera.image_header import KNOWN_FORMATS, HeaderError, declared_size
from kiosk.config import CameraSection, one_line
from kiosk.errors import KioskError
from kiosk.logging_setup import native_output_to_log

IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".pgm", ".ppm"})
VIDEO_EXTENSIONS = frozenset({".mp4", ".avi", ".mov", ".mkv", ".m4v", ".webm", ".mpg", ".mpeg"})


class MediaError(KioskError):
    """An input file that cannot be read as an image or video."""


def is_video(path: Path) -> bool:
    return Path(path).suffix.lower() in VIDEO_EXTENSIONS


DEFAULT_MAX_IMAGE_PIXELS = CameraSection.max_image_pixels  # [camera] max_image_pixels
# the largest file a picture under the limit needs: 12 bytes a pixel (PFM, 3 floats) and some metadata
BYTES_PER_PIXEL_AT_MOST = 12
METADATA_BYTES = 1 << 20


def _megapixels(pixels: int) -> str:
    return f"{pixels / 1e6:.3g} MP"


def read_image(path: Path, max_pixels: int = DEFAULT_MAX_IMAGE_PIXELS, flags: int = cv2.IMREAD_COLOR) -> np.ndarray:
    """A BGR uint8 image (or what ``flags`` asks OpenCV for); ``MediaError``, one line naming the
    file, for anything that is not a readable picture of at most ``max_pixels`` pixels.

    The size the header declares is checked before anything is decoded, so a small file that
    claims a huge picture costs nothing; formats whose header is not read here are refused.
    """
    path = Path(path)
    name = one_line(str(path))  # a file name with a line break must not break the one-line error
    try:
        size = path.stat().st_size
        if size > max_pixels * BYTES_PER_PIXEL_AT_MOST + METADATA_BYTES:
            raise MediaError(f"{name}: a file of {size / 1e6:.0f} MB, more than a picture under the "
                             f"{_megapixels(max_pixels)} limit needs")
        data = path.read_bytes()  # imread cannot report why it failed
    except FileNotFoundError:
        raise MediaError(f"{name}: no such file") from None
    except IsADirectoryError:
        raise MediaError(f"{name}: is a directory") from None
    except OSError as exc:
        raise MediaError(f"{name}: cannot read ({exc.strerror or type(exc).__name__})") from None
    if not data:
        raise MediaError(f"{name}: empty file")
    try:
        declared = declared_size(data)
    except HeaderError as exc:
        raise MediaError(f"{name}: damaged picture, {exc}") from None
    if declared is None:
        raise MediaError(f"{name}: not a picture the kiosk reads ({KNOWN_FORMATS})")
    if declared.width <= 0 or declared.height <= 0:
        raise MediaError(f"{name}: damaged {declared.format} header, it declares {declared.width}x{declared.height} pixels")
    if declared.pixels > max_pixels:
        raise MediaError(f"{name}: declares {declared.width}x{declared.height} pixels, "
                         f"more than the {_megapixels(max_pixels)} limit")
    try:
        with native_output_to_log(f"decoding {path.name}"):  # libpng / libjpeg warnings
            image = cv2.imdecode(np.frombuffer(data, np.uint8), flags)
    except cv2.error:
        image = None
    if image is None or image.size == 0:
        raise MediaError(f"{name}: damaged {declared.format} picture, it cannot be decoded")
    if image.shape[0] * image.shape[1] > max_pixels:  # the decoder read another size than the header said
        raise MediaError(f"{name}: holds {image.shape[1]}x{image.shape[0]} pixels, "
                         f"more than the {_megapixels(max_pixels)} limit")
    return image


def error_line(path: Path, exc: BaseException) -> str:
    """One line in our own words, naming the file, for whatever went wrong with a picture or a
    video: OpenCV's own text (``resize.cpp:4020 ... !dsize.empty()``) never reaches the user."""
    if isinstance(exc, KioskError):
        return " ".join(str(exc).split())
    name = one_line(str(path))
    if isinstance(exc, cv2.error):
        step = getattr(exc, "func", "") or "OpenCV"
        return f"{name}: cannot be processed (OpenCV failed in {step})"
    return f"{name}: {' '.join(str(exc).split()) or type(exc).__name__}"


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
