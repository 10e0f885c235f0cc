"""Would a face-quality gate from BlazeFace's keypoints stop the wrong decisions at the door?

    python -m tools.keypoint_gate_study SITE_DIR [SITE_DIR ...] [--min-size 80] [--model DIR]

The idea: a face turned away, an ear or a half face should not vote; the visitor is asked to
look at the camera instead. Each annotated face (>= --min-size px) becomes the door view of
``main.py evaluate --visits``; BlazeFace finds it, and two keypoint measures are taken:

- yaw: how far the nose tip sits from the middle of the eyes, in eye distances (0 = frontal);
- eyes: the distance between the eyes as a share of the raw box width (small = profile, ear).

The shipped classifier judges the crop at its threshold. For each candidate gate the table
counts the views it would keep from voting, per class, split into those the classifier got right
and wrong: a useful gate holds back many wrong and few right ones.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from kiosk.commands.options import add_model_options, load_command_config, model_dir_of
from kiosk.evaluation.photos import MATCH_IOU
from kiosk.evaluation.visits import door_views
from kiosk.evaluation.voc import iter_scenes
from kiosk.module_cli import module_main
from kiosk.vision.classifier import MaskClassifier
from kiosk.vision.detection.blazeface import BlazeFaceDetector, DetectedFace
from kiosk.vision.detection.boxes import match_boxes
from kiosk.vision.model_spec import KNOWN_CLASSES, WITH_MASK
from kiosk.vision.preprocessing import crop_face

YAW_LIMITS = (0.4, 0.6, 0.8, 1.0)
EYE_LIMITS = (0.0, 0.2, 0.25)


@dataclass(frozen=True)
class GateRow:
    label: str
    right: bool  # the classifier's access decision matches the label
    yaw: float
    eyes: float


def keypoint_measures(face: DetectedFace) -> tuple[float, float]:
    """(|yaw| in eye distances, eye distance / box width) of one detection."""
    right_eye, left_eye, nose = face.keypoints[0], face.keypoints[1], face.keypoints[2]
    eye_distance = float(np.linalg.norm(left_eye - right_eye))
    middle = (right_eye + left_eye) / 2
    return abs(float(nose[0] - middle[0])) / max(eye_distance, 1e-3), eye_distance / max(face.box[2], 1)


def study_rows(sites: Sequence[Path], min_size: int, classifier: MaskClassifier) -> tuple[list[GateRow], int]:
    """One row per found face, and the count of faces BlazeFace missed."""
    detector = BlazeFaceDetector()
    rows, missed = [], 0
    for site in sites:
        for _scene, face, view, view_box in door_views(iter_scenes(site), min_size):
            found = detector.detect_faces(view)
            matched = match_boxes([view_box], [f.box for f in found], MATCH_IOU)
            if 0 not in matched:
                missed += 1
                continue
            detection = found[matched[0]]
            probabilities = classifier.predict_faces([crop_face(view, detection.box, classifier.spec.crop_margin)])[0]
            granted = probabilities[classifier.mask_index] >= classifier.mask_threshold
            yaw, eyes = keypoint_measures(detection)
            rows.append(GateRow(face.label, granted == (face.label == WITH_MASK), yaw, eyes))
    return rows, missed


def wrong_and_right(rows: Sequence[GateRow]) -> str:
    """Per class, how many of ``rows`` the classifier got wrong / right, in the table's columns."""
    return "".join(f"{sum(not r.right for r in rows if r.label == c):>13} / {sum(r.right for r in rows if r.label == c):<8}"
                   for c in KNOWN_CLASSES)


def format_table(rows: Sequence[GateRow]) -> str:
    header = "gate (no vote when)       " + "".join(f"{label:>24}" for label in KNOWN_CLASSES)
    lines = [header, " " * 26 + "".join(f"{'wrong held / right held':>24}" for _ in KNOWN_CLASSES)]
    for yaw_limit in YAW_LIMITS:
        for eye_limit in EYE_LIMITS:
            held = [r for r in rows if r.yaw > yaw_limit or r.eyes < eye_limit]
            lines.append(f"yaw > {yaw_limit:<4} or eyes < {eye_limit:<5}" + wrong_and_right(held))
    lines.append(f"{'all views (wrong / right)':<26}" + wrong_and_right(rows))
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("sites", metavar="SITE_DIR", nargs="+", type=Path, help="PASCAL VOC folders")
    parser.add_argument("--min-size", type=int, default=80, metavar="PX", help="faces at least this wide (default 80)")
    add_model_options(parser)


def run(args: argparse.Namespace) -> int:
    cfg = load_command_config(args)
    classifier = MaskClassifier(model_dir_of(cfg), mask_threshold=cfg.decision.mask_threshold or None)
    rows, missed = study_rows(args.sites, args.min_size, classifier)
    print(f"{len(rows)} door views with the face found, {missed} missed; threshold {classifier.mask_threshold:.2f}")
    print(format_table(rows))
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    return module_main("python -m tools.keypoint_gate_study", __doc__, add_arguments, run, argv)


if __name__ == "__main__":
    sys.exit(main())
