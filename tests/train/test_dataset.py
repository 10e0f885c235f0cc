"""train.dataset and train.splits: folder layout, bad files, grouping and the deterministic split."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from kiosk.errors import KioskError
from kiosk.vision.model_spec import ModelSpec
from train.dataset import DatasetError, class_names, describe_name, find_samples, load_inputs
from train.splits import split_samples, held_out_photo_ids
from tests.helpers.crops import write_crops


def test_loads_class_folders_and_skips_a_corrupt_file(tmp_path):
    root = tmp_path / "faces"
    write_crops(root / "with_mask", ["a_1.jpg", "a_2.png"], 200)
    write_crops(root / "without_mask", ["b_1.jpg"], 50)
    (root / "without_mask" / "broken.jpg").write_bytes(b"not a jpeg at all")
    (root / "without_mask" / "notes.txt").write_text("ignored: not an image extension")

    samples = find_samples([root])
    assert sorted((s.label, s.path.name) for s in samples) == [
        ("with_mask", "a_1.jpg"), ("with_mask", "a_2.png"), ("without_mask", "b_1.jpg"), ("without_mask", "broken.jpg")]
    assert class_names(samples) == ("with_mask", "without_mask")

    data = load_inputs(samples, ModelSpec(input_size=24))
    assert len(data.samples) == 3 and data.inputs.shape == (3, 24, 24, 1)
    assert len(data.skipped) == 1 and "broken.jpg" in data.skipped[0]
    by_name = {s.path.name: x for s, x in zip(data.samples, data.inputs)}
    assert np.allclose(by_name["a_1.jpg"], 200 / 255, atol=0.01) and np.allclose(by_name["b_1.jpg"], 50 / 255, atol=0.01)


def test_empty_class_folder_is_a_clear_error(tmp_path):
    root = tmp_path / "data"
    write_crops(root / "with_mask", ["x.jpg"])
    (root / "without_mask").mkdir()
    with pytest.raises(DatasetError, match=r"without_mask contains no images") as info:
        find_samples([root])
    assert isinstance(info.value, KioskError) and "\n" not in str(info.value)


def test_missing_class_folder_and_missing_dataset_are_clear_errors(tmp_path):
    root = tmp_path / "data"
    write_crops(root / "with_mask", ["x.jpg"])
    with pytest.raises(DatasetError, match="no without_mask/ class folder"):
        find_samples([root])
    with pytest.raises(DatasetError, match="does not exist"):
        find_samples([tmp_path / "nowhere"])


def test_optional_incorrect_mask_folder_is_a_third_class(tmp_path):
    root = tmp_path / "scenes_crops"
    for label in ("with_mask", "without_mask", "with_incorrect_mask"):
        write_crops(root / label, [f"{'ab' * 8}_{label[:5]}.jpg".replace("_with", "_1").replace("_witho", "_2")])
    assert class_names(find_samples([root])) == ("with_mask", "without_mask", "with_incorrect_mask")


def test_names_give_source_group_and_photo():
    photo = "00074ff93568dcf5cf54eaa4e2611f4b"
    assert describe_name(f"{photo}_3", "scenes_crops") == ("scenes_crops", f"scenes_crops/photo:{photo}", photo)
    # scenes_b_crops: Kaggle-style photo ids; the crops of one photo share its group
    assert describe_name("maksssksksss10_0", "scenes_b_crops") == ("scenes_b_crops", "scenes_b_crops/photo:maksssksksss10", "maksssksksss10")
    assert describe_name("maksssksksss10_4", "scenes_b_crops")[1] == describe_name("maksssksksss10_0", "scenes_b_crops")[1]
    # a pasted-mask twin shares the group of its bare original
    assert describe_name("prajnasb_12-with-mask", "faces")[1] == describe_name("prajnasb_12", "faces")[1]
    assert describe_name("chandrikadeb7_0_0_7_copy_2", "faces")[1] == describe_name("chandrikadeb7_0_0_7", "faces")[1]
    assert describe_name("prajnasb_12", "faces")[0] == "faces/prajnasb"
    assert describe_name("plainname", "faces") == ("faces", "faces/plainname", None)


def _scene_like_dataset(tmp_path: Path) -> Path:
    root = tmp_path / "scenes_crops"
    rng = np.random.default_rng(1)
    for p in range(40):
        photo = f"{p:032x}"
        for index in range(int(rng.integers(1, 4))):
            label = ("with_mask", "without_mask", "with_incorrect_mask")[int(rng.integers(0, 3))]
            write_crops(root / label, [f"{photo}_{index}.jpg"])
    return root


def test_split_is_deterministic_grouped_and_stratified(tmp_path):
    samples = find_samples([_scene_like_dataset(tmp_path)])
    first = split_samples(samples, seed=7)
    assert first == split_samples(list(samples), seed=7)
    assert first != split_samples(samples, seed=8)
    split_of_photo: dict[str, set[str]] = {}
    for sample, split in zip(samples, first):
        split_of_photo.setdefault(sample.photo_id, set()).add(split)
    assert all(len(splits) == 1 for splits in split_of_photo.values()), "a photo straddles two splits"
    for label in ("with_mask", "without_mask", "with_incorrect_mask"):
        assert {sp for s, sp in zip(samples, first) if s.label == label} == {"train", "val", "test"}
    share = first.count("train") / len(first)
    assert 0.55 < share < 0.85
    photos = held_out_photo_ids(samples, first)
    assert photos == sorted(photos) and photos
    assert all(split_of_photo[p] == {"test"} for p in photos)


def test_split_of_one_dataset_does_not_depend_on_the_other(tmp_path):
    scenes = _scene_like_dataset(tmp_path)
    faces = tmp_path / "faces"
    write_crops(faces / "with_mask", [f"src_{i}.jpg" for i in range(12)])
    write_crops(faces / "without_mask", [f"src_{i}.jpg" for i in range(20, 26)])
    alone = find_samples([scenes])
    together = find_samples([faces, scenes])
    split_alone = dict(zip((s.path for s in alone), split_samples(alone, 3)))
    split_together = dict(zip((s.path for s in together), split_samples(together, 3)))
    assert all(split_together[path] == split for path, split in split_alone.items())


def test_crops_of_a_photo_in_a_later_dataset_follow_that_photos_split(tmp_path):
    """Detector crops of the scenes photos (``<photo>_<index>_v<k>``) must never put a held-out
    photo's face into training, and must leave the first dataset's own split as it was."""
    scenes = _scene_like_dataset(tmp_path)
    door = tmp_path / "door_crops"
    for path in sorted(scenes.rglob("*.jpg")):
        write_crops(door / path.parent.name, [f"{path.stem}_v{k}.jpg" for k in range(3)])
    write_crops(door / "with_mask", [f"{9999:032x}_0_v0.jpg"])  # a photo only the later dataset has
    write_crops(door / "without_mask", [f"{9998:032x}_0_v0.jpg"])
    alone = find_samples([scenes])
    together = find_samples([scenes, door])
    split_alone = dict(zip((s.path for s in alone), split_samples(alone, 5)))
    split_together = dict(zip((s.path for s in together), split_samples(together, 5)))
    assert all(split_together[path] == split for path, split in split_alone.items())
    split_of_photo = {s.photo_id: split_alone[s.path] for s in alone}
    followers = [s for s in together if s.dataset == "door_crops" and s.photo_id in split_of_photo]
    assert len(followers) == 3 * len(alone)
    assert all(split_together[s.path] == split_of_photo[s.photo_id] for s in followers)
    assert {split_together[s.path] for s in followers} == {"train", "val", "test"}
    own = [s for s in together if s.photo_id not in split_of_photo]
    assert len(own) == 2 and all(split_together[s.path] in ("train", "val", "test") for s in own)


def test_bad_split_fractions_are_rejected(tmp_path):
    samples = find_samples([_scene_like_dataset(tmp_path)])
    with pytest.raises(ValueError, match="fractions"):
        split_samples(samples, 1, (0.5, 0.5, 0.5))
