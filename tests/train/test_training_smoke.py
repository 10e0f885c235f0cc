"""`python -m train` end to end on a tiny generated dataset: model files, card, TFLite export
usable by the kiosk, PNGs; then `python -m train.evaluate --split test` on the same data."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from kiosk.vision.classifier import MaskClassifier
from kiosk.vision.model_spec import KERAS_MODEL_NAME, MODEL_CARD_NAME, TFLITE_MODEL_NAME, load_model_spec

from tests.helpers import PROJECT_ROOT


def _face(rng: np.random.Generator, masked: bool) -> np.ndarray:
    """A gray 'face' disc; masked ones carry a light-blue band over the lower half."""
    size = int(rng.integers(50, 90))
    image = np.full((size, size, 3), int(rng.integers(60, 120)), np.uint8)
    cv2.circle(image, (size // 2, size // 2), size // 3, (170, 170, 170), -1)
    if masked:
        cv2.rectangle(image, (size // 5, size // 2), (4 * size // 5, 5 * size // 6), (235, 200, 150), -1)
    return (image + rng.integers(0, 25, image.shape)).astype(np.uint8)


def _make_dataset(root: Path) -> None:
    rng = np.random.default_rng(0)
    for label in ("with_mask", "without_mask"):
        (root / label).mkdir(parents=True)
        for i in range(24):
            cv2.imwrite(str(root / label / f"gen_{label}_{i}.png"), _face(rng, label == "with_mask"))
    (root / "with_mask" / "corrupt.jpg").write_bytes(b"broken")


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *args], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=280)


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[Path, Path, subprocess.CompletedProcess]:
    base = tmp_path_factory.mktemp("smoke")
    data, out = base / "toyfaces", base / "model"
    _make_dataset(data)
    result = _run("train", "--data", str(data), "--out", str(out), "--epochs", "2", "--input-size", "32",
                  "--width", "4", "--batch-size", "16", "--threads", "1")
    assert result.returncode == 0, result.stderr[-3000:]
    return data, out, result


def test_training_writes_model_card_and_pngs(trained):
    data, out, result = trained
    for name in (KERAS_MODEL_NAME, TFLITE_MODEL_NAME, MODEL_CARD_NAME, "training_curves.png", "confusion_test.png"):
        assert (out / name).stat().st_size > 0, name
    assert not (out / ".staging").exists()
    assert cv2.imread(str(out / "training_curves.png")) is not None
    card = json.loads((out / MODEL_CARD_NAME).read_text())
    spec = load_model_spec(out)
    assert spec.input_size == 32 and spec.classes == ("with_mask", "without_mask")
    assert card["classes"] == ["with_mask", "without_mask"]
    assert card["files"] == {"keras": KERAS_MODEL_NAME, "tflite": TFLITE_MODEL_NAME}
    assert card["data"]["skipped_unreadable"] == 1
    counts = card["data"]["counts"]
    assert sum(n for split in counts.values() for n in split["toyfaces"].values()) == 48
    assert card["data"]["scenes_test_photos"] == []
    assert "--epochs 2" in card["command"] and card["date"]
    assert card["training"]["epochs_run"] == 2 and len(card["training"]["history"]["loss"]) == 2
    assert card["test"]["all"]["n"] == sum(counts["test"]["toyfaces"].values())
    assert "false_accept_rate" in card["test"]["all"]["access"]
    assert set(card["checks"]["portrait"]) == {"portrait", "masked_portrait"}
    assert "epoch 2/2" in result.stderr  # progress is shown while training


def test_exported_tflite_runs_in_the_kiosk_classifier(trained):
    data, out, _ = trained
    classifier = MaskClassifier(out)
    faces = [cv2.imread(str(p)) for p in sorted((data / "with_mask").glob("*.png"))[:5]]
    probabilities = classifier.predict_faces(faces)
    assert probabilities.shape == (5, 2)
    assert np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)


def test_evaluate_test_split_matches_the_card(trained, tmp_path):
    data, out, _ = trained
    result = _run("train.evaluate", "--data", str(data), "--model", str(out), "--split", "test", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr[-3000:]
    card = json.loads((out / MODEL_CARD_NAME).read_text())
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["all"]["n"] == card["test"]["all"]["n"]
    assert report["all"]["confusion"] == card["test"]["all"]["confusion"]  # same split, same TFLite model
    assert "balanced accuracy" in result.stdout and "false accept" in result.stdout
    assert (tmp_path / "confusion.png").stat().st_size > 0


def test_bad_training_input_is_one_line(tmp_path):
    (tmp_path / "d" / "with_mask").mkdir(parents=True)
    (tmp_path / "d" / "without_mask").mkdir()
    result = _run("train", "--data", str(tmp_path / "d"), "--out", str(tmp_path / "m"))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("error: class folder")
    assert len([l for l in result.stderr.splitlines() if "Traceback" in l]) == 0


def test_a_colour_twin_trains_and_runs_on_three_channels(trained, tmp_path):
    data, _, _ = trained
    result = _run("train", "--data", str(data), "--out", str(tmp_path / "colour"), "--epochs", "1", "--input-size", "32",
                  "--width", "4", "--batch-size", "16", "--threads", "1", "--colour")
    assert result.returncode == 0, result.stderr[-3000:]
    spec = load_model_spec(tmp_path / "colour")
    assert spec.grayscale is False and spec.channels == 3
    classifier = MaskClassifier(tmp_path / "colour")
    face = cv2.imread(str(sorted((data / "with_mask").glob("*.png"))[0]))
    assert classifier.predict_faces([face]).shape == (1, 2)


def test_hard_example_mining_weights_up_what_the_earlier_model_gets_wrong(trained):
    from train.dataset import find_samples, label_indices, load_inputs
    from train.hard_examples import Mining, hard_mask, mining_weights

    data, out, _ = trained
    spec = load_model_spec(out)
    loaded = load_inputs(find_samples([data]), spec)
    labels = label_indices(loaded.samples, spec.classes)
    weights = mining_weights(Mining(out, factor=4.0, margin=0.0), loaded.inputs, labels, spec.classes, spec)
    classifier = MaskClassifier(out)
    mask_p = classifier.predict_batch(loaded.inputs)[:, classifier.mask_index]
    masked = labels == 0
    wrong_or_close = np.where(masked, mask_p < spec.mask_threshold, mask_p > spec.mask_threshold)
    assert weights.tolist() == np.where(wrong_or_close, 4.0, 1.0).tolist()
    assert wrong_or_close.any() and not wrong_or_close.all()  # the toy model gets some faces right, some not
    # the rule itself: a masked face below the threshold and a bare face above it are hard; clear ones are not
    assert hard_mask(np.array([0.3, 0.95, 0.9, 0.05]), np.array([True, True, False, False]), 0.5, 0.1).tolist() == [
        True, False, True, False]


def test_mining_with_a_model_of_another_shape_is_one_line(trained, tmp_path):
    data, out, _ = trained
    result = _run("train", "--data", str(data), "--out", str(tmp_path / "m"), "--epochs", "1", "--input-size", "40",
                  "--width", "4", "--threads", "1", "--mine-with", str(out))
    assert result.returncode == 2
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: the mining model") and "32 px" in last and "40 px" in last
