"""Measure how a detector's boxes sit on faces compared with the annotated boxes.

    python -m tools.box_fit_study SCENES_DIR [--detector NAME] [--min-size 60] [--raw]

For every annotated face at least ``--min-size`` px wide that the detector finds (IoU >= 0.3),
it takes the annotated width and height over the detector's, and the vertical offset of the
centres in detector heights, and prints their medians per class and overall. Only photos that
are not held out by the model card are used, so the fit never sees the end-to-end test photos.
The overall medians are the ``BoxFit`` each detector applies (``--raw`` measures the detector
without its current fit, which is how the shipped values were obtained).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from kiosk.commands.options import add_pipeline_options, load_command_config, model_dir_of
from kiosk.vision.detection import build_detector
from kiosk.vision.detection.boxes import BoxFit, match_boxes
from kiosk.errors import KioskError
from kiosk.evaluation.photos import MATCH_IOU, held_out_ids
from kiosk.camera.media import read_image
from kiosk.vision.model_spec import read_model_card
from kiosk.module_cli import module_main
from kiosk.evaluation.voc import iter_scenes


def box_ratios(truth, found) -> tuple[float, float, float]:
    (tx, ty, tw, th), (x, y, w, h) = truth, found
    return tw / w, th / h, ((ty + th / 2) - (y + h / 2)) / h


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("scenes", metavar="SCENES_DIR", help="folder with images/ and annotations/ (PASCAL VOC)")
    add_pipeline_options(parser)
    parser.add_argument("--min-size", type=int, default=60, metavar="PX")
    parser.add_argument("--raw", action="store_true", help="measure the detector without its current box fit")


def run(args: argparse.Namespace) -> int:
    cfg = load_command_config(args)
    detector = build_detector(cfg.detection)
    if args.raw:
        detector.box_fit = BoxFit()
    held_out = held_out_ids(read_model_card(model_dir_of(cfg)))
    scenes = [s for s in iter_scenes(Path(args.scenes)) if s.photo_id not in held_out]
    if not scenes:
        raise KioskError(f"{args.scenes}: no annotated photos outside the held-out set")
    ratios: dict[str, list[tuple[float, float, float]]] = {}
    for scene in scenes:
        frame = read_image(scene.image_path, cfg.camera.max_image_pixels)
        found = detector.detect(frame)
        truth = [face.box for face in scene.faces]
        for ti, fi in match_boxes(truth, found, MATCH_IOU).items():
            if truth[ti][2] >= args.min_size:
                ratios.setdefault(scene.faces[ti].label, []).append(box_ratios(truth[ti], found[fi]))
    print(f"detector {detector.name}{' (raw boxes)' if args.raw else ''}, {len(scenes)} photos not held out,"
          f" faces >= {args.min_size} px; medians of annotated/detected")
    rows = sorted(ratios.items()) + [("all", [r for rs in ratios.values() for r in rs])]
    for label, values in rows:
        width, height, shift = np.median(np.array(values), axis=0) if values else (float("nan"),) * 3
        print(f"  {label:<20} faces {len(values):>5}  width {width:.3f}  height {height:.3f}  shift_y {shift:+.3f}")
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    return module_main("python -m tools.box_fit_study", __doc__, add_arguments, run, argv)


if __name__ == "__main__":
    sys.exit(main())
