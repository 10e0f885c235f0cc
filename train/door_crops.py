"""The detector's own crops of a site's annotated faces, as the door sees them: a training set.

    python -m train.door_crops SITE_DIR --out DIR [--only-in CROPS_DIR] [--min-size 40] [--views 3]
                               [--detector NAME]

Why: the classifier learnt from crops of annotated boxes cut from full-resolution photos, but at
the door it judges the detector's box (fitted by ``BoxFit``, yet never the same box) on a camera
view. Here every annotated face at least ``--min-size`` px wide becomes ``--views`` door views
(``kiosk.evaluation.visits.door_view``) at different distances and with the face a little off
centre, the configured detector runs on each view, and the box it finds on that face (IoU >= 0.3)
is cropped exactly as the kiosk crops it and saved as ``DIR/<label>/<photo id>_<index>_v<k>.jpg``.

Give DIR to ``python -m train`` after the crops folder of the same photos (``--data scenes_crops
--data DIR``): its crops then follow their photo's split (``train.splits``), so photos held out of
training stay held out. ``--only-in CROPS_DIR`` keeps only the faces that crops folder holds
(``<label>/<photo id>_<index>.jpg``), so faces a dataset's leakage control dropped stay dropped.
Faces the detector misses are counted, not saved: at the door they get no
decision, whatever the classifier learns.
"""

from __future__ import annotations

import argparse
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Optional, Sequence

import cv2
import numpy as np

from kiosk.camera.media import MediaError, read_image
from kiosk.errors import KioskError
from kiosk.commands.options import add_pipeline_options, int_at_least, load_command_config
from kiosk.evaluation.photos import MATCH_IOU
from kiosk.evaluation.visits import door_view
from kiosk.evaluation.voc import Scene, iter_scenes
from kiosk.module_cli import module_main
from kiosk.vision.detection import FaceDetector, build_detector
from kiosk.vision.detection.boxes import match_boxes
from kiosk.vision.model_spec import KNOWN_CLASSES, load_model_spec
from kiosk.vision.preprocessing import Box, crop_face

log = logging.getLogger(__name__)

# the face's width as a share of the view: nearer and farther than the evaluation's 0.3
VIEW_SHARES = (0.3, 0.22, 0.42, 0.26, 0.36)
MAX_SHIFT = 0.12  # the face off centre by up to this share of its width, each way
JPEG_QUALITY = 95


@dataclass
class CropCounts:
    """What one run wrote, per class: crops saved and door views where the face was not found."""

    saved: dict[str, int] = field(default_factory=dict)
    missed: dict[str, int] = field(default_factory=dict)

    def add(self, label: str, found: bool) -> None:
        counts = self.saved if found else self.missed
        counts[label] = counts.get(label, 0) + 1


def shifted_view(image: np.ndarray, box: Box, share: float, shift: tuple[float, float]) -> tuple[np.ndarray, Box]:
    """A door view with the face ``share`` of its width, moved off centre by ``shift`` (in face
    widths), and the face's true box in that view."""
    x, y, w, h = box
    dx, dy = int(round(shift[0] * w)), int(round(shift[1] * w))
    view, moved = door_view(image, (x + dx, y + dy, w, h), face_share=share)
    scale = moved[2] / float(w)
    return view, (int(round(moved[0] - dx * scale)), int(round(moved[1] - dy * scale)), moved[2], moved[3])


def crops_of_face(image: np.ndarray, box: Box, detector: FaceDetector, margin: float, views: int,
                  rng: np.random.Generator) -> list[Optional[np.ndarray]]:
    """One crop per door view of the face at ``box``; None where the detector missed it."""
    crops: list[Optional[np.ndarray]] = []
    for k in range(views):
        shift = (0.0, 0.0) if k == 0 else tuple(rng.uniform(-MAX_SHIFT, MAX_SHIFT, 2))
        view, truth = shifted_view(image, box, VIEW_SHARES[k % len(VIEW_SHARES)], shift)
        found = detector.detect(view)
        matched = match_boxes([truth], found, MATCH_IOU)
        crops.append(crop_face(view, found[matched[0]], margin) if 0 in matched else None)
    return crops


def crop_names(crops_dir: Path) -> set[str]:
    """``<photo id>_<index>`` of every crop in a crops folder's class folders."""
    if not Path(crops_dir).is_dir():
        raise MediaError(f"crops folder {crops_dir} does not exist")
    return {path.stem for label in KNOWN_CLASSES for path in (Path(crops_dir) / label).glob("*.jpg")}


def save_crop(path: Path, crop: np.ndarray) -> None:
    """Write one crop, its class folder made on first use (an empty class folder is a dataset
    error for training); a folder or file that cannot be written is one line."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise KioskError(f"cannot create {path.parent}: {exc.strerror}") from None
    if not cv2.imwrite(str(path), crop, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY]):
        raise KioskError(f"cannot write {path}")


def write_door_crops(scenes: Iterable[Scene], detector: FaceDetector, out: Path, margin: float,
                     min_size: int = 40, views: int = 3, seed: int = 0,
                     only: Optional[set[str]] = None) -> CropCounts:
    """Write the crops of every annotated face of ``scenes`` at least ``min_size`` px wide (and
    named in ``only``, when given)."""
    counts = CropCounts()
    rng = np.random.default_rng(seed)
    for scene in scenes:
        faces = [(i, f) for i, f in enumerate(scene.faces)
                 if f.box[2] >= min_size and not f.difficult and f.label in KNOWN_CLASSES
                 and (only is None or f"{scene.photo_id}_{i}" in only)]
        if not faces:
            continue
        try:
            image = read_image(scene.image_path)
        except MediaError as exc:
            log.warning("skipped: %s", exc)
            continue
        for index, face in faces:
            for k, crop in enumerate(crops_of_face(image, face.box, detector, margin, views, rng)):
                counts.add(face.label, crop is not None)
                if crop is not None:
                    save_crop(out / face.label / f"{scene.photo_id}_{index}_v{k}.jpg", crop)
    return counts


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("site", metavar="SITE_DIR", help="folder with images/ and annotations/ (PASCAL VOC)")
    parser.add_argument("--out", type=Path, required=True, help="folder for <label>/<photo>_<index>_v<k>.jpg")
    parser.add_argument("--only-in", type=Path, metavar="CROPS_DIR",
                        help="only faces this crops folder holds as <label>/<photo id>_<index>.jpg")
    parser.add_argument("--min-size", type=int_at_least(1, "1 or more"), default=40, metavar="PX",
                        help="faces at least this wide in their photo (default 40)")
    parser.add_argument("--views", type=int_at_least(1, "1 or more"), default=3,
                        help=f"door views per face, at distances {', '.join(map(str, VIEW_SHARES))} ... (default 3)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the off-centre shifts")
    add_pipeline_options(parser)


def run(args: argparse.Namespace) -> int:
    cfg = load_command_config(args)
    margin = load_model_spec(cfg.resolve_path(cfg.model.dir)).crop_margin
    counts = write_door_crops(iter_scenes(Path(args.site)), build_detector(cfg.detection), args.out, margin,
                              args.min_size, args.views, args.seed,
                              crop_names(args.only_in) if args.only_in else None)
    for label in KNOWN_CLASSES:
        log.info("%-20s %5d crops saved, %4d door views where %s missed the face", label,
                 counts.saved.get(label, 0), counts.missed.get(label, 0), cfg.detection.detector)
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    return module_main("python -m train.door_crops", __doc__, add_arguments, run, argv)


if __name__ == "__main__":
    raise SystemExit(main())
