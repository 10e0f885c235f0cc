"""Evaluate the kiosk on a site's annotated photos (PASCAL VOC): how will it do at this door?

    main.py evaluate SITE_DIR [--visits] [--config FILE] [--model DIR] [--detector NAME]
                     [--min-size PX] [--photos both|all|held-out] [--json] [--limit N]

SITE_DIR holds images/ and annotations/ (PASCAL VOC).

Whole photos (default): every photo goes through the kiosk's own pipeline; per class it reports
detection recall, label accuracy and the end-to-end share of faces decided right (faces of at
least --min-size px, default 60).

Door visits (--visits): every annotated face of at least --min-size px (default 80) becomes a
640x480 door-camera view, played through the real runtime and decision engine exactly as the
kiosk decides; per class it reports granted, denied, uncertain and no decision, and the time to
decision.

Both report all photos and those the model card lists as held out of training.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import Callable

from kiosk.commands.options import add_pipeline_options, load_command_config, model_dir_of
from kiosk.errors import KioskError
from kiosk.evaluation.photos import (MATCH_IOU, PHOTO_SETS, analyze_scene, format_summary, held_out_ids, run_scenes,
                                     summarize_sets)
from kiosk.config import Config
from kiosk.evaluation.visits import format_visits, iter_photo_set, run_visits, visits_by_set
from kiosk.evaluation.voc import Scene, iter_scenes
from kiosk.vision.model_spec import read_model_card
from kiosk.vision.pipeline import build_analyzer

log = logging.getLogger(__name__)

PHOTO_MIN_SIZE = 60
VISIT_MIN_SIZE = 80


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("scenes", metavar="SCENES_DIR", help="folder with images/ and annotations/ (PASCAL VOC)")
    add_pipeline_options(parser)
    parser.add_argument("--visits", action="store_true",
                        help="play each annotated face as a visitor at the door through the real runtime")
    parser.add_argument("--min-size", type=int, metavar="PX",
                        help="faces at least this wide (default: 60 for photos, where all faces are reported too; 80 for visits)")
    parser.add_argument("--photos", choices=("both",) + PHOTO_SETS, default="both",
                        help="all photos, only those the model card lists as held out, or both (default)")
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of text")
    parser.add_argument("--limit", type=int, metavar="N", help="only the first N photos (a quick look)")


def run(args: argparse.Namespace) -> int:
    cfg = load_command_config(args)
    scenes = list(iter_scenes(Path(args.scenes)))
    if args.limit:
        scenes = scenes[: args.limit]
    if not scenes:
        raise KioskError(f"{args.scenes}: no annotated photos found")
    if args.visits:
        return run_door_visits(args, cfg, scenes)
    min_size = args.min_size or PHOTO_MIN_SIZE
    analyzer = build_analyzer(cfg)
    card = analyzer.classifier.card
    held_out = held_out_ids(card)
    log.info("evaluating %d photos with detector %s and model %s (%d held-out photos in its card)",
             len(scenes), getattr(analyzer.detector, "name", "?"), analyzer.classifier.name, len(held_out))
    outcomes = run_scenes(scenes, lambda scene: analyze_scene(analyzer, scene, cfg.camera.max_image_pixels))
    sets = PHOTO_SETS if args.photos == "both" else (args.photos,)
    summaries = summarize_sets(outcomes, card, sets, min_size, cfg.decision.incorrect_mask_is,
                               analyzer.classifier.spec.classes)
    if args.json:
        print(json.dumps({"detector": getattr(analyzer.detector, "name", "?"), "model": analyzer.classifier.name,
                          "min_size": min_size, "match_iou": MATCH_IOU, "sets": summaries}, indent=1))
        return 0
    print(f"detector {getattr(analyzer.detector, 'name', '?')}, model {analyzer.classifier.name};"
          f" a face counts when a detection overlaps it with IoU >= {MATCH_IOU}")
    print_sets(summaries, lambda summary: summary["photos"], format_summary)
    return 0


def run_door_visits(args: argparse.Namespace, cfg: Config, scenes: list[Scene]) -> int:
    min_size = args.min_size or VISIT_MIN_SIZE
    card = read_model_card(model_dir_of(cfg))
    held_out = held_out_ids(card)
    sets = PHOTO_SETS if args.photos == "both" else (args.photos,)
    outcomes = run_visits(cfg, iter_photo_set(scenes, held_out, args.photos), min_size)
    if not outcomes:
        raise KioskError(f"{args.scenes}: no annotated face is at least {min_size} px wide")
    summaries = visits_by_set(outcomes, held_out, sets)
    header = {"detector": cfg.detection.detector, "model": card.get("date", "undated"), "min_size": min_size,
              "decide_within_s": cfg.decision.decide_within_s}
    if args.json:
        print(json.dumps({**header, "sets": summaries}, indent=1))
        return 0
    print(f"door visits: detector {cfg.detection.detector}, model of {header['model']}, faces >= {min_size} px,"
          f" a decision within {cfg.decision.decide_within_s:g} s or uncertain")
    print_sets(summaries, lambda summary: summary["all_visitors"]["visits"], format_visits)
    return 0


def print_sets(summaries: dict, counted: Callable[[dict], int], format_set: Callable[[str, dict], str]) -> None:
    """Each photo set's report in order; a held-out set with nothing counted says why instead."""
    for name, summary in summaries.items():
        title = "all photos" if name == "all" else "held-out photos (never seen in training)"
        if name == "held-out" and not counted(summary):
            print(f"== {title}: none of these photos is listed in the model card's held-out set ==")
            continue
        print(format_set(title, summary))
