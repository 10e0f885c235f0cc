"""train.door_crops: the detector's own crops of annotated faces, seen on door views, as a
training set that keeps every photo in its split."""

from __future__ import annotations

from pathlib import Path

import cv2
import pytest

from kiosk.camera.synthetic import PORTRAIT_FACE_BOX
from kiosk.evaluation.voc import AnnotatedFace
from train import door_crops
from train.dataset import find_samples
from train.splits import split_samples
from tests.helpers.crops import write_crops
from tests.helpers.voc import BLANK, add_photo

BARE, MASKED, EMPTY = (f"{n:032x}" for n in (1, 2, 3))  # scenes-style photo ids


@pytest.fixture(scope="module")
def site(tmp_path_factory, portrait, masked_portrait) -> Path:
    folder = tmp_path_factory.mktemp("site")
    add_photo(folder, BARE, portrait, [AnnotatedFace("without_mask", PORTRAIT_FACE_BOX)])
    add_photo(folder, MASKED, masked_portrait, [AnnotatedFace("with_mask", (10, 10, 20, 20)),  # too small
                                                AnnotatedFace("with_mask", PORTRAIT_FACE_BOX)])
    add_photo(folder, EMPTY, BLANK, [AnnotatedFace("without_mask", (100, 100, 120, 140))])  # nobody there
    return folder


def names_in(folder: Path) -> dict[str, list[str]]:
    return {label: sorted(p.stem for p in (folder / label).glob("*.jpg"))
            for label in ("with_mask", "without_mask", "with_incorrect_mask")}


def test_each_face_gives_one_detector_crop_per_door_view(site, tmp_path, capsys):
    out = tmp_path / "door_crops"
    assert door_crops.main([str(site), "--out", str(out), "--views", "3"]) == 0
    found = names_in(out)
    # annotation index kept (the masked face is object 1), the face too small and the empty frame give nothing
    assert found == {"with_mask": [f"{MASKED}_1_v{k}" for k in range(3)],
                     "without_mask": [f"{BARE}_0_v{k}" for k in range(3)], "with_incorrect_mask": []}
    missed = [line for line in capsys.readouterr().err.splitlines() if "missed the face" in line]
    words = [line.split("door_crops: ")[1].split() for line in missed]
    assert [(w[0], w[1], w[4]) for w in words] == [  # crops saved, views missed: the empty frame, three times
        ("with_mask", "3", "0"), ("without_mask", "3", "3"), ("with_incorrect_mask", "0", "0")]
    # each crop is the face as the kiosk crops it: the face filling the crop, at the view's scale
    widths = [cv2.imread(str(out / "without_mask" / f"{BARE}_0_v{k}.jpg")).shape[1] for k in range(3)]
    face_widths = [share * 640 for share in door_crops.VIEW_SHARES[:3]]
    for width, face in zip(widths, face_widths):
        assert 0.95 * face < width < 1.6 * face
    assert widths[2] > widths[0] > widths[1]  # nearer and farther than the evaluation's view


def test_only_faces_the_crops_folder_holds_are_cut(site, tmp_path):
    crops = tmp_path / "scenes_crops"
    write_crops(crops / "without_mask", [f"{BARE}_0.jpg"])
    (crops / "with_mask").mkdir()
    out = tmp_path / "door_crops"
    assert door_crops.main([str(site), "--out", str(out), "--views", "1", "--only-in", str(crops)]) == 0
    assert names_in(out) == {"with_mask": [], "without_mask": [f"{BARE}_0_v0"], "with_incorrect_mask": []}


def test_door_crops_follow_the_split_of_their_photo(site, tmp_path):
    crops = tmp_path / "scenes_crops"
    write_crops(crops / "without_mask", [f"{BARE}_0.jpg"])
    write_crops(crops / "with_mask", [f"{MASKED}_1.jpg"])
    out = tmp_path / "door_crops"
    assert door_crops.main([str(site), "--out", str(out), "--views", "2"]) == 0
    samples = find_samples([crops, out])
    assert len(samples) == 6
    split = dict(zip((s.path.stem for s in samples), split_samples(samples, seed=1)))
    for photo, index in ((BARE, 0), (MASKED, 1)):
        assert split[f"{photo}_{index}_v0"] == split[f"{photo}_{index}_v1"] == split[f"{photo}_{index}"]


def test_a_missing_crops_folder_is_a_one_line_error(site, tmp_path, capsys):
    assert door_crops.main([str(site), "--out", str(tmp_path / "o"), "--only-in", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: crops folder") and "nope" in err and "\n" not in err


def test_an_output_folder_that_cannot_be_made_is_a_one_line_error(site, tmp_path, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    assert door_crops.main([str(site), "--out", str(blocker / "crops")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"error: cannot create {blocker / 'crops'}") and "\n" not in err
