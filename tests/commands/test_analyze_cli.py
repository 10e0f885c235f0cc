"""``main.py analyze``: JSON lines per image and per video frame, annotated outputs, bad inputs
recorded without stopping the run, and one-line errors for an unusable model."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from kiosk import cli
from tools.analyze_soak import make_photo_folder, run_analyze
from kiosk.camera.synthetic import place_on_canvas

from tests.helpers import PROJECT_ROOT
FRAME_SIZE = (640, 480)


def analyze(capsys, *args: str) -> tuple[int, list[str], str]:
    """Run the real command in-process; (exit code, stdout lines, stderr)."""
    code = cli.main(["analyze", *map(str, args)])
    captured = capsys.readouterr()
    return code, captured.out.splitlines(), captured.err


@pytest.fixture
def photo(tmp_path, portrait) -> Path:
    frame, _, _ = place_on_canvas(portrait, FRAME_SIZE, 0.6)
    path = tmp_path / "in" / "door.jpg"
    path.parent.mkdir()
    cv2.imwrite(str(path), frame)
    return path


def write_video(path: Path, portrait: np.ndarray, frames: int, size=FRAME_SIZE) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, size)
    assert writer.isOpened()
    for i in range(frames):
        frame, _, _ = place_on_canvas(portrait, size, 0.6, (4 * i - 24, 0))
        writer.write(frame)
    writer.release()
    return path


def count_frames(path: Path) -> tuple[int, tuple[int, int]]:
    capture = cv2.VideoCapture(str(path))
    frames, size = 0, (0, 0)
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames, size = frames + 1, (frame.shape[1], frame.shape[0])
    capture.release()
    return frames, size


def test_json_line_per_image_with_faces_in_input_pixels(capsys, photo, model_dir):
    code, lines, _ = analyze(capsys, photo, "--json", "--model", model_dir)
    assert code == 0
    assert len(lines) == 1
    record = json.loads(lines[0])
    assert record["path"] == str(photo) and "frame" not in record
    assert len(record["faces"]) == 1
    face = record["faces"][0]
    assert set(face) == {"box", "label", "score"}
    x, y, w, h = face["box"]
    assert all(isinstance(v, int) for v in face["box"])
    # the portrait at 0.6 is centred on the 640x480 canvas: its face lies in the upper middle
    assert 200 < x + w / 2 < 440 and 80 < y + h / 2 < 260 and 90 < w < 190
    assert 0.0 <= face["score"] <= 1.0


def test_video_gives_one_json_line_per_frame(capsys, tmp_path, portrait, model_dir):
    video = write_video(tmp_path / "entrance.mp4", portrait, 12)
    code, lines, _ = analyze(capsys, video, "--json", "--model", model_dir)
    assert code == 0
    records = [json.loads(line) for line in lines]
    assert [r["frame"] for r in records] == list(range(12))
    assert all(r["path"] == str(video) for r in records)
    assert sum(len(r["faces"]) for r in records) >= 10  # the face is found in (nearly) every frame


def test_annotated_image_and_video_are_written_with_relative_names(capsys, tmp_path, photo, portrait, model_dir):
    nested = tmp_path / "in" / "lobby"
    nested.mkdir()
    write_video(nested / "walk.mp4", portrait, 8)
    out = tmp_path / "out"
    code, lines, _ = analyze(capsys, tmp_path / "in", "--out", out, "--model", model_dir)
    assert code == 0
    assert len(lines) == 1 + 8  # human-readable: one line per image and per video frame

    annotated = cv2.imread(str(out / "door.jpg"))
    assert annotated is not None and annotated.shape == (480, 640, 3)
    original = cv2.imread(str(photo))
    assert np.abs(annotated.astype(int) - original.astype(int)).max() > 100  # a box was drawn
    frames, size = count_frames(out / "lobby" / "walk.mp4")
    assert (frames, size) == (8, FRAME_SIZE)


def test_unreadable_inputs_become_error_records_and_the_run_goes_on(capsys, tmp_path, photo, model_dir):
    folder = photo.parent
    (folder / "a_empty.png").write_bytes(b"")
    (folder / "b_text.jpg").write_text("not an image")
    (folder / "c_broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(500))
    missing = tmp_path / "nowhere.jpg"
    code, lines, err = analyze(capsys, folder, missing, "--json", "--model", model_dir)
    assert code == 0
    records = {json.loads(line)["path"]: json.loads(line) for line in lines}
    assert set(records) == {str(folder / n) for n in ("a_empty.png", "b_text.jpg", "c_broken.mp4", "door.jpg")} | {str(missing)}
    for name in ("a_empty.png", "b_text.jpg", "c_broken.mp4"):
        assert name in records[str(folder / name)]["error"]
    assert "no such file" in records[str(missing)]["error"]
    assert len(records[str(photo)]["faces"]) == 1  # the good file after the bad ones was analysed
    assert "Traceback" not in err


def test_human_readable_lines_summarise_each_image(capsys, photo, model_dir):
    code, lines, _ = analyze(capsys, photo, "--model", model_dir)
    assert code == 0
    assert len(lines) == 1
    assert lines[0].startswith(f"{photo}: 1 face: ") and "%" in lines[0]


@pytest.mark.parametrize("breakage", ["empty folder", "corrupt tflite"])
def test_unusable_model_is_one_line_and_a_non_zero_exit(tmp_path, photo, model_dir, breakage):
    bad = tmp_path / "model"
    bad.mkdir()
    if breakage == "corrupt tflite":
        (bad / "model_card.json").write_text((model_dir / "model_card.json").read_text())
        (bad / "mask_classifier.tflite").write_bytes(b"TFL3" + bytes(300))
    proc = subprocess.run([sys.executable, "main.py", "analyze", str(photo), "--json", "--model", str(bad)],
                          cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    assert proc.stdout == ""
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and str(bad) in last
    assert "Traceback" not in proc.stderr


def test_bad_detector_name_is_one_line(capsys, photo, model_dir):
    code, lines, err = analyze(capsys, photo, "--model", model_dir, "--detector", "nonsense")
    assert code == 2 and lines == []
    assert err.strip().splitlines()[-1].startswith("error: [detection] detector = \"nonsense\"")


def test_folder_with_corrupt_photos_is_streamed_to_the_end(tmp_path, model_dir):
    """The soak run in small: 30 photos, 3 broken, all reported, exit 0, memory sampled."""
    broken = make_photo_folder(tmp_path / "photos", files=30, corrupt=3, size=(320, 240))
    result = run_analyze(tmp_path / "photos", ["--model", str(model_dir)])
    assert result.exit_code == 0
    assert result.records == 30
    assert sorted(result.error_paths) == sorted(map(str, broken))
    assert result.rss_at_record and result.rss_max_kb >= max(result.rss_at_record)
