"""Painted training masks: placed from the face's own keypoints, labelled by how they are worn,
and only ever added to the training split."""

from __future__ import annotations

import json
import subprocess
import sys

import cv2
import numpy as np
import pytest

from kiosk.vision.detection.blazeface import BlazeFaceDetector
from kiosk.vision.model_spec import WITH_INCORRECT_MASK, WITH_MASK, WITHOUT_MASK, ModelSpec
from kiosk.vision.preprocessing import crop_face
from kiosk.camera.synthetic import PORTRAIT_FACE_BOX, load_portrait, masked_portrait
from train.__main__ import build_parser
from train.dataset import find_samples
from train.synthetic_masks import DATASET_NAME, FacePoints, paint_mask, synthesize

from tests.helpers import PROJECT_ROOT


@pytest.fixture(scope="module")
def face_crop() -> np.ndarray:
    return crop_face(load_portrait(), PORTRAIT_FACE_BOX, 0.1)


@pytest.fixture(scope="module")
def face_points(face_crop) -> FacePoints:
    points = BlazeFaceDetector().face_keypoints(face_crop)
    assert points is not None, "BlazeFace found no keypoints on the portrait"
    return FacePoints.from_blazeface(points)


def _patch_change(before: np.ndarray, after: np.ndarray, point: np.ndarray, radius: int = 2) -> float:
    x, y = int(round(point[0])), int(round(point[1]))
    window = np.s_[y - radius:y + radius + 1, x - radius:x + radius + 1]
    return float(np.abs(before[window].astype(int) - after[window].astype(int)).mean())


def test_keypoints_of_the_portrait_lie_on_its_face_in_order(face_crop, face_points):
    height, width = face_crop.shape[:2]
    for point in (face_points.right_eye, face_points.left_eye, face_points.nose, face_points.mouth):
        assert 0 < point[0] < width and 0 < point[1] < height
    assert face_points.plausible()
    eye_x = sorted((face_points.right_eye[0], face_points.left_eye[0]))
    assert eye_x[0] < face_points.nose[0] < eye_x[1]
    assert abs(face_points.left_eye[0] - face_points.right_eye[0]) > 0.2 * width


def test_no_keypoints_on_a_blank_crop():
    assert BlazeFaceDetector().face_keypoints(np.full((120, 100, 3), 128, np.uint8)) is None


def test_a_correct_mask_covers_nose_and_mouth_a_low_one_only_the_mouth(face_crop, face_points):
    rng = np.random.default_rng(3)
    for _ in range(5):  # every random style obeys the placement
        correct = paint_mask(face_crop, face_points, "correct", rng)
        below_nose = paint_mask(face_crop, face_points, "below_nose", rng)
        chin = paint_mask(face_crop, face_points, "chin", rng)
        assert _patch_change(face_crop, correct, face_points.nose) > 10
        assert _patch_change(face_crop, correct, face_points.mouth) > 10
        assert _patch_change(face_crop, below_nose, face_points.nose) < 2
        assert _patch_change(face_crop, below_nose, face_points.mouth) > 10
        assert _patch_change(face_crop, chin, face_points.mouth) < 2
        for painted in (correct, below_nose, chin):  # the eyes are never touched
            assert _patch_change(face_crop, painted, face_points.right_eye) < 2
            assert painted.shape == face_crop.shape and painted.dtype == np.uint8


def _mask_texture(face_crop, painted, face_points) -> float:
    """How much the painted mask varies between the nose and the mouth (pleats aside: along a row)."""
    y = int(round((face_points.nose[1] + face_points.mouth[1]) / 2))
    x0, x1 = sorted(int(round(v)) for v in (face_points.right_eye[0], face_points.left_eye[0]))
    row = cv2.cvtColor(painted, cv2.COLOR_BGR2GRAY)[y - 2:y + 3, x0:x1].astype(float)
    return float(row.std())


def test_patterned_cloth_masks_are_painted_where_asked_and_never_by_default(face_crop, face_points):
    plain = [paint_mask(face_crop, face_points, "correct", np.random.default_rng(seed)) for seed in range(12)]
    patterned = [paint_mask(face_crop, face_points, "correct", np.random.default_rng(seed), pattern_share=1.0)
                 for seed in range(12)]
    plain_texture = [_mask_texture(face_crop, m, face_points) for m in plain]
    patterned_texture = [_mask_texture(face_crop, m, face_points) for m in patterned]
    assert np.median(patterned_texture) > 2 * np.median(plain_texture), (plain_texture, patterned_texture)
    for mask in patterned:  # placement rules hold for cloth too
        assert _patch_change(face_crop, mask, face_points.nose) > 10
        assert _patch_change(face_crop, mask, face_points.right_eye) < 2
    # a share of 0 draws nothing extra from the random stream: earlier recipes paint the same masks
    same = [paint_mask(face_crop, face_points, "correct", np.random.default_rng(seed), pattern_share=0.0)
            for seed in range(3)]
    assert all(np.array_equal(a, b) for a, b in zip(same, plain[:3]))


def test_only_bare_faces_with_keypoints_get_twins_labelled_by_how_the_mask_is_worn(tmp_path, face_crop):
    root = tmp_path / "crops"
    for label in (WITH_MASK, WITHOUT_MASK):
        (root / label).mkdir(parents=True)
    for i in range(6):
        shifted = np.roll(face_crop, 3 * i, axis=1)
        cv2.imwrite(str(root / WITHOUT_MASK / f"bare_{i}.png"), shifted)
    cv2.imwrite(str(root / WITHOUT_MASK / "blank.png"), np.full((90, 90, 3), 90, np.uint8))  # no face: skipped
    cv2.imwrite(str(root / WITH_MASK / "masked.png"), crop_face(masked_portrait(), PORTRAIT_FACE_BOX, 0.1))
    spec = ModelSpec(classes=(WITH_MASK, WITHOUT_MASK, WITH_INCORRECT_MASK), input_size=40)

    samples, inputs = synthesize(find_samples([root]), spec, rate=1.0, seed=0)

    assert len(samples) == 6 and inputs.shape == (6, 40, 40, 1) and inputs.dtype == np.float32
    assert all(s.dataset == DATASET_NAME and s.path.parent.name == WITHOUT_MASK for s in samples)
    assert {s.label for s in samples} <= {WITH_MASK, WITH_INCORRECT_MASK}
    for sample in samples:
        worn = sample.source.split("/")[1]
        assert (sample.label == WITH_MASK) == (worn == "correct"), sample.source
    assert synthesize(find_samples([root]), spec, rate=0.0, seed=0)[0] == []

    wrongly_worn, _ = synthesize(find_samples([root]), spec, rate=1.0, seed=0, incorrect_share=1.0)
    assert len(wrongly_worn) == 6 and {s.label for s in wrongly_worn} == {WITH_INCORRECT_MASK}

    pairs, pair_inputs = synthesize(find_samples([root]), spec, rate=2.0, seed=0)
    assert len(pairs) == 12 and len(pair_inputs) == 12
    for path in {s.path for s in pairs}:  # each bare face: one mask worn correctly, one wrongly
        assert sorted(s.label for s in pairs if s.path == path) == sorted([WITH_MASK, WITH_INCORRECT_MASK])


def test_training_adds_the_twins_to_the_training_split_only(tmp_path, face_crop):
    rng = np.random.default_rng(1)
    root = tmp_path / "portraits"
    masked = crop_face(masked_portrait(), PORTRAIT_FACE_BOX, 0.1)
    for label, image in ((WITHOUT_MASK, face_crop), (WITH_MASK, masked)):
        (root / label).mkdir(parents=True)
        for i in range(12):
            varied = np.clip(image.astype(int) + int(rng.integers(-30, 30)), 0, 255).astype(np.uint8)
            cv2.imwrite(str(root / label / f"gen_{label}_{i}.png"), np.roll(varied, 2 * i, axis=0))
    result = subprocess.run(
        [sys.executable, "-m", "train", "--data", str(root), "--out", str(tmp_path / "model"), "--epochs", "1",
         "--input-size", "32", "--width", "4", "--batch-size", "16", "--threads", "1", "--synthetic-masks", "1",
         "--mask-patterns", "0.5"],
        cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=280)
    assert result.returncode == 0, result.stderr[-3000:]

    card = json.loads((tmp_path / "model" / "model_card.json").read_text())
    counts = card["data"]["counts"]
    bare_in_train = counts["train"]["portraits"][WITHOUT_MASK]
    assert sum(counts["train"][DATASET_NAME].values()) == bare_in_train
    assert DATASET_NAME not in counts["val"] and DATASET_NAME not in counts["test"]
    assert WITH_INCORRECT_MASK not in counts["train"][DATASET_NAME]  # no such class here: counted as no mask
    assert card["training"]["synthetic_masks"] == 1.0 and card["training"]["mask_patterns"] == 0.5
    assert "painted %d synthetic masks" % bare_in_train in result.stderr


@pytest.mark.parametrize("value", ["2.5", "-0.1", "half"])
def test_the_synthetic_mask_rate_must_be_between_0_and_2(value, capsys):
    with pytest.raises(SystemExit) as exit_info:
        build_parser().parse_args(["--data", "x", "--synthetic-masks", value])
    assert exit_info.value.code == 2
    assert "expected a twin rate between 0 and 2" in capsys.readouterr().err
