"""The one image reader: declared sizes checked before decoding, every failure one line of ours."""

from __future__ import annotations

import dataclasses
import io
import resource
import time

import cv2
import numpy as np
import pytest
from PIL import Image

from kiosk.camera.image_header import declared_size
from kiosk.camera.media import DEFAULT_MAX_IMAGE_PIXELS, MediaError, error_line, read_image
from kiosk.camera.sources import ImageFolderSource, make_source
from kiosk.config import CameraSection, Config
from tests.helpers.hostile_images import (ENCODED_FORMATS, HUGE_HEADERS, damaged_versions, encoded, png_declaring,
                                          sample_picture, tiff_declaring)

RAW_OPENCV_TEXT = ("OpenCV(", ".cpp", "error: (-", "Assertion failed")


def one_line_of_ours(message: str) -> bool:
    return "\n" not in message and not any(text in message for text in RAW_OPENCV_TEXT)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def test_the_limit_is_a_camera_setting_of_40_megapixels():
    assert DEFAULT_MAX_IMAGE_PIXELS == CameraSection().max_image_pixels == 40_000_000


@pytest.mark.parametrize("extension", ENCODED_FORMATS)
def test_the_header_says_the_size_the_decoder_gives(extension, tmp_path):
    path = tmp_path / f"picture{extension}"
    path.write_bytes(encoded(extension))
    size = declared_size(path.read_bytes())
    assert (size.width, size.height) == (64, 48)
    assert read_image(path).shape == (48, 64, 3)


@pytest.mark.parametrize("fmt, options", [
    ("JPEG", {"progressive": True}), ("JPEG", {"exif": b"Exif\0\0" + b"\0" * 60000}), ("BMP", {}),
    ("TIFF", {"compression": "tiff_lzw"}), ("TIFF", {"big_tiff": True}), ("WEBP", {"lossless": True}),
    ("WEBP", {"exif": b"Exif\0\0"}), ("PNG", {"optimize": True}),
])
def test_header_sizes_of_files_other_writers_make(fmt, options, tmp_path):
    buffer = io.BytesIO()
    Image.fromarray(sample_picture(37, 53)).save(buffer, fmt, **options)
    path = tmp_path / f"picture.{fmt.lower()}"
    path.write_bytes(buffer.getvalue())
    size = declared_size(buffer.getvalue())
    assert (size.width, size.height) == (53, 37)
    assert read_image(path).shape == (37, 53, 3)


@pytest.mark.parametrize("name", sorted(HUGE_HEADERS))
def test_a_huge_declared_size_is_refused_before_anything_is_decoded(name, tmp_path):
    data, (width, height) = HUGE_HEADERS[name]
    path = tmp_path / name
    path.write_bytes(data)
    before, started = peak_rss_mb(), time.perf_counter()
    with pytest.raises(MediaError) as caught:
        read_image(path)
    assert time.perf_counter() - started < 0.5
    assert peak_rss_mb() - before < 50  # decoding 30000x30000 would take gigabytes
    assert str(caught.value) == f"{path}: declares {width}x{height} pixels, more than the 40 MP limit"


def test_big_endian_tiff_and_the_limit_from_the_caller(tmp_path):
    path = tmp_path / "small.tif"
    path.write_bytes(tiff_declaring(300, 200, big_endian=True))
    with pytest.raises(MediaError, match=r"declares 300x200 pixels, more than the 0.05 MP limit"):
        read_image(path, max_pixels=50_000)
    picture = tmp_path / "picture.png"
    picture.write_bytes(encoded(".png"))
    assert read_image(picture, max_pixels=64 * 48).shape == (48, 64, 3)
    with pytest.raises(MediaError, match="declares 64x48 pixels"):
        read_image(picture, max_pixels=64 * 48 - 1)


@pytest.mark.parametrize("extension", ENCODED_FORMATS)
def test_damaged_files_give_a_picture_or_one_line_of_ours(extension, tmp_path):
    data = encoded(extension)
    for index, damaged in enumerate(damaged_versions(data, seed=len(extension) + ord(extension[1]))):
        path = tmp_path / f"damaged{index}{extension}"
        path.write_bytes(damaged)
        try:
            image = read_image(path)
        except MediaError as exc:
            assert one_line_of_ours(str(exc)) and str(exc).startswith(f"{path}: "), str(exc)
        else:
            assert image.dtype == np.uint8 and image.ndim == 3 and image.size > 0


@pytest.mark.parametrize("data, expected", [
    (b"", "empty file"),
    (b"not a picture at all", "not a picture the kiosk reads (JPEG, PNG, BMP, WebP, TIFF or PNM)"),
    (png_declaring(0, 10), "damaged PNG header, it declares 0x10 pixels"),
    (b"\x89PNG\r\n\x1a\n\0\0", "damaged picture, PNG header is cut short"),
    (b"\xff\xd8\xff\xd9", "damaged picture, JPEG has no frame header"),
    (b"P5\n# no size\n", "damaged picture, PNM header has no size"),
])
def test_what_is_wrong_is_said_in_our_words(data, expected, tmp_path):
    path = tmp_path / "file.img"
    path.write_bytes(data)
    with pytest.raises(MediaError) as caught:
        read_image(path)
    assert str(caught.value) == f"{path}: {expected}"


def test_a_decoder_failure_is_ours_and_libpng_stays_quiet(tmp_path, capfd):
    from kiosk.logging_setup import quiet_native_libraries

    quiet_native_libraries(True)
    flipped = bytearray(encoded(".png"))
    flipped[40] ^= 0xFF  # libpng itself prints "libpng error: ... bad header" on fd 2
    path = tmp_path / "flipped.png"
    path.write_bytes(bytes(flipped))
    with pytest.raises(MediaError) as caught:
        read_image(path)
    assert str(caught.value) == f"{path}: damaged PNG picture, it cannot be decoded"
    assert capfd.readouterr().err == ""


def test_a_file_too_big_for_any_picture_under_the_limit_is_not_read(tmp_path):
    path = tmp_path / "big.png"
    path.write_bytes(png_declaring(10, 10) + b"\0" * (2 << 20))
    with pytest.raises(MediaError, match="more than a picture under the 0.01 MP limit needs"):
        read_image(path, max_pixels=10_000)


def test_a_thin_picture_is_read_and_opencv_errors_are_said_in_our_words(tmp_path):
    path = tmp_path / "thin.png"
    cv2.imwrite(str(path), np.full((1, 5000, 3), 128, np.uint8))
    assert read_image(path).shape == (1, 5000, 3)
    try:
        cv2.resize(np.zeros((1, 5000), np.uint8), None, fx=0.064, fy=0.064)
    except cv2.error as exc:
        message = error_line(path, exc)
    assert message == f"{path}: cannot be processed (OpenCV failed in resize)"


def test_the_folder_source_reads_with_the_configured_limit(tmp_path):
    (tmp_path / "a.png").write_bytes(encoded(".png"))
    cfg = dataclasses.replace(Config(), camera=dataclasses.replace(CameraSection(), source=str(tmp_path),
                                                                   max_image_pixels=1000))
    source = make_source(cfg.camera.source, cfg)
    assert isinstance(source, ImageFolderSource) and source.max_pixels == 1000
    source.open()
    frame = source.read()  # refused: the empty frame, not the picture
    assert frame.std() == 0
