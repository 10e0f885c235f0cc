"""Labelled face crops from folders laid out as ``<root>/<class name>/<image>``.

Every training and evaluation run reads data through here, so the rules (which folders are
classes, what a bad file does, which photo or source a crop came from) are the same everywhere.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from kiosk.errors import KioskError
from kiosk.camera.media import IMAGE_EXTENSIONS, MediaError, iter_media_files, read_image
from kiosk.vision.model_spec import KNOWN_CLASSES, WITH_INCORRECT_MASK, WITH_MASK, WITHOUT_MASK, ModelSpec
from kiosk.vision.preprocessing import to_model_input

log = logging.getLogger(__name__)

REQUIRED_CLASSES = (WITH_MASK, WITHOUT_MASK)
OPTIONAL_CLASSES = (WITH_INCORRECT_MASK,)

# crops of annotated photos: "<photo id>_<index>", the photo id a long hex hash (scenes_crops) or
# the Kaggle-style "maksssksksss<N>" (scenes_b_crops), and "<photo id>_<index>_v<view>" for the
# detector's crops of several door views of one face (train.door_crops); crops of one photo must
# share a split
_PHOTO_CROP = re.compile(r"^(?P<photo>[0-9a-f]{16,}|maksssksksss\d+)_(?P<index>\d+)(?:_v\d+)?$")
# variants of one original photo that must stay in the same split (pasted mask, "copy" duplicates)
_VARIANT_SUFFIXES = (re.compile(r"-with-mask$"), re.compile(r"_copy(_\d+)?$"))


class DatasetError(KioskError, ValueError):
    """A dataset folder that cannot be used as training or evaluation data."""


@dataclass(frozen=True)
class Sample:
    """One labelled image file and where it came from."""

    path: Path
    label: str
    dataset: str  # name of the --data folder, e.g. "faces" or "scenes_crops"
    source: str  # finer origin: "<dataset>/<file-name prefix>" or just the dataset
    group: str  # files sharing a group (same photo / same original) never straddle splits
    photo_id: str | None = None  # scenes photo the crop was cut from, when known


def describe_name(stem: str, dataset: str) -> tuple[str, str, str | None]:
    """(source, group, photo id) derived from a file name stem.

    ``<photo id>_<index>`` crops are grouped by photo; ``<source>_<original>`` files are
    grouped by their original stem with known variant suffixes removed.
    """
    match = _PHOTO_CROP.match(stem)
    if match:
        photo = match.group("photo")
        return dataset, f"{dataset}/photo:{photo}", photo
    prefix, sep, rest = stem.partition("_")
    source = f"{dataset}/{prefix}" if sep and prefix and not prefix.isdigit() else dataset
    original = rest if sep else stem
    for suffix in _VARIANT_SUFFIXES:
        original = suffix.sub("", original)
    return source, f"{source}/{original}", None


def find_class_folders(root: Path) -> list[str]:
    """Class names present under ``root``; a clear error if a required one is missing or empty."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"dataset folder {root} does not exist")
    present = [name for name in KNOWN_CLASSES if (root / name).is_dir()]
    for name in REQUIRED_CLASSES:
        if name not in present:
            raise DatasetError(f"dataset {root} has no {name}/ class folder (expected one folder per class)")
    for name in present:
        if not any(iter_media_files([root / name], IMAGE_EXTENSIONS)):
            raise DatasetError(f"class folder {root / name} contains no images")
    return present


def find_samples(roots: Sequence[Path]) -> list[Sample]:
    """All image files of the given dataset folders, labelled by their class folder."""
    samples: list[Sample] = []
    names = [Path(r).resolve().name for r in roots]
    duplicates = [n for n, c in Counter(names).items() if c > 1]
    if duplicates:
        raise DatasetError(f"two --data folders share the name {duplicates[0]!r}; sources must be distinguishable")
    for root in map(Path, roots):
        dataset = root.resolve().name
        for label in find_class_folders(root):
            for path in iter_media_files([root / label], IMAGE_EXTENSIONS):
                source, group, photo = describe_name(path.stem, dataset)
                samples.append(Sample(path, label, dataset, source, group, photo))
    return samples


def class_names(samples: Iterable[Sample]) -> tuple[str, ...]:
    """Classes found, in the canonical order of ``KNOWN_CLASSES``."""
    found = {s.label for s in samples}
    return tuple(c for c in KNOWN_CLASSES if c in found)


def label_indices(samples: Iterable[Sample], classes: Sequence[str]) -> np.ndarray:
    """Each sample's class as its index in ``classes``: the model's output order, stored in the card."""
    order = list(classes)
    return np.array([order.index(s.label) for s in samples], np.int32)


@dataclass
class LoadedData:
    """Prepared model inputs for the samples that could be read."""

    samples: list[Sample]
    inputs: np.ndarray  # (N, size, size, channels) float32, exactly what the model receives
    skipped: list[str]  # one-line reasons for files that could not be read


def load_inputs(samples: Sequence[Sample], spec: ModelSpec) -> LoadedData:
    """Read and prepare every sample with the kiosk's own preprocessing; skip unreadable files."""
    kept: list[Sample] = []
    tensors: list[np.ndarray] = []
    skipped: list[str] = []
    for i, sample in enumerate(samples, 1):
        try:
            tensors.append(to_model_input(read_image(sample.path), spec))
        except (MediaError, ValueError) as exc:
            log.warning("skipping %s", exc if isinstance(exc, MediaError) else f"{sample.path}: {exc}")
            skipped.append(str(exc))
            continue
        kept.append(sample)
        if i % 2000 == 0:
            log.info("read %d/%d images", i, len(samples))
    shape = (0, spec.input_size, spec.input_size, spec.channels)
    inputs = np.stack(tensors) if tensors else np.zeros(shape, np.float32)
    if skipped:
        log.warning("skipped %d unreadable file(s) of %d", len(skipped), len(samples))
    return LoadedData(kept, inputs, skipped)


def count_by(samples: Iterable[Sample], *keys: str) -> dict:
    """Nested counts, e.g. ``count_by(samples, "dataset", "label")`` -> {dataset: {label: n}}."""
    out: dict = {}
    for sample in samples:
        node = out
        for key in keys[:-1]:
            node = node.setdefault(getattr(sample, key), {})
        last = getattr(sample, keys[-1])
        node[last] = node.get(last, 0) + 1
    return out
