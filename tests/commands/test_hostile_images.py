"""classify, analyze and the headless kiosk on hostile picture files, as real subprocesses:
exit 0, one line of ours per bad file, no traceback, no native library noise, little memory."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from kiosk.camera.synthetic import PORTRAIT_FACE_BOX
from kiosk.camera.video_io import VideoWriter
from kiosk.vision.preprocessing import crop_face
from tests.helpers import PROJECT_ROOT
from tests.helpers.hostile_images import HUGE_HEADERS, write_hostile_folder

NOISE = ("Traceback", "XNNPACK", "[ERROR", "[ WARN", "libpng", "Corrupt JPEG", "OpenCV(", ".cpp:", "Assertion failed")
PEAK_RSS_MB = 600  # the kiosk's own weight; decoding the 30000x30000 JPEG alone would take 2.7 GB
# runs main.py and writes the process's peak RSS (MB) to the file named by argv[1]. VmHWM, not
# getrusage's ru_maxrss: Linux carries ru_maxrss over fork and exec, so a child of a large pytest
# process reported the parent's ~730 MB whatever it used itself; VmHWM belongs to this program's memory.
MEASURED = ("import runpy, sys\n"
            "out, sys.argv[0] = sys.argv.pop(1), sys.argv.pop(1)\n"
            "try:\n"
            "    runpy.run_path(sys.argv[0], run_name='__main__')\n"
            "finally:\n"
            "    hwm = next(l for l in open('/proc/self/status') if l.startswith('VmHWM:'))\n"
            "    open(out, 'w').write(str(int(hwm.split()[1]) / 1024))\n")


def main_py(tmp_path: Path, *argv: str) -> tuple[subprocess.CompletedProcess, float]:
    """``main.py argv...`` in a subprocess, with its peak resident memory in MB."""
    peak_file = tmp_path / "peak_rss"
    done = subprocess.run([sys.executable, "-c", MEASURED, str(peak_file), str(PROJECT_ROOT / "main.py"), *argv],
                          capture_output=True, text=True, timeout=240, cwd=PROJECT_ROOT)
    return done, float(peak_file.read_text())


def assert_quiet(stderr: str) -> None:
    for noise in NOISE:
        assert noise not in stderr, stderr


@pytest.fixture(scope="module")
def hostile(tmp_path_factory, portrait) -> tuple[Path, dict[str, str]]:
    folder = tmp_path_factory.mktemp("hostile")
    kinds = write_hostile_folder(folder)
    cv2.imwrite(str(folder / "good.png"), crop_face(portrait, PORTRAIT_FACE_BOX, 0.2))
    kinds["good.png"] = "good"
    return folder, kinds


def check_records(records: list[dict], folder: Path, kinds: dict[str, str]) -> dict[str, dict]:
    by_name = {Path(r["path"]).name: r for r in records}
    assert sorted(by_name) == sorted(kinds) and len(records) == len(kinds)
    for name, kind in kinds.items():
        record = by_name[name]
        if kind in ("huge", "damaged"):
            assert set(record) == {"path", "error"}, record
            assert record["error"].startswith(f"{folder / name}: ") and "\n" not in record["error"]
            assert not any(noise in record["error"] for noise in NOISE), record
        else:
            assert "error" not in record, record
    for name, (_, (width, height)) in HUGE_HEADERS.items():
        assert by_name[name]["error"].endswith(f"declares {width}x{height} pixels, more than the 40 MP limit")
    return by_name


def test_classify_gives_one_line_per_bad_file_quietly(hostile, model_dir, tmp_path):
    folder, kinds = hostile
    done, peak_mb = main_py(tmp_path, "classify", str(folder), "--json", "--model", str(model_dir))
    assert done.returncode == 0, done.stderr
    assert_quiet(done.stderr)
    check_records([json.loads(line) for line in done.stdout.splitlines()], folder, kinds)
    assert peak_mb < PEAK_RSS_MB


@pytest.mark.parametrize("detector", ["blazeface", "haar"])
def test_analyze_gives_one_line_per_bad_file_quietly(hostile, model_dir, tmp_path, detector):
    folder, kinds = hostile
    done, peak_mb = main_py(tmp_path, "analyze", str(folder), "--json", "--model", str(model_dir),
                            "--detector", detector)
    assert done.returncode == 0, done.stderr
    assert_quiet(done.stderr)
    by_name = check_records([json.loads(line) for line in done.stdout.splitlines()], folder, kinds)
    assert by_name["thin.png"]["faces"] == []  # a valid 5000x1 picture: no face, no OpenCV assertion
    assert peak_mb < PEAK_RSS_MB


def test_analyze_on_damaged_videos_keeps_ffmpeg_quiet(model_dir, tmp_path):
    folder = tmp_path / "videos"
    folder.mkdir()
    rng = np.random.default_rng(3)
    with VideoWriter(folder / "whole.mp4", 10) as writer:
        for _ in range(20):
            writer.write(rng.integers(0, 256, (120, 160, 3), np.uint8))
    data = writer.path.read_bytes()
    (folder / "cut.mp4").write_bytes(data[: len(data) // 2])  # FFmpeg: "moov atom not found"
    flipped = bytearray(data)
    flipped[2000::501] = bytes(b ^ 0x5A for b in flipped[2000::501])  # FFmpeg: "ac-tex damaged", "Error at MB"
    (folder / "flipped.mp4").write_bytes(bytes(flipped))
    done, _ = main_py(tmp_path, "analyze", str(folder), "--json", "--model", str(model_dir))
    assert done.returncode == 0, done.stderr
    assert_quiet(done.stderr)
    assert "[mov" not in done.stderr and "[mpeg4" not in done.stderr and " @ 0x" not in done.stderr
    records = [json.loads(line) for line in done.stdout.splitlines()]
    assert [r["error"] for r in records if r["path"].endswith("cut.mp4")] == [f"{folder / 'cut.mp4'}: not a video OpenCV can open"]
    assert sum(r["path"].endswith("whole.mp4") for r in records) == 20


def test_the_limit_comes_from_the_config(hostile, model_dir, tmp_path):
    folder, _ = hostile
    config = tmp_path / "kiosk.toml"
    config.write_text("[camera]\nmax_image_pixels = 10000\n", encoding="utf-8")
    good = folder / "good.png"
    height, width = cv2.imread(str(good)).shape[:2]
    done, _ = main_py(tmp_path, "classify", str(good), "--json", "--model", str(model_dir), "--config", str(config))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["error"] == f"{good}: declares {width}x{height} pixels, more than the 0.01 MP limit"


def test_verbose_lets_the_libraries_speak(hostile, model_dir, tmp_path):
    folder, _ = hostile
    quiet, _ = main_py(tmp_path, "classify", str(folder / "flipped.png"), "--model", str(model_dir))
    verbose, _ = main_py(tmp_path, "classify", str(folder / "flipped.png"), "--model", str(model_dir), "--verbose")
    assert quiet.returncode == verbose.returncode == 0
    assert_quiet(quiet.stderr)
    # as the libraries print them: LiteRT, and OpenCV or libpng on the damaged PNG
    assert "XNNPACK" in verbose.stderr and any(text in verbose.stderr for text in ("[ WARN", "[ERROR", "libpng"))
    assert quiet.stdout == verbose.stdout


def test_an_unreadable_picture_in_a_folder_source_is_not_a_second_decision(portrait, model_dir, config_file, tmp_path):
    folder = tmp_path / "door"
    folder.mkdir()
    cv2.imwrite(str(folder / "a.png"), portrait)  # a person without a mask
    # then a picture that cannot be read: OpenCV's own error here used to leave a.png on screen for
    # b.png's whole slot, and the same person was denied twice
    (folder / "b.png").write_bytes(HUGE_HEADERS["huge.png"][0])
    done, _ = main_py(tmp_path, "run", "--headless", "--source", str(folder), "--config", str(config_file),
                      "--model", str(model_dir))
    assert done.returncode == 0, done.stderr
    assert_quiet(done.stderr)
    decisions = [json.loads(line)["decision"] for line in done.stdout.splitlines()]
    assert decisions == ["denied"], done.stdout
    assert "b.png: declares 65535x65535 pixels" in done.stderr
