"""`python main.py classify` against the real committed model, run as the user runs it."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from kiosk.vision.classifier import MaskClassifier
from kiosk.vision.model_spec import KNOWN_CLASSES, MODEL_CARD_NAME, TFLITE_MODEL_NAME, WITH_MASK
from kiosk.vision.preprocessing import crop_face
from tests.helpers.cli import PROJECT_ROOT, closed_pipe_run
from kiosk.camera.synthetic import PORTRAIT_FACE_BOX


def classify(*args: str, cwd: Path = PROJECT_ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(PROJECT_ROOT / "main.py"), "classify", *args],
                          cwd=cwd, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def crops(tmp_path_factory, portrait, masked_portrait) -> Path:
    """The demo portrait's face crop bare and masked (in a sub-folder), plus a corrupt file."""
    margin = MaskClassifier(PROJECT_ROOT / "models").spec.crop_margin
    folder = tmp_path_factory.mktemp("crops")
    (folder / "sub").mkdir()
    cv2.imwrite(str(folder / "bare.png"), crop_face(portrait, PORTRAIT_FACE_BOX, margin))
    cv2.imwrite(str(folder / "sub" / "masked.jpg"), crop_face(masked_portrait, PORTRAIT_FACE_BOX, margin))
    (folder / "sub" / "corrupt.jpg").write_bytes(b"\xff\xd8 truncated jpeg")
    (folder / "readme.txt").write_text("not an image: not picked up when walking the folder")
    return folder


def test_real_model_tells_the_demo_portrait_from_its_masked_version(model_dir, portrait, masked_portrait):
    classifier = MaskClassifier(model_dir)
    faces = [crop_face(img, PORTRAIT_FACE_BOX, classifier.spec.crop_margin) for img in (portrait, masked_portrait)]
    bare, masked = (classifier.label_of(row) for row in classifier.predict_faces(faces))
    assert bare[0] != WITH_MASK, bare
    assert masked[0] == WITH_MASK, masked


def test_json_lines_for_a_folder_with_a_corrupt_file(crops, model_dir):
    result = classify(str(crops), "--json", "--model", str(model_dir))
    assert result.returncode == 0, result.stderr
    records = [json.loads(line) for line in result.stdout.splitlines()]
    by_name = {Path(r["path"]).name: r for r in records}
    assert sorted(by_name) == ["bare.png", "corrupt.jpg", "masked.jpg"]
    assert by_name["masked.jpg"]["label"] == WITH_MASK
    assert by_name["bare.png"]["label"] != WITH_MASK
    for name in ("bare.png", "masked.jpg"):
        record = by_name[name]
        assert set(record) == {"path", "label", "score"}
        assert record["label"] in KNOWN_CLASSES and 0.0 <= record["score"] <= 1.0
        assert record["path"].startswith(str(crops))
    assert set(by_name["corrupt.jpg"]) == {"path", "error"}
    assert "corrupt.jpg" in by_name["corrupt.jpg"]["error"] and "\n" not in by_name["corrupt.jpg"]["error"]


def test_readable_output_and_paths_as_given(crops, model_dir):
    result = classify("bare.png", "sub/masked.jpg", "--model", str(model_dir), cwd=crops)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("bare.png: ") and lines[1].startswith("sub/masked.jpg: with_mask (")


def test_default_model_is_the_committed_one(crops):
    result = classify(str(crops / "sub" / "masked.jpg"), "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["label"] == WITH_MASK


def test_missing_file_is_a_per_file_error_not_a_failure(crops, model_dir):
    result = classify(str(crops / "nope.jpg"), str(crops / "bare.png"), "--json", "--model", str(model_dir))
    assert result.returncode == 0
    first, second = (json.loads(line) for line in result.stdout.splitlines())
    assert "no such file" in first["error"] and "label" in second


def _one_line_error(result: subprocess.CompletedProcess) -> str:
    """The single `error:` line (log lines may precede it; no traceback may)."""
    assert result.returncode != 0
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1 and result.stderr.strip().endswith(errors[0]), result.stderr
    return errors[0]


def test_corrupt_model_file_is_one_line_and_nonzero(crops, model_dir, tmp_path):
    shutil.copy(model_dir / MODEL_CARD_NAME, tmp_path / MODEL_CARD_NAME)
    (tmp_path / TFLITE_MODEL_NAME).write_bytes(b"not a flatbuffer" * 50)
    assert "not a valid TFLite model" in _one_line_error(classify(str(crops), "--model", str(tmp_path)))


def test_model_dir_without_card_is_one_line_and_nonzero(crops, model_dir, tmp_path):
    shutil.copy(model_dir / TFLITE_MODEL_NAME, tmp_path / TFLITE_MODEL_NAME)
    assert "no model card" in _one_line_error(classify(str(crops), "--model", str(tmp_path)))


def test_folder_without_images_is_one_line_and_nonzero(tmp_path, model_dir):
    (tmp_path / "empty").mkdir()
    assert "no image files" in _one_line_error(classify(str(tmp_path / "empty"), "--model", str(model_dir)))


def test_bad_usage_is_nonzero():
    result = classify()
    assert result.returncode != 0 and "PATH" in result.stderr


def test_many_files_are_batched_and_all_reported(tmp_path, model_dir):
    rng = np.random.default_rng(0)
    for i in range(70):  # more than one 64-file batch
        cv2.imwrite(str(tmp_path / f"noise_{i:02d}.png"), rng.integers(0, 256, (50, 40, 3), dtype=np.uint8))
    result = classify(str(tmp_path), "--json", "--model", str(model_dir))
    assert result.returncode == 0
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [Path(r["path"]).name for r in records] == [f"noise_{i:02d}.png" for i in range(70)]
    assert all(r["label"] in KNOWN_CLASSES for r in records)


@pytest.mark.parametrize("command", ["classify", "analyze"])
def test_a_reader_that_closes_the_pipe_ends_the_run_quietly(crops, command):
    code, stderr = closed_pipe_run([str(PROJECT_ROOT / "main.py"), command, str(crops), "--json"])
    assert code == 0, stderr
    assert "Traceback" not in stderr and "BrokenPipeError" not in stderr, stderr


def test_config_names_the_model_folder_and_model_overrides_it(crops, model_dir, tmp_path):
    config = tmp_path / "kiosk.toml"
    config.write_text(f'[model]\ndir = "{(tmp_path / "no-model").as_posix()}"\n')
    assert "no-model" in _one_line_error(classify(str(crops), "--config", str(config)))
    result = classify(str(crops / "bare.png"), "--config", str(config), "--model", str(model_dir))
    assert result.returncode == 0, result.stderr
