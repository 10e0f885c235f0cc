"""Fuzzing the kiosk's inputs: malformed pictures, videos and configs through the real commands.

    python -m tools.fuzz [--quick] [--seed N] [--keep DIR] [--workers 2]

1. Generates, in a temporary folder and reproducibly from ``--seed``, at least 1,000 malformed
   inputs (about 60 with ``--quick``):
   - pictures of every format OpenCV reads (JPEG, PNG, BMP, WebP, TIFF, PGM/PPM/PBM/PAM/PFM,
     Sun raster, Radiance HDR, JPEG 2000, GIF, AVIF), encoded from the synthetic portrait, then
     truncated or bit-flipped; headers rewritten to declare huge or impossible sizes (PNG IHDR,
     JPEG SOF, BMP, PNM, PAM, PFM, TIFF, WebP, Sun raster, GIF); random bytes with and without a
     format's signature; empty files; valid but extreme pictures (5000x1, 39.7 MP, 16-bit, alpha);
   - videos written with ``VideoWriter`` (AVI/MJPG, MP4, MKV), then truncated, bit-flipped or
     made to declare huge frames; random bytes and empty files with video extensions;
   - configs: wrong types, out-of-range values, unknown keys and sections, deep nesting, unicode
     and control characters, broken TOML, and paths to missing or odd places (/proc, /dev/zero,
     folders, files, FIFOs, dangling links, empty strings), and odd ``--config`` files.
2. Runs the real ``main.py`` on them as subprocesses, ``--workers`` at a time: ``classify`` and
   ``analyze --json`` over folders of pictures and videos (a few runs over many files each),
   ``run --headless --source FOLDER --max-frames N`` replays of the picture folders, one
   ``run --validate-config --config F`` per config, and for each config reported OK a short
   headless start with it (a config reported OK must be one the kiosk starts with).
3. Checks each run (``check_run``): crash (exit status not an expected one), hang (past its
   timeout), traceback, multi-line error (a config refusal must be exactly one stderr line
   ``error: ...``; each bad file exactly one record of one line), stray stderr lines (anything
   not in the log format: native library noise), lost files (no record at all), extra
   decisions (a replay deciding more people than it had readable pictures), and peak RSS
   (``wait4``'s ru_maxrss, and VmHWM while it runs; a run past 4 GB is stopped).

Prints the inputs per kind and a table per command: runs, crashes, hangs, tracebacks, multi-line
errors, stray lines, lost files, peak RSS and time, then a ``problems:`` line. Exit status 1 when
anything was found or a run peaked above 1.5 GB, so it can gate a release; each finding is
logged with the command that reproduces it, and the folder is then kept (as with ``--keep``).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import json
import logging
import os
import re
import shlex
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Optional

import cv2
import numpy as np

from kiosk.camera.media import IMAGE_EXTENSIONS, VIDEO_EXTENSIONS
from kiosk.camera.synthetic import load_portrait, masked_portrait, place_on_canvas
from kiosk.camera.video_io import VideoWriter
from kiosk.config import PROJECT_ROOT, SECTIONS, toml_text
from kiosk.logging_setup import add_logging_options, setup_logging

log = logging.getLogger("tools.fuzz")

MAIN_PY = PROJECT_ROOT / "main.py"
RSS_LIMIT_MB = 1536  # the target: no run above 1.5 GB
RSS_KILL_MB = 4096  # a run past this is stopped, so one memory bomb cannot take the machine down
POLL_S = 0.02
PER_FOLDER = 60  # pictures per folder: classify / analyze run a few times over many files
FRAMES_PER_PICTURE = 55  # an image-folder source shows a picture 4 s then 1.5 s empty, at 10 fps

# a record of ours on stderr (kiosk.logging_setup.LOG_FORMAT), or the one refusal line
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING|ERROR|CRITICAL) +\S+: ")
TRACEBACK = "Traceback (most recent call last)"


# --- writing files ------------------------------------------------------------------------

@dataclass(frozen=True)
class FuzzInput:
    path: Path
    kind: str


class Corpus:
    """The generated inputs, each with its kind; ``add`` writes one."""

    def __init__(self, root: Path, rng: np.random.Generator) -> None:
        self.root = root
        self.rng = rng
        self.inputs: list[FuzzInput] = []

    def add(self, folder: str, name: str, data: bytes, kind: str) -> Path:
        path = self.root / folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        self.inputs.append(FuzzInput(path, kind))
        return path

    def of_kind(self, prefix: str) -> list[FuzzInput]:
        return [i for i in self.inputs if i.kind.startswith(prefix)]


def truncations(data: bytes, rng: np.random.Generator, count: int) -> list[bytes]:
    """``data`` cut short: inside the signature, the header, and at random places in the body."""
    fixed = [1, 7, 20, 64, len(data) // 4, len(data) // 2, len(data) - 1]
    cuts = fixed[:count] + [int(c) for c in rng.integers(1, max(2, len(data)), max(0, count - len(fixed)))]
    return [data[:max(1, min(cut, len(data) - 1))] for cut in cuts]


def bit_flips(data: bytes, rng: np.random.Generator, count: int, header_bytes: int = 128) -> list[bytes]:
    """``data`` with a few bits flipped: every other version only in the header, where the sizes are."""
    versions = []
    for index in range(count):
        flipped = bytearray(data)
        span = min(len(data), header_bytes) if index % 2 == 0 else len(data)
        for at in rng.integers(0, span, 1 + int(rng.integers(0, 12))):
            flipped[at] ^= 1 << int(rng.integers(0, 8))
        versions.append(bytes(flipped))
    return versions


# --- pictures -----------------------------------------------------------------------------

# every format this OpenCV build reads and writes (OpenEXR is disabled in it); the kiosk's folder
# walk takes IMAGE_EXTENSIONS only, so the others are given to the commands by name
ENCODABLE = (".jpg", ".png", ".bmp", ".webp", ".tif", ".pgm", ".ppm", ".pbm", ".pam", ".pfm", ".ras",
             ".hdr", ".jp2", ".gif", ".avif")
SIGNATURES = {".jpg": b"\xff\xd8\xff", ".png": b"\x89PNG\r\n\x1a\n", ".bmp": b"BM", ".webp": b"RIFF\x10\0\0\0WEBPVP8 ",
              ".tif": b"II*\0", ".pgm": b"P5\n", ".ppm": b"P6\n", ".pam": b"P7\n", ".pfm": b"PF\n",
              ".ras": b"\x59\xa6\x6a\x95", ".gif": b"GIF89a", ".hdr": b"#?RADIANCE\n", ".jp2": b"\0\0\0\x0cjP  \r\n\x87\n",
              ".tiff": b"MM\0*", ".jpeg": b"\xff\xd8\xff\xc0"}


def source_pictures(quick: bool) -> list[np.ndarray]:
    """Real pictures to break: the portrait and the masked portrait, small so runs stay fast."""
    pictures = [cv2.resize(load_portrait(), (128, 150), interpolation=cv2.INTER_AREA)]
    if not quick:
        pictures.append(cv2.resize(masked_portrait(), (96, 112), interpolation=cv2.INTER_AREA))
    return pictures


def encode(extension: str, picture: np.ndarray, params: Iterable[int] = ()) -> bytes:
    if extension in (".pgm", ".pbm"):
        picture = cv2.cvtColor(picture, cv2.COLOR_BGR2GRAY)
    if extension in (".pfm", ".hdr"):
        picture = picture.astype(np.float32) / 255
    ok, data = cv2.imencode(extension, picture, list(params))
    if not ok:
        raise RuntimeError(f"this OpenCV cannot encode {extension}")
    return data.tobytes()


def encoder_variants(picture: np.ndarray, quick: bool) -> list[tuple[str, bytes]]:
    """(extension, encoded) for every format, plus the codecs' other modes for the main ones."""
    variants = [(ext, encode(ext, picture)) for ext in ENCODABLE]
    if not quick:
        variants += [
            (".jpg", encode(".jpg", picture, [cv2.IMWRITE_JPEG_PROGRESSIVE, 1])),
            (".png", encode(".png", picture.astype(np.uint16) * 257)),
            (".png", encode(".png", cv2.cvtColor(picture, cv2.COLOR_BGR2BGRA))),
            (".webp", encode(".webp", picture, [cv2.IMWRITE_WEBP_QUALITY, 101])),  # lossless (VP8L)
            (".tif", encode(".tif", picture, [cv2.IMWRITE_TIFF_COMPRESSION, 5])),  # LZW
        ]
    return variants


def _png_with_size(data: bytes, width: int, height: int, fix_crc: bool = True) -> bytes:
    patched = bytearray(data)
    struct.pack_into(">II", patched, 16, width & 0xFFFFFFFF, height & 0xFFFFFFFF)
    if fix_crc:
        struct.pack_into(">I", patched, 29, zlib.crc32(bytes(patched[12:29])))
    return bytes(patched)


def _jpeg_with_size(data: bytes, width: int, height: int) -> bytes:
    patched = bytearray(data)
    sof = next(at for at in range(2, len(data) - 9) if data[at] == 0xFF and data[at + 1] in (0xC0, 0xC1, 0xC2))
    struct.pack_into(">HH", patched, sof + 5, height & 0xFFFF, width & 0xFFFF)
    return bytes(patched)


def _bmp_with_size(data: bytes, width: int, height: int) -> bytes:
    patched = bytearray(data)
    struct.pack_into("<ii", patched, 18, width, height)
    return bytes(patched)


_PNM_HEADER = re.compile(rb"^(P[1-6]|PF|Pf)\s+\d+\s+\d+\s+\S+\s")


def _pnm_with_size(data: bytes, width: int, height: int, maxval: Optional[bytes] = None) -> bytes:
    header = _PNM_HEADER.match(data)
    magic, _, _, old_maxval = header.group(0).split()
    return b"%s\n# fuzz\n%d %d\n%s\n" % (magic, width, height, maxval or old_maxval) + data[header.end():]


def _pam_with_size(data: bytes, width: int, height: int) -> bytes:
    data = re.sub(rb"WIDTH \d+", b"WIDTH %d" % width, data, count=1)
    return re.sub(rb"HEIGHT \d+", b"HEIGHT %d" % height, data, count=1)


def _tiff_with_size(data: bytes, width: int, height: int) -> bytes:
    """ImageWidth / ImageLength of the first directory rewritten as LONGs."""
    patched = bytearray(data)
    order = "<" if data[:2] == b"II" else ">"
    (offset,) = struct.unpack_from(order + "I", data, 4)
    (entries,) = struct.unpack_from(order + "H", data, offset)
    for index in range(entries):
        at = offset + 2 + 12 * index
        (tag,) = struct.unpack_from(order + "H", data, at)
        if tag in (256, 257):
            struct.pack_into(order + "HHII", patched, at, tag, 4, 1, (width if tag == 256 else height) & 0xFFFFFFFF)
    return bytes(patched)


def _webp_with_size(data: bytes, width: int, height: int) -> bytes:
    """VP8 (14-bit sizes) and VP8L rewritten in place; an extended (VP8X) header put in front
    of the others, whose canvas can claim 16777216 x 16777216."""
    patched = bytearray(data)
    chunk = bytes(data[12:16])
    if chunk == b"VP8 " and width < 1 << 14 and height < 1 << 14:
        struct.pack_into("<HH", patched, 26, width, height)
        return bytes(patched)
    if chunk == b"VP8L" and 0 < width <= 1 << 14 and 0 < height <= 1 << 14:
        (bits,) = struct.unpack_from("<I", data, 21)
        bits = (bits & ~((1 << 28) - 1)) | (width - 1) | ((height - 1) << 14)
        struct.pack_into("<I", patched, 21, bits)
        return bytes(patched)
    body = bytes(4) + ((width - 1) & 0xFFFFFF).to_bytes(3, "little") + ((height - 1) & 0xFFFFFF).to_bytes(3, "little")
    rest = b"VP8X" + struct.pack("<I", len(body)) + body + data[12:]
    return b"RIFF" + struct.pack("<I", 4 + len(rest)) + b"WEBP" + rest


def _sun_with_size(data: bytes, width: int, height: int) -> bytes:
    patched = bytearray(data)
    struct.pack_into(">II", patched, 4, width & 0xFFFFFFFF, height & 0xFFFFFFFF)
    return bytes(patched)


def _gif_with_size(data: bytes, width: int, height: int) -> bytes:
    patched = bytearray(data)
    struct.pack_into("<HH", patched, 6, width & 0xFFFF, height & 0xFFFF)
    return bytes(patched)


SIZE_PATCHERS: dict[str, Callable[[bytes, int, int], bytes]] = {
    ".png": _png_with_size, ".jpg": _jpeg_with_size, ".bmp": _bmp_with_size, ".pgm": _pnm_with_size,
    ".ppm": _pnm_with_size, ".pfm": _pnm_with_size, ".pam": _pam_with_size, ".tif": _tiff_with_size,
    ".webp": _webp_with_size, ".ras": _sun_with_size, ".gif": _gif_with_size,
}
# huge, impossible (0, negative, overflowing) and just-under-the-40-MP-limit sizes
HUGE_SIZES = [(65535, 65535), (100000, 100000), (30000, 30000), (0, 0), (0, 480), (1, 2**31 - 1), (2**31 - 1, 2**31 - 1),
              (46341, 46341), (40001, 1000), (6000, 6000), (16383, 16383), (-100000, 100000), (100000, -100000)]


def huge_headers(extension: str, data: bytes, quick: bool) -> list[bytes]:
    patch = SIZE_PATCHERS[extension]
    sizes = HUGE_SIZES[:1] if quick else HUGE_SIZES
    versions = [patch(data, width, height) for width, height in sizes
                if extension == ".bmp" or width >= 0 and height >= 0]  # only BMP stores signed sizes
    if quick:
        return versions
    if extension == ".png":
        versions.append(_png_with_size(data, 65535, 65535, fix_crc=False))
    if extension == ".jpg":
        versions.append(_jpeg_with_size(data, 30000, 30000) + bytes(20000))  # the 27 KB memory bomb
    if extension in (".pgm", ".ppm"):
        versions += [_pnm_with_size(data, 99999999999999999999, 1), _pnm_with_size(data, 200, 200, b"65535"),
                     _pnm_with_size(data, 200, 200, b"0"), _pnm_with_size(data, 200, 200, b"99999999")]
    if extension == ".tif":
        big_endian = b"MM\0*" + data[4:]  # the same bytes read with the other byte order
        versions.append(big_endian)
    return versions


def edge_pictures() -> list[tuple[str, bytes]]:
    """Valid pictures at the edges: one pixel thin, tiny, near the size limit, 16-bit, alpha."""
    gray = np.full((1, 5000, 3), 128, np.uint8)
    return [
        ("thin_5000x1.png", encode(".png", gray)),
        ("thin_1x5000.png", encode(".png", gray.transpose(1, 0, 2).copy())),
        ("one_pixel.jpg", encode(".jpg", np.zeros((1, 1, 3), np.uint8))),
        ("two_pixels.bmp", encode(".bmp", np.zeros((2, 1, 3), np.uint8))),
        ("near_limit_6300x6300.png", encode(".png", np.zeros((6300, 6300, 3), np.uint8))),  # 39.7 MP
        ("deep_16bit.tif", encode(".tif", np.full((64, 64, 3), 40000, np.uint16))),
        ("alpha.webp", encode(".webp", np.zeros((64, 64, 4), np.uint8))),
        ("gray.jpg", encode(".jpg", np.full((64, 64), 90, np.uint8))),
    ]


def random_files(rng: np.random.Generator, extensions: list[str], per_extension: int) -> list[tuple[str, bytes]]:
    """(name, bytes): random bytes, and random bytes after a format's signature."""
    files = []
    for ext in extensions:
        for index in range(per_extension):
            noise = rng.bytes(int(rng.integers(1, 6000)))
            files.append((f"random_{index}{ext}", noise))
            if ext in SIGNATURES:
                files.append((f"signed_random_{index}{ext}", SIGNATURES[ext] + noise))
    return files


def write_pictures(corpus: Corpus, quick: bool) -> None:
    rng = corpus.rng
    for number, picture in enumerate(source_pictures(quick)):
        for variant, (ext, data) in enumerate(encoder_variants(picture, quick)):
            stem = f"p{number}v{variant}"
            cuts, flips = (variant % 2, 1 - variant % 2) if quick else (6, 10)  # quick: one of the two
            for index, cut in enumerate(truncations(data, rng, cuts)):
                corpus.add("pictures", f"{stem}_cut{index}{ext}", cut, "picture truncated")
            for index, flipped in enumerate(bit_flips(data, rng, flips)):
                corpus.add("pictures", f"{stem}_flip{index}{ext}", flipped, "picture bit-flipped")
            if ext in SIZE_PATCHERS and number == 0:
                for index, huge in enumerate(huge_headers(ext, data, quick)):
                    corpus.add("pictures", f"{stem}_huge{index}{ext}", huge, "picture huge header")
    extensions = sorted(IMAGE_EXTENSIONS | {".pbm", ".pam", ".pfm", ".ras", ".gif", ".hdr", ".jp2"})
    for name, data in random_files(rng, extensions[:3] if quick else extensions, 1 if quick else 5):
        corpus.add("pictures", name, data, "picture random bytes")
    for ext in (extensions[:2] if quick else extensions):
        corpus.add("pictures", f"empty{ext}", b"", "picture empty")
    if not quick:
        for name, data in edge_pictures():
            corpus.add("pictures", name, data, "picture valid edge case")
        for name in ("line\nbreak.jpg", "tab\there.png", "ünïcødé 📷.jpg", "-dash.png", "sp ace .bmp", "cr\rreturn.jpg"):
            corpus.add("pictures", name, truncations(encode(".jpg", source_pictures(True)[0]), rng, 6)[-2],
                       "picture odd name")


# --- videos -------------------------------------------------------------------------------

def write_source_videos(folder: Path, quick: bool) -> list[Path]:
    """Real videos of the portrait walking past, one per container this OpenCV writes."""
    portrait = load_portrait()
    written = []
    for suffix in ((".avi",) if quick else (".avi", ".mp4", ".mkv")):
        with VideoWriter(folder / f"walk{suffix}", fps=10.0) as writer:
            for index in range(12):
                frame, _, _ = place_on_canvas(portrait, (160, 120), 0.15, (-60 + 10 * index, 0))
                writer.write(frame)
        written.append(writer.path)
    return written


def _mjpeg_avi_with_size(data: bytes, width: int, height: int) -> bytes:
    """Every frame's JPEG header and the AVI headers (avih, strf) declare ``width`` x ``height``."""
    patched = bytearray(data)
    at = data.find(b"avih")
    if at >= 0:
        struct.pack_into("<II", patched, at + 8 + 32, width, height)
    at = data.find(b"strf")
    if at >= 0:
        struct.pack_into("<ii", patched, at + 8 + 4, width, height)
    for match in re.finditer(rb"\xff\xc0\x00\x11\x08", data):
        struct.pack_into(">HH", patched, match.start() + 5, height & 0xFFFF, width & 0xFFFF)
    return bytes(patched)


def write_videos(corpus: Corpus, quick: bool) -> None:
    rng = corpus.rng
    originals = write_source_videos(corpus.root / "source_videos", quick)
    cuts, flips = (1, 1) if quick else (8, 10)
    for video in originals:
        data, ext = video.read_bytes(), video.suffix
        for index, cut in enumerate(truncations(data, rng, cuts)):
            corpus.add("videos", f"{video.stem}_cut{index}{ext}", cut, "video truncated")
        for index, flipped in enumerate(bit_flips(data, rng, flips, header_bytes=2048)):
            corpus.add("videos", f"{video.stem}_flip{index}{ext}", flipped, "video bit-flipped")
        if ext == ".avi" and not quick:
            for width, height in ((8192, 8192), (16000, 16000), (30000, 30000), (65535, 65535), (0, 0)):
                corpus.add("videos", f"{video.stem}_huge_{width}{ext}", _mjpeg_avi_with_size(data, width, height),
                           "video huge header")
    signatures = {".avi": b"RIFF\0\x10\0\0AVI LIST", ".mp4": b"\0\0\0\x18ftypmp42", ".mkv": b"\x1a\x45\xdf\xa3"}
    extensions = sorted(VIDEO_EXTENSIONS)
    for ext in (extensions[:1] if quick else extensions):
        corpus.add("videos", f"empty{ext}", b"", "video random or empty")
        for index in range(1 if quick else 2):
            noise = rng.bytes(int(rng.integers(1, 20000)))
            corpus.add("videos", f"random_{index}{ext}", signatures.get(ext, b"") + noise, "video random or empty")


# --- configs ------------------------------------------------------------------------------

def toml_value(value: Any) -> str:
    """TOML for a value: scalars as the kiosk writes them (inf and nan included), then dates,
    arrays and inline tables."""
    if isinstance(value, (bool, int, float, str)):
        return toml_text(value)
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(map(toml_value, value)) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{toml_key(k)} = {toml_value(v)}" for k, v in value.items()) + " }"
    raise TypeError(f"no TOML for {type(value).__name__}")


def toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else toml_value(key)


def toml_document(sections: dict[str, dict[str, Any]]) -> str:
    lines = []
    for section, values in sections.items():
        lines.append(f"[{toml_key(section)}]")
        lines += [f"{toml_key(key)} = {toml_value(value)}" for key, value in values.items()]
        lines.append("")
    return "\n".join(lines)


@dataclass
class Places:
    """Odd places on disk a config can name, made once in the fuzz folder."""

    root: Path
    small_folder: Path  # one readable face: a source the kiosk can start on

    def __post_init__(self) -> None:
        p = self.root
        (p / "empty_dir").mkdir(parents=True)
        (p / "a_file").write_text("not a folder\n")
        os.mkfifo(p / "fifo")
        os.symlink("loop", p / "loop")
        os.symlink(p / "nowhere", p / "dangling")
        (p / "broken_pictures").mkdir()
        for name in ("a.jpg", "b.png"):
            (p / "broken_pictures" / name).write_bytes(b"\xff\xd8\xff garbage")
        (p / "broken.mp4").write_bytes(b"\0\0\0\x18ftypmp42 not a video")
        models = PROJECT_ROOT / "models"
        card = (models / "model_card.json").read_text(encoding="utf-8")
        for name, card_text, model in (
            ("model_bad_json", "{not json", None), ("model_card_list", "[1, 2]", None),
            ("model_no_spec", '{"files": {}}', None), ("model_not_tflite", card, b"\0" * 64),
            ("model_empty_tflite", card, b""), ("model_fifo_card", None, None),
        ):
            folder = p / name
            folder.mkdir()
            if card_text is None:
                os.mkfifo(folder / "model_card.json")
            else:
                (folder / "model_card.json").write_text(card_text, encoding="utf-8")
            if model is not None:
                for tflite in models.glob("*.tflite"):
                    (folder / tflite.name).write_bytes(model)

    def private(self, value: str, slot: int) -> str:
        """``value`` for a key the kiosk creates or writes: a relative, missing or dangling path
        is moved into a folder of this config's own, so that no other config's start (an event
        database made at a path, say) changes what this one finds there."""
        own = self.root / "private" / f"{slot:04d}"
        if value == str(self.root / "dangling"):
            own.mkdir(parents=True)
            os.symlink(own / "nowhere", own / "dangling")
            return str(own / "dangling")
        if value == str(self.root / "missing"):
            return str(own / "missing")
        if value.strip() and not value.startswith(("/", "~")):
            return f"{own}/relative/{value}"
        return value

    def values(self) -> list[str]:
        p = self.root
        return ["", " ", "/", "/proc", "/proc/self", "/proc/self/status", "/proc/nonexistent/x", "/sys/kernel",
                "/dev/null", "/dev/zero", "/dev/full", "~no_such_user_zz/x", "~", "../../../../../../../..",
                "relative/missing/folder", "a\u0000nul", "line\nbreak", "ünïcødé/📁", "x" * 5000,
                str(p / "missing"), str(p / "empty_dir"), str(p / "a_file"), str(p / "a_file" / "below"),
                str(p / "fifo"), str(p / "loop"), str(p / "dangling"), str(p / "broken_pictures"),
                str(p / "broken.mp4"), str(p / "model_bad_json"), str(p / "model_card_list"),
                str(p / "model_no_spec"), str(p / "model_not_tflite"), str(p / "model_empty_tflite"),
                str(p / "model_fifo_card")]


# what a wrong type looks like, per kind of default
WRONG_VALUES: list[Any] = ["text", 7, 2.5, True, [], [1, "a"], {"a": 1}, dt.datetime(1979, 5, 27, 7, 32),
                           dt.date(2020, 1, 1), dt.time(7, 32), ""]
ODD_NUMBERS: list[Any] = [-1, 0, -(2**63), 2**63 - 1, 10**9 + 1, float("inf"), float("-inf"), float("nan"),
                          -0.0, 1e308, 5e-324, 0.5, 99999]
ODD_TEXT: list[Any] = ["", " ", "HARD", "blazeface\u200b", "en\n", "a\u0000b", "\u202eevil", "🙂" * 50, "x" * 100000,
                       "e\u0301", "\t", "24:00", "7:5", "a@b\nBcc: x@y", "no-at-sign"]


def _same_kind(value: Any, default: Any) -> bool:
    if isinstance(default, bool) or isinstance(value, bool):
        return isinstance(value, bool) and isinstance(default, bool)
    if isinstance(default, (int, float)) and not isinstance(default, bool):
        return isinstance(value, (int, float))
    return type(value) is type(default)


def schema() -> list[tuple[str, str, Any]]:
    """(section, key, default) of every config key."""
    keys = []
    for section, cls in SECTIONS.items():
        for f in dataclasses.fields(cls):
            default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
            keys.append((section, f.name, default))
    return keys


OWN_STORAGE = "@STORAGE@"  # in a config's text: the storage folder of its own


def config_documents(places: Places, storage: Path, rng: np.random.Generator, quick: bool) -> list[tuple[str, bytes]]:
    """(kind, file bytes) of every malformed config; each names storage under ``storage/<n>``
    unless a storage path is what it breaks."""
    documents: list[tuple[str, dict | bytes]] = []
    keys = schema()
    pick = (lambda items, n: [items[int(i)] for i in rng.choice(len(items), min(n, len(items)), replace=False)])

    for section, key, default in (pick(keys, 3) if quick else keys):
        for value in pick([v for v in WRONG_VALUES if not _same_kind(v, default)], 1 if quick else 2):
            documents.append(("config wrong type", {section: {key: value}}))
    for section, key, default in (pick(keys, 3) if quick else keys):
        pool = ODD_NUMBERS if isinstance(default, (int, float)) and not isinstance(default, bool) else ODD_TEXT
        if isinstance(default, (bool, list)):
            continue
        for value in pick(pool, 1 if quick else 3):
            documents.append(("config out of range", {section: {key: value}}))
    documents += [("config out of range", doc) for doc in (
        {"decision": {"window_frames": 1, "min_votes": 60}},
        {"email": {"enabled": True}},
        {"email": {"security": "none", "username": "admin"}},
        {"email": {"notify_on": ["denied", "denied", "DENIED"]}},
        {"email": {"recipients": ["a@b", 5]}},
        {"camera": {"source": -1}},
    )]
    unknown = [
        {"nosuch": {"a": 1}}, {"": {"a": 1}}, {"camera.x": {"a": 1}}, {"Camera": {"source": 0}},
        {"камера": {"a": 1}}, {"camera": {"sourcе": 0}}, {"camera": {"": 1}}, {"camera": {"source ": 0}},
        {"storage": {"database\u0000": "x"}}, {"x" * 10000: {}},
    ] + [{section: {f"unknown_{index}": 1}} for index, section in enumerate(SECTIONS)]
    raw_unknown = ["[[kiosk]]\nid = \"a\"\n", "kiosk = 5\n", "source = 0\n[camera]\n", "[camera]\nsource = 0\nsource = 1\n",
                   "[camera]\n[camera]\n", "[camera]\nsource.x = 1\n", "[camera.extra]\na = 1\n",
                   "[kiosk]\nid = \"a\"\n[kiosk.sub]\n", "camera = { source = 0, x = [] }\n"]
    documents += [("config unknown key or section", doc) for doc in (unknown[:2] if quick else unknown)]
    documents += [("config unknown key or section", text.encode()) for text in (raw_unknown[:1] if quick else raw_unknown)]

    depths = [5000] if quick else [16, 64, 256, 1000, 5000, 20000, 100000]
    for depth in depths:
        nested = [f"[camera]\nsource = {'[' * depth}1{']' * depth}\n",
                  f"[camera]\nsource = {'{a = ' * depth}1{' }' * depth}\n",
                  f"[camera]\nsource{'.a' * depth} = 1\n",
                  f"[camera{'.a' * depth}]\nb = 1\n",
                  f"x = {'[{a = ' * depth}1{'}]' * depth}\n"]
        documents += [("config deep nesting", text.encode()) for text in (nested[:2] if quick else nested)]

    valid = (toml_document({"kiosk": {"id": "front-door"}, "camera": {"source": 0, "loop": False},
                            "decision": {"window_frames": 5, "min_votes": 3}}) + base_config_text(Path(OWN_STORAGE))).encode()
    texts = [b"\xef\xbb\xbf" + valid, valid.replace(b"\n", b"\r\n"), valid.replace(b"\n", b"\r"), b"\0" + valid,
             b"[kiosk]\nid = \"\xff\xfe\"\n", "[kiosk]\nid = \"café\"\n".encode("latin-1"),
             b"[kiosk]\nid = \"\\uD800\"\n", b"[kiosk]\nid = \"\\U00110000\"\n", b"[kiosk]\nid = \"a\x01b\"\n",
             b"[kiosk]\nid = \"a\x7fb\"\n", b"", b"   \n\t\n", b"# only a comment\n", b"[kiosk]\nid = \"x\n",
             ("[kiosk]\n" + "x" * 200000 + " = 1\n").encode(), b"[kiosk]\nid = '''\n" + b"a" * 1000000 + b"'''\n",
             ("# " + "c" * 100 + "\n").encode() * 50000]
    documents += [("config unicode or control characters", text) for text in (texts[:2] if quick else texts)]
    for value in (ODD_TEXT[4:6] if quick else ODD_TEXT):
        documents.append(("config unicode or control characters", {"kiosk": {"id": value}}))
        if not quick:
            documents.append(("config unicode or control characters", {"ui": {"admin_key": value}}))
    for index, cut in enumerate(truncations(valid, rng, 1 if quick else 6)):
        documents.append(("config broken file", cut))
    for flipped in bit_flips(valid, rng, 1 if quick else 12, header_bytes=len(valid)):
        documents.append(("config broken file", flipped))
    for _ in range(0 if quick else 6):
        documents.append(("config broken file", rng.bytes(int(rng.integers(1, 3000)))))

    path_keys = [("model", "dir"), ("storage", "database"), ("storage", "snapshots"), ("storage", "reports"),
                 ("camera", "source")]
    values = places.values()
    for section, key in path_keys:
        for value in (pick(values, 1) if quick else values):
            if section == "storage":
                value = places.private(value, len(documents))
            documents.append(("config odd path", {section: {key: value}}))

    written = []
    for index, (kind, doc) in enumerate(documents):
        own = storage / f"{index:04d}"
        if isinstance(doc, bytes):
            doc = doc.replace(OWN_STORAGE.encode(), str(own).encode())
        else:
            base = {"database": str(own / "events.sqlite3"), "snapshots": str(own / "snapshots"),
                    "reports": str(own / "reports")}
            sections = {name: dict(values) for name, values in doc.items()}
            if "storage" in sections:
                sections["storage"] = {**base, **sections["storage"]}
            else:
                sections["storage"] = base
            doc = toml_document(sections).encode("utf-8", "surrogatepass")
        written.append((kind, doc))
    return written


def odd_config_files(places: Places, valid: Path) -> list[Path]:
    """``--config`` pointing at things that are not config files."""
    p = places.root
    named = p / "config\nwith newline.toml"
    named.write_bytes(b"[kiosk]\nid = 1\n")
    unicode_named = p / "конфиг 🙂.toml"
    unicode_named.write_bytes(valid.read_bytes())
    return [p / "no_such.toml", p / "empty_dir", Path("/dev/null"), Path("/dev/zero"), Path("/proc/self/status"),
            Path("/proc/self/mem"), p / "fifo", p / "loop", p / "dangling", named, unicode_named]


# --- runs ---------------------------------------------------------------------------------

@dataclass
class RunSpec:
    command: str  # classify, analyze, replay, validate-config, start after OK
    argv: list[str]  # after main.py
    timeout_s: float
    expected: frozenset[int]
    inputs: tuple[str, ...] = ()  # files that must each get a record on stdout
    folder: Optional[Path] = None  # the picture folder a replay shows
    config: Optional[Path] = None


@dataclass
class RunRecord:
    spec: RunSpec
    exit_code: Optional[int] = None
    timed_out: bool = False
    killed_for_memory: bool = False
    seconds: float = 0.0
    peak_rss_mb: float = 0.0
    stdout: str = ""
    stderr: str = ""

    def command_line(self) -> str:
        return shlex.join([sys.executable, str(MAIN_PY), *self.spec.argv])


def _vm_hwm_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        pass
    return 0.0


def run_main(spec: RunSpec, workdir: Path, number: int) -> RunRecord:
    """Run ``main.py`` with ``spec.argv``; its output is kept in ``workdir/logs``."""
    logs = workdir / "logs"
    logs.mkdir(exist_ok=True)
    out_path, err_path = logs / f"{number:04d}.out", logs / f"{number:04d}.err"
    record = RunRecord(spec)
    (logs / f"{number:04d}.cmd").write_text(record.command_line() + "\n", encoding="utf-8", errors="replace")
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        started = time.monotonic()
        proc = subprocess.Popen([sys.executable, str(MAIN_PY), *spec.argv], cwd=workdir, stdin=subprocess.DEVNULL,
                                stdout=out, stderr=err, start_new_session=True)
        pause = threading.Event()
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            record.peak_rss_mb = max(record.peak_rss_mb, _vm_hwm_mb(proc.pid))
            if record.peak_rss_mb > RSS_KILL_MB:
                record.killed_for_memory = True
            elif time.monotonic() - started > spec.timeout_s:
                record.timed_out = True
            if record.killed_for_memory or record.timed_out:
                os.killpg(proc.pid, signal.SIGKILL)  # its own session: main.py and anything it started
                _, status, usage = os.wait4(proc.pid, 0)
                break
            pause.wait(POLL_S)
    proc.returncode = record.exit_code = os.waitstatus_to_exitcode(status)
    record.seconds = time.monotonic() - started
    record.peak_rss_mb = max(record.peak_rss_mb, usage.ru_maxrss / 1024)
    record.stdout = out_path.read_text(encoding="utf-8", errors="replace")
    record.stderr = err_path.read_text(encoding="utf-8", errors="replace")
    return record


def run_all(specs: list[RunSpec], workdir: Path, workers: int, first_number: int = 0) -> list[RunRecord]:
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda item: run_main(item[1], workdir, first_number + item[0]), enumerate(specs)))


# --- checks -------------------------------------------------------------------------------

@dataclass
class Findings:
    crash: bool = False
    hang: bool = False
    traceback: bool = False
    multi_line: int = 0  # errors that are not exactly one line
    stray: int = 0  # stderr lines that are neither a log record nor the error line
    lost: int = 0  # input files without any record
    extra_decisions: int = 0
    refused_after_ok: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def any(self) -> bool:
        return bool(self.crash or self.hang or self.traceback or self.multi_line or self.stray or self.lost
                    or self.extra_decisions or self.refused_after_ok)


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def check_run(record: RunRecord) -> Findings:
    """What went wrong in one run, judged from its exit status, output and memory alone."""
    spec, found = record.spec, Findings()
    if record.timed_out:
        found.hang = True
        found.notes.append(f"no end after {spec.timeout_s:.0f} s")
    elif record.exit_code not in spec.expected:
        found.crash = True
        found.notes.append(f"exit status {record.exit_code}" + (" (stopped above the memory limit)" if record.killed_for_memory else ""))
    if TRACEBACK in record.stderr or TRACEBACK in record.stdout:
        found.traceback = True
        found.notes.append("traceback: " + record.stderr[record.stderr.find(TRACEBACK):][-300:].replace("\n", " | "))
    err_lines = _lines(record.stderr)
    refusals = [line for line in err_lines if line.startswith("error:")]
    stray = [line for line in err_lines if not LOG_LINE.match(line) and not line.startswith("error:")]
    if found.traceback:
        stray = []  # the traceback's own lines: counted once, as the traceback
    if spec.command == "validate-config" and record.exit_code == 0:
        out = _lines(record.stdout)
        if len(out) != 1 or not out[0].startswith("config OK: "):
            found.multi_line += 1
            found.notes.append(f"an OK that is not one 'config OK:' line: {record.stdout[:200]!r}")
    if record.exit_code == 2 or refusals:
        if spec.command == "validate-config":  # nothing but the one line
            one_line = len(err_lines) == 1 and err_lines[0].startswith("error: ")
        else:  # log records may come first
            one_line = len(refusals) == 1 and not stray
        if not one_line:
            found.multi_line += 1
            found.notes.append(f"a refusal that is not one 'error:' line: {record.stderr[-300:]!r}")
            stray = []  # counted once, as the refusal's extra lines
    if stray:
        found.stray = len(stray)
        found.notes.append(f"{len(stray)} stderr line(s) outside the log format, e.g. {stray[0][:160]!r}")
    if spec.command in ("classify", "analyze") and record.exit_code == 0:
        seen: set[str] = set()
        for line in record.stdout.splitlines():
            try:
                item = json.loads(line)
                seen.add(item["path"])
            except (ValueError, KeyError, TypeError):
                found.multi_line += 1
                found.notes.append(f"a stdout line that is not a record: {line[:160]!r}")
                continue
            error = item.get("error")
            if error is not None and (not isinstance(error, str) or re.search(r"[\r\n\x85\u2028\u2029]", error)):
                found.multi_line += 1
                found.notes.append(f"an error record of more than one line: {error!r:.200}")
        lost = [path for path in spec.inputs if path not in seen]
        if lost:
            found.lost = len(lost)
            found.notes.append(f"{len(lost)} file(s) with no record, e.g. {lost[0]!r}")
    if spec.command == "start after OK" and record.exit_code == 2:
        found.refused_after_ok = True
        found.notes.append(f"--validate-config said OK, the kiosk refused: {record.stderr.strip()[-200:]!r}")
    return found


def check_replays(records: list[RunRecord]) -> dict[int, int]:
    """Decisions a replay made beyond its readable pictures (as classify read the same folder):
    one picture is one visitor, so more decisions than that is a phantom (a picture decided twice)."""
    readable: dict[Path, int] = {}
    for record in records:
        if record.spec.command == "classify" and record.spec.folder is not None:
            count = 0
            for line in record.stdout.splitlines():
                try:
                    item = json.loads(line)
                except ValueError:
                    continue
                if "error" not in item and Path(item.get("path", "")).suffix.lower() in IMAGE_EXTENSIONS:
                    count += 1
            readable[record.spec.folder] = count
    extra = {}
    for index, record in enumerate(records):
        if record.spec.command == "replay" and record.spec.folder in readable and record.exit_code == 0:
            decisions = len(_lines(record.stdout))
            if decisions > readable[record.spec.folder]:
                extra[index] = decisions - readable[record.spec.folder]
    return extra


# --- the plan -----------------------------------------------------------------------------

def in_folders(corpus: Corpus, prefix: str, folder: str, per_folder: int) -> list[Path]:
    """Move the inputs of a kind into batches of ``per_folder``, the kinds mixed, in a seeded order."""
    chosen = corpus.of_kind(prefix)
    order = corpus.rng.permutation(len(chosen))
    batches = []
    moved = {}
    for slot, index in enumerate(order):
        item = chosen[int(index)]
        batch = corpus.root / folder / f"batch_{slot // per_folder:03d}"
        batch.mkdir(parents=True, exist_ok=True)
        target = batch / item.path.name
        item.path.rename(target)
        moved[item.path] = target
        if batch not in batches:
            batches.append(batch)
    corpus.inputs = [FuzzInput(moved.get(i.path, i.path), i.kind) for i in corpus.inputs]
    return batches


def batch_specs(command: str, batches: list[Path], base_config: Path, per_file_s: float) -> list[RunSpec]:
    specs = []
    for batch in batches:
        files = sorted(p for p in batch.iterdir() if p.is_file())
        walked = IMAGE_EXTENSIONS | (VIDEO_EXTENSIONS if command == "analyze" else frozenset())
        named = [str(p) for p in files if p.suffix.lower() not in walked]  # the folder walk skips them
        argv = [command, str(batch), *named, "--json", "--config", str(base_config)]
        specs.append(RunSpec(command, argv, 60 + per_file_s * len(files), frozenset({0}),
                             inputs=tuple(str(p) for p in files), folder=batch))
    return specs


def replay_specs(batches: list[Path], base_config: Path) -> list[RunSpec]:
    specs = []
    for batch in batches:
        pictures = [p for p in batch.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS]
        frames = FRAMES_PER_PICTURE * len(pictures) + 10
        argv = ["run", "--headless", "--source", str(batch), "--max-frames", str(frames), "--config", str(base_config)]
        # 10 frames a second at least: after a 40 MP picture, a broken one's empty frames are 40 MP too
        specs.append(RunSpec("replay", argv, 60 + frames / 10, frozenset({0} if pictures else {2}), folder=batch))
    return specs


def video_replay_specs(batches: list[Path], base_config: Path, count: int) -> list[RunSpec]:
    videos = [p for batch in batches for p in sorted(batch.iterdir())][:count]
    return [RunSpec("replay", ["run", "--headless", "--source", str(video), "--max-frames", "300",
                               "--config", str(base_config)], 60, frozenset({0, 2})) for video in videos]


def _inside(path: Path, root: Path) -> bool:
    try:
        return path.resolve().is_relative_to(root.resolve())
    except (OSError, RuntimeError, ValueError):  # a NUL byte, a link loop: the path as written
        return os.path.normpath(path).startswith(str(root.resolve()) + os.sep)


# the sections whose keys a headless start is known to use; a config changing another section
# (outputs, brokers, consoles: they may name files or devices of their own) is only validated
STARTED_SECTIONS = ("kiosk", "camera", "model", "detection", "decision", "ui", "email", "storage")


def startable_config(path: Path, root: Path) -> Optional[list[str]]:
    """Extra arguments for a headless start with a config --validate-config found OK, or None
    when that start could write outside the fuzz folder (its event log, snapshots, reports)."""
    from kiosk.config import Config, load_config

    if not path.is_file() or path.stat().st_size > 4 << 20:
        return None
    try:
        cfg = load_config(path)
    except Exception:  # where its storage is cannot be known: not started
        return None
    defaults = Config()
    if any(getattr(cfg, name) != getattr(defaults, name) for name in SECTIONS if name not in STARTED_SECTIONS):
        return None
    try:
        storage = [cfg.resolve_path(v) for v in (cfg.storage.database, cfg.storage.snapshots, cfg.storage.reports)]
    except Exception:
        return None
    if not all(_inside(p, root) for p in storage):
        return None
    source = cfg.camera.source
    if isinstance(source, str) and "://" not in source and source.strip().lower() != "demo" and not source.strip().isdigit():
        return []  # a file or folder source: the kiosk starts on it as configured
    return ["--source", "PLACEHOLDER"]


def base_config_text(storage: Path) -> str:
    return toml_document({"storage": {"database": str(storage / "events.sqlite3"), "snapshots": str(storage / "snapshots"),
                                      "reports": str(storage / "reports")}})


def generate(root: Path, seed: int, quick: bool) -> tuple[Corpus, list[Path], list[Path], list[Path], Places, Path]:
    corpus = Corpus(root, np.random.default_rng(seed))
    write_pictures(corpus, quick)
    write_videos(corpus, quick)
    picture_batches = in_folders(corpus, "picture", "picture_batches", PER_FOLDER)
    video_batches = in_folders(corpus, "video", "video_batches", 20 if quick else 25)
    small = root / "places" / "one_face"
    small.mkdir(parents=True)
    cv2.imwrite(str(small / "face.jpg"), source_pictures(True)[0])
    places = Places(root / "places", small)
    base = root / "base.toml"
    base.write_text(base_config_text(root / "storage" / "base"), encoding="utf-8")
    configs = []
    for index, (kind, data) in enumerate(config_documents(places, root / "storage", corpus.rng, quick)):
        configs.append(corpus.add("configs", f"config_{index:04d}.toml", data, kind))
    for path in odd_config_files(places, base)[: 3 if quick else None]:
        corpus.inputs.append(FuzzInput(path, "config odd file"))
        configs.append(path)
    return corpus, picture_batches, video_batches, configs, places, base


# --- the report ---------------------------------------------------------------------------

COLUMNS = ("runs", "crashes", "hangs", "tracebacks", "multi-line", "stray", "lost", "extra dec.", "refused OK",
           "peak RSS MB", "seconds")


def tally(records: list[RunRecord], findings: list[Findings]) -> dict[str, dict[str, float]]:
    rows: dict[str, dict[str, float]] = {}
    for record, found in zip(records, findings):
        for name in (record.spec.command, "total"):
            row = rows.setdefault(name, dict.fromkeys(COLUMNS, 0.0))
            row["runs"] += 1
            row["crashes"] += found.crash
            row["hangs"] += found.hang
            row["tracebacks"] += found.traceback
            row["multi-line"] += found.multi_line
            row["stray"] += found.stray
            row["lost"] += found.lost
            row["extra dec."] += found.extra_decisions
            row["refused OK"] += found.refused_after_ok
            row["peak RSS MB"] = max(row["peak RSS MB"], record.peak_rss_mb)
            row["seconds"] += record.seconds
    rows["total"] = rows.pop("total", dict.fromkeys(COLUMNS, 0.0))
    return rows


def failed(total: dict[str, float]) -> bool:
    """The gate: anything found, or a run above the memory limit."""
    return any(total[c] for c in ("crashes", "hangs", "tracebacks", "multi-line", "stray", "lost", "extra dec.", "refused OK")) \
        or total["peak RSS MB"] > RSS_LIMIT_MB


def print_report(corpus: Corpus, rows: dict[str, dict[str, float]], wall_s: float, seed: int) -> None:
    kinds = Counter(i.kind for i in corpus.inputs)
    width = max(map(len, kinds)) + 2
    print(f"== Inputs (seed {seed})")
    for kind in sorted(kinds):
        print(f"{kind:<{width}}{kinds[kind]:>6}")
    print(f"{'total':<{width}}{sum(kinds.values()):>6}")
    print()
    print("== Runs")
    print(f"{'command':<16}" + "".join(f"{c:>12}" for c in COLUMNS))
    for name, row in rows.items():
        cells = [f"{row[c]:>12.1f}" if c in ("peak RSS MB", "seconds") else f"{int(row[c]):>12d}" for c in COLUMNS]
        print(f"{name:<16}" + "".join(cells))
    total = rows["total"]
    print()
    print(f"problems: {int(total['crashes'])} crashes, {int(total['hangs'])} hangs, {int(total['tracebacks'])} tracebacks, "
          f"{int(total['multi-line'])} multi-line errors, {int(total['stray'])} stray stderr lines, {int(total['lost'])} lost files, "
          f"{int(total['extra dec.'])} extra decisions, {int(total['refused OK'])} configs refused after OK; "
          f"peak RSS {total['peak RSS MB']:.0f} MB (limit {RSS_LIMIT_MB})")
    print(f"total time: {wall_s:.1f} s, {int(total['runs'])} runs")
    print(f"verdict: {'FAIL' if failed(total) else 'PASS'}")


# --- main ---------------------------------------------------------------------------------

def fuzz(root: Path, seed: int, quick: bool, workers: int) -> tuple[Corpus, list[RunRecord], list[Findings]]:
    started = time.perf_counter()
    corpus, picture_batches, video_batches, configs, places, base = generate(root, seed, quick)
    log.info("generated %d inputs in %s (%.1f s)", len(corpus.inputs), root, time.perf_counter() - started)

    specs = batch_specs("classify", picture_batches, base, 0.5)
    specs += batch_specs("analyze", picture_batches, base, 1.0)
    specs += batch_specs("analyze", video_batches, base, 5.0)
    specs += replay_specs(picture_batches, base)
    specs += video_replay_specs(video_batches, base, 2 if quick else 12)
    specs += [RunSpec("validate-config", ["run", "--validate-config", "--config", str(path)], 20, frozenset({0, 2}),
                      config=path) for path in configs]
    log.info("running %d commands, %d at a time", len(specs), workers)
    records = run_all(specs, root, workers)

    starts = []
    for record in records:
        if record.spec.command == "validate-config" and record.exit_code == 0:
            extra = startable_config(record.spec.config, root)
            if extra is not None:
                extra = [str(places.small_folder) if a == "PLACEHOLDER" else a for a in extra]
                starts.append(RunSpec("start after OK", ["run", "--headless", "--config", str(record.spec.config),
                                                         "--max-frames", "30", *extra], 60, frozenset({0, 2})))
    log.info("starting the kiosk headless with the %d configs reported OK", len(starts))
    records += run_all(starts, root, workers, first_number=len(records))

    findings = [check_run(record) for record in records]
    for index, extra in check_replays(records).items():
        findings[index].extra_decisions = extra
        findings[index].notes.append(f"{extra} decision(s) more than the folder's readable pictures")
    for record, found in zip(records, findings):
        if found.any or record.peak_rss_mb > RSS_LIMIT_MB:
            log.warning("%s: %s; peak RSS %.0f MB; reproduce: %s", record.spec.command, "; ".join(found.notes) or "memory",
                        record.peak_rss_mb, record.command_line())
    return corpus, records, findings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--quick", action="store_true", help="a small subset (about 60 inputs), for the tests")
    parser.add_argument("--seed", type=int, default=0, help="seed of everything generated (default 0)")
    parser.add_argument("--keep", metavar="DIR", help="generate in DIR (created, must be empty) and keep it")
    parser.add_argument("--workers", type=int, default=2, help="commands run at a time (default 2)")


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.fuzz", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_logging_options(parser)
    add_arguments(parser)
    args = parser.parse_args(argv)
    setup_logging(args.log_level)
    if args.keep:
        root = Path(args.keep).resolve()
        root.mkdir(parents=True, exist_ok=True)
        if any(root.iterdir()):
            parser.error(f"--keep {args.keep}: the folder is not empty")
    else:
        root = Path(tempfile.mkdtemp(prefix="kiosk-fuzz-"))
    started = time.perf_counter()
    corpus, records, findings = fuzz(root, args.seed, args.quick, max(1, args.workers))
    rows = tally(records, findings)
    print_report(corpus, rows, time.perf_counter() - started, args.seed)
    bad = failed(rows["total"])
    if args.keep or bad:
        log.info("inputs, configs and each run's output (logs/NNNN.out, .err) kept in %s", root)
    else:
        shutil.rmtree(root, ignore_errors=True)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
