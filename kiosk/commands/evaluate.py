"""Evaluate the kiosk on a site's annotated photos (PASCAL VOC): how will it do at this door?

    main.py evaluate SITE_DIR [--config FILE] [--model DIR] [--detector NAME]
                     [--min-size 60] [--photos both|all|held-out] [--json] [--limit N]

SITE_DIR holds images/ and annotations/ (PASCAL VOC). Every photo goes through the kiosk's own
pipeline; per class it reports detection recall, label accuracy and the end-to-end share of
faces decided right, for all photos and for those the model card lists as held out of training.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from kiosk.commands.options import add_pipeline_options, load_command_config
from kiosk.errors import KioskError
from kiosk.evaluation.photos import (MATCH_IOU, PHOTO_SETS, analyze_scene, format_summary, held_out_ids, run_scenes,
                                     summarize_sets)
from kiosk.evaluation.voc import iter_scenes
from kiosk.vision.pipeline import build_analyzer

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("scenes", metavar="SCENES_DIR", help="folder with images/ and annotations/ (PASCAL VOC)")
    add_pipeline_options(parser)
    parser.add_argument("--min-size", type=int, default=60, metavar="PX", help="second report for faces at least this wide")
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
    analyzer = build_analyzer(cfg)
    card = analyzer.classifier.card
    held_out = held_out_ids(card)
    log.info("evaluating %d photos with detector %s and model %s (%d held-out photos in its card)",
             len(scenes), getattr(analyzer.detector, "name", "?"), analyzer.classifier.name, len(held_out))
    outcomes = run_scenes(scenes, lambda scene: analyze_scene(analyzer, scene))
    sets = PHOTO_SETS if args.photos == "both" else (args.photos,)
    summaries = summarize_sets(outcomes, card, sets, args.min_size, cfg.decision.incorrect_mask_is,
                               analyzer.classifier.spec.classes)
    if args.json:
        print(json.dumps({"detector": getattr(analyzer.detector, "name", "?"), "model": analyzer.classifier.name,
                          "min_size": args.min_size, "match_iou": MATCH_IOU, "sets": summaries}, indent=1))
        return 0
    print(f"detector {getattr(analyzer.detector, 'name', '?')}, model {analyzer.classifier.name};"
          f" a face counts when a detection overlaps it with IoU >= {MATCH_IOU}")
    for name in sets:
        title = "all photos" if name == "all" else "held-out photos (never seen in training)"
        if name == "held-out" and not summaries[name]["photos"]:
            print(f"== {title}: none of these photos is listed in the model card's held-out set ==")
            continue
        print(format_summary(title, summaries[name]))
    return 0
