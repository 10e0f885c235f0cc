"""The size a picture file declares in its header, read without decoding it.

A decoder allocates what the header asks for: a 27 KB JPEG that declares 30000x30000 pixels
costs gigabytes and most of a minute before it turns out to hold nothing. Reading the header
first lets the caller refuse such a file at once. Only formats whose header is read here are
accepted at all, so no decoder ever sees a size nobody checked.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from typing import Callable, Optional

KNOWN_FORMATS = "JPEG, PNG, BMP, WebP, TIFF or PNM"


class HeaderError(ValueError):
    """The header is cut short or says something impossible (the message names the format)."""


@dataclass(frozen=True)
class DeclaredSize:
    format: str
    width: int
    height: int

    @property
    def pixels(self) -> int:
        return self.width * self.height


def _unpack(layout: str, data: bytes, offset: int, fmt: str) -> tuple:
    try:
        return struct.unpack_from(layout, data, offset)
    except struct.error:
        raise HeaderError(f"{fmt} header is cut short") from None


def _png(data: bytes) -> tuple[int, int]:
    length, kind, width, height = _unpack(">I4sII", data, 8, "PNG")
    if kind != b"IHDR" or length != 13:
        raise HeaderError("PNG does not start with its IHDR header")
    return width, height


# SOF0-3, 5-7, 9-11, 13-15 carry the frame size; C4 (DHT), C8 (JPG) and CC (DAC) do not
_JPEG_FRAME_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_JPEG_STANDALONE = frozenset(range(0xD0, 0xD9)) | {0x01}  # RSTn, SOI, TEM: no length field


_JPEG_MAX_SEGMENTS = 10_000  # far more than any camera writes before the frame header
_JPEG_FILL = re.compile(rb"\xff+")


def _jpeg(data: bytes) -> tuple[int, int]:
    """The first frame header (SOFn), walking the marker segments from the start."""
    pos = 2
    for _ in range(_JPEG_MAX_SEGMENTS):
        pos = data.find(b"\xff", pos)  # libjpeg skips garbage between segments too
        if pos < 0:
            raise HeaderError("JPEG has no frame header (cut short)")
        pos = _JPEG_FILL.match(data, pos).end()  # the marker's 0xFF and any fill bytes
        if pos >= len(data):
            raise HeaderError("JPEG has no frame header (cut short)")
        marker = data[pos]
        pos += 1
        if marker in _JPEG_STANDALONE:
            continue
        if marker in (0xD9, 0xDA):  # end of image, or scan data, before any frame header
            raise HeaderError("JPEG has no frame header")
        (length,) = _unpack(">H", data, pos, "JPEG")
        if marker in _JPEG_FRAME_MARKERS:
            _, height, width = _unpack(">BHH", data, pos + 2, "JPEG")
            return width, height
        if length < 2:
            raise HeaderError("JPEG segment length is impossible")
        pos += length
    raise HeaderError(f"JPEG has no frame header in its first {_JPEG_MAX_SEGMENTS} segments")


def _bmp(data: bytes) -> tuple[int, int]:
    (header_size,) = _unpack("<I", data, 14, "BMP")
    if header_size == 12:  # OS/2 BITMAPCOREHEADER: 16-bit sizes
        return _unpack("<HH", data, 18, "BMP")
    if header_size < 16:
        raise HeaderError(f"BMP info header of {header_size} bytes is impossible")
    width, height = _unpack("<ii", data, 18, "BMP")
    return width, abs(height)  # a negative height means rows stored top-down


def _pnm_tokens(data: bytes, count: int, fmt: str) -> list[int]:
    """The first ``count`` numbers after the two-byte magic, skipping whitespace and # comments."""
    numbers: list[int] = []
    pos, end = 2, min(len(data), 4096)
    while len(numbers) < count:
        while pos < end and (data[pos:pos + 1].isspace() or data[pos] == ord("#")):
            if data[pos] == ord("#"):
                while pos < end and data[pos] not in b"\r\n":
                    pos += 1
            else:
                pos += 1
        start = pos
        while pos < end and data[pos:pos + 1].isdigit():
            pos += 1
        if pos == start:
            raise HeaderError(f"{fmt} header has no size")
        numbers.append(int(data[start:pos]))
    return numbers


def _pnm(data: bytes) -> tuple[int, int]:
    width, height = _pnm_tokens(data, 2, "PNM")
    return width, height


def _pam(data: bytes) -> tuple[int, int]:
    fields: dict[bytes, int] = {}
    for line in data[2:4096].split(b"\n"):
        words = line.split()
        if words[:1] == [b"ENDHDR"]:
            break
        if len(words) == 2 and words[0] in (b"WIDTH", b"HEIGHT") and words[1].isdigit():
            fields[words[0]] = int(words[1])
    if len(fields) != 2:
        raise HeaderError("PAM header has no WIDTH and HEIGHT")
    return fields[b"WIDTH"], fields[b"HEIGHT"]


def _webp(data: bytes) -> tuple[int, int]:
    chunk = data[12:16]
    if chunk == b"VP8 ":  # lossy: a key frame's start code, then 14-bit sizes
        if data[23:26] != b"\x9d\x01\x2a":
            raise HeaderError("WebP (VP8) key frame header is missing")
        width, height = _unpack("<HH", data, 26, "WebP")
        return width & 0x3FFF, height & 0x3FFF
    if chunk == b"VP8L":  # lossless: signature byte, then (width-1) and (height-1) in 14 bits each
        (bits,) = _unpack("<I", data, 21, "WebP")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X":  # extended: 24-bit canvas (width-1) and (height-1)
        sizes = data[24:30]
        if len(sizes) < 6:
            raise HeaderError("WebP header is cut short")
        return int.from_bytes(sizes[:3], "little") + 1, int.from_bytes(sizes[3:], "little") + 1
    raise HeaderError("WebP has no VP8, VP8L or VP8X chunk first")


_TIFF_TYPES = {3: "H", 4: "I", 16: "Q"}  # SHORT, LONG, LONG8


def _tiff(data: bytes) -> tuple[int, int]:
    """ImageWidth (256) and ImageLength (257) of the first directory, classic or BigTIFF."""
    order = "<" if data[:2] == b"II" else ">"
    (version,) = _unpack(order + "H", data, 2, "TIFF")
    if version == 42:
        (offset,) = _unpack(order + "I", data, 4, "TIFF")
        count_layout, entry_layout, entry_size, value_at = "H", "HHI", 12, 8
    else:  # 43: BigTIFF
        (offset,) = _unpack(order + "Q", data, 8, "TIFF")
        count_layout, entry_layout, entry_size, value_at = "Q", "HHQ", 20, 12
    (entries,) = _unpack(order + count_layout, data, offset, "TIFF")
    first = offset + struct.calcsize(order + count_layout)
    sizes: dict[int, int] = {}
    for index in range(min(entries, 4096)):
        at = first + index * entry_size
        tag, kind, _ = _unpack(order + entry_layout, data, at, "TIFF")
        if tag in (256, 257) and kind in _TIFF_TYPES:
            (sizes[tag],) = _unpack(order + _TIFF_TYPES[kind], data, at + value_at, "TIFF")
    if len(sizes) != 2:
        raise HeaderError("TIFF first directory gives no width and height")
    return sizes[256], sizes[257]


def _sun_raster(data: bytes) -> tuple[int, int]:
    return _unpack(">II", data, 4, "Sun raster")


# (format, does the file start like one?, its size reader); the same signatures OpenCV's decoders check
_FORMATS: list[tuple[str, Callable[[bytes], bool], Callable[[bytes], tuple[int, int]]]] = [
    ("JPEG", lambda d: d[:3] == b"\xff\xd8\xff", _jpeg),
    ("PNG", lambda d: d[:8] == b"\x89PNG\r\n\x1a\n", _png),
    ("BMP", lambda d: d[:2] == b"BM", _bmp),
    ("WebP", lambda d: d[:4] == b"RIFF" and d[8:12] == b"WEBP", _webp),
    ("TIFF", lambda d: d[:4] in (b"II*\0", b"MM\0*", b"II+\0", b"MM\0+"), _tiff),
    ("PNM", lambda d: len(d) > 2 and d[:1] == b"P" and d[1:2] in b"123456" and d[2:3].isspace(), _pnm),
    ("PAM", lambda d: d[:3] == b"P7\n", _pam),
    ("PFM", lambda d: d[:2] in (b"PF", b"Pf") and d[2:3].isspace(), _pnm),
    ("Sun raster", lambda d: d[:4] == b"\x59\xa6\x6a\x95", _sun_raster),
]


def declared_size(data: bytes) -> Optional[DeclaredSize]:
    """The format and size the header of ``data`` declares; None for a format not read here.
    ``HeaderError`` for a header that is cut short or impossible."""
    for name, matches, read_size in _FORMATS:
        if matches(data):
            width, height = read_size(data)
            return DeclaredSize(name, int(width), int(height))
    return None
