"""train.metrics figures on hand-checked cases, and `python -m train.evaluate` on the real model."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from kiosk.vision.model_spec import WITH_INCORRECT_MASK, WITH_MASK, WITHOUT_MASK
from kiosk.vision.preprocessing import crop_face
from kiosk.camera.synthetic import PORTRAIT_FACE_BOX, place_on_canvas
from train.metrics import choose_threshold, classification_report, decide, format_report

from kiosk.errors import KioskError
from tests.helpers import PROJECT_ROOT
from tests.helpers.crops import write_crops
CLASSES = [WITH_MASK, WITHOUT_MASK, WITH_INCORRECT_MASK]


def test_decide_follows_the_kiosk_threshold_rule():
    probs = np.array([[0.6, 0.3, 0.1], [0.45, 0.5, 0.05], [0.45, 0.1, 0.45], [0.2, 0.3, 0.5]])
    assert decide(probs, CLASSES, 0.5).tolist() == [0, 1, 2, 2]
    assert decide(probs, CLASSES, 0.7).tolist() == [1, 1, 2, 2]  # not sure enough -> best other class
    assert decide(probs, CLASSES, 0.4).tolist() == [0, 0, 0, 2]


def test_report_figures_on_a_hand_counted_case():
    y_true = np.array([0, 0, 0, 0, 1, 1, 1, 2, 2])
    y_pred = np.array([0, 0, 0, 1, 1, 1, 0, 2, 0])
    report = classification_report(y_true, y_pred, CLASSES)
    assert report["confusion"] == [[3, 1, 0], [1, 2, 0], [1, 0, 1]]
    assert report["per_class"][WITH_MASK]["precision"] == pytest.approx(3 / 5)
    assert report["per_class"][WITH_MASK]["recall"] == pytest.approx(3 / 4)
    assert report["per_class"][WITHOUT_MASK]["f1"] == pytest.approx(2 * (2 / 3) * (2 / 3) / (4 / 3))
    assert report["balanced_accuracy"] == pytest.approx((3 / 4 + 2 / 3 + 1 / 2) / 3)
    access = report["access"]
    assert access["false_accept_rate"] == pytest.approx(2 / 5)  # one no-mask and one incorrect let in
    assert access["false_reject_rate"] == pytest.approx(1 / 4)
    assert access["balanced_accuracy"] == pytest.approx(1 - (2 / 5 + 1 / 4) / 2)
    text = format_report("case", report, CLASSES)
    assert "false accept 0.400 of 5" in text and "with_incorrect_mask" in text


def test_report_handles_a_class_without_examples():
    report = classification_report(np.array([0, 1]), np.array([0, 1]), CLASSES)
    assert report["per_class"][WITH_INCORRECT_MASK] == {"precision": None, "recall": None, "f1": None, "support": 0}
    assert report["balanced_accuracy"] == 1.0


def test_threshold_keeps_false_accepts_below_the_limit_on_every_part():
    rng = np.random.default_rng(0)
    def part(n, overlap):
        y = rng.integers(0, 2, n)
        p_mask = np.clip(np.where(y == 0, rng.normal(0.85, overlap, n), rng.normal(0.3, overlap, n)), 0, 1)
        return np.stack([p_mask, 1 - p_mask], axis=1), y
    parts = [part(400, 0.1), part(200, 0.25)]
    threshold, info = choose_threshold(parts, [WITH_MASK, WITHOUT_MASK], max_false_accept=0.02)
    assert 0.5 <= threshold < 1
    for (probs, y), far in zip(parts, info["false_accept_rates"]):
        assert far == pytest.approx(np.mean(probs[y == 1, 0] >= threshold)) and far <= 0.02
    lower = choose_threshold(parts, [WITH_MASK, WITHOUT_MASK], max_false_accept=0.2)[0]
    assert lower <= threshold


@pytest.fixture(scope="module")
def portrait_dataset(tmp_path_factory, portrait, masked_portrait) -> Path:
    """Face crops of the demo portrait, bare and masked, at several scales, shifts and exposures."""
    root = tmp_path_factory.mktemp("eval") / "portraits"
    for label, image in ((WITHOUT_MASK, portrait), (WITH_MASK, masked_portrait)):
        (root / label).mkdir(parents=True)
        for i, (scale, dx, gain) in enumerate([(1.0, 0, 1.0), (0.6, 10, 0.8), (0.4, -8, 1.1), (0.8, 5, 0.9)]):
            frame, s, (x0, y0) = place_on_canvas(image, (640, 700), scale, (dx, 0))
            x, y, w, h = PORTRAIT_FACE_BOX
            box = (int(x * s) + x0, int(y * s) + y0, int(w * s), int(h * s))
            crop = np.clip(crop_face(frame, box, 0.1) * gain, 0, 255).astype(np.uint8)
            cv2.imwrite(str(root / label / f"demo_{i}.png"), crop)
    (root / WITH_MASK / "broken.png").write_bytes(b"\x89PNG broken")
    return root


def _evaluate(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "train.evaluate", *args], cwd=PROJECT_ROOT,
                          capture_output=True, text=True, timeout=240)


def test_evaluate_real_model_on_portrait_crops(portrait_dataset, model_dir, tmp_path):
    result = _evaluate("--data", str(portrait_dataset), "--model", str(model_dir), "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["engine"] == "tflite" and report["skipped_unreadable"] == 1
    overall = report["all"]
    assert overall["n"] == 8 and sum(map(sum, overall["confusion"])) == 8
    assert overall["access"]["not_mask_faces"] == 4 and overall["access"]["mask_faces"] == 4
    assert overall["access"]["false_accept_rate"] <= 0.25  # the bare portrait must not pass as masked
    assert "false accept" in result.stdout and "ms per face" in result.stdout
    assert (tmp_path / "confusion.png").stat().st_size > 0 and (tmp_path / "report.txt").read_text()


def test_evaluate_refuses_a_test_split_of_data_the_model_never_saw(portrait_dataset, model_dir, tmp_path):
    result = _evaluate("--data", str(portrait_dataset), "--model", str(model_dir), "--split", "test", "--out", str(tmp_path))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "error: dataset 'portraits' was not used to train this model, nor are its crops of photos that were:"
        " use --split all for it")


def test_crops_of_trained_photos_are_scored_on_their_photos_split(tmp_path):
    """A model trained without door crops is scored on the door crops of its test photos only,
    whatever order the folders are given in."""
    from train.dataset import find_samples
    from train.evaluate import select_split
    from train.splits import split_samples

    photos = [f"{n:032x}" for n in range(40)]
    scenes, door = tmp_path / "scenes_crops", tmp_path / "door_crops"
    for n, photo in enumerate(photos):
        label = WITH_MASK if n % 2 else WITHOUT_MASK
        write_crops(scenes / label, [f"{photo}_0.jpg"])
        write_crops(door / label, [f"{photo}_0_v0.jpg", f"{photo}_0_v1.jpg"])
    card = {"data": {"folders": [str(scenes)], "split": {"seed": 3, "fractions": [0.7, 0.15, 0.15]}}}
    trained = find_samples([scenes])
    test_photos = {s.photo_id for s, a in zip(trained, split_samples(trained, 3)) if a == "test"}
    chosen = select_split(find_samples([door, scenes]), card, "test")
    assert {s.photo_id for s in chosen if s.dataset == "door_crops"} == test_photos
    assert len([s for s in chosen if s.dataset == "door_crops"]) == 2 * len(test_photos) > 0
    write_crops(door / WITH_MASK, [f"{999:032x}_0_v0.jpg"])  # a photo the model's data never held
    with pytest.raises(KioskError, match="'door_crops' was not used to train this model"):
        select_split(find_samples([scenes, door]), card, "test")


def test_evaluate_scenes_test_split_matches_the_card(shared_datasets, model_dir, tmp_path):
    card = json.loads((model_dir / "model_card.json").read_text())
    result = _evaluate("--data", str(shared_datasets / "scenes_crops"), "--model", str(model_dir),
                       "--split", "test", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["all"]["confusion"] == card["test"]["by_dataset"]["scenes_crops"]["confusion"]


def test_retuning_without_a_prepared_folder_says_where_it_came_from(model_dir, tmp_path, capsys):
    """The shipped model was trained with door crops made before training, outside the project:
    re-choosing its threshold without them names the folder and points at the card's recipe."""
    import shutil

    from train import threshold

    model = tmp_path / "model"
    shutil.copytree(model_dir, model)
    card = json.loads((model / "model_card.json").read_text())
    assert card["data"]["preparation"], "the shipped card says how its door crops were made"
    card["data"]["folders"] = [str(tmp_path / "door_crops")]
    (model / "model_card.json").write_text(json.dumps(card))
    assert threshold.main(["--model", str(model), "--max-false-accept", "0.02"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == (f"error: dataset folder {tmp_path / 'door_crops'} does not exist;"
                       " the model card's data.preparation says how it was made")
