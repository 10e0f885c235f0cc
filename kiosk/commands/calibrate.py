"""Choose this site's mask threshold from its own annotated photos, and write it to the config.

    main.py calibrate SITE_DIR [--max-false-accept 0.01] [--min-size 80] [--config FILE]
                      [--model DIR] [--detector NAME] [--dry-run] [--json]

SITE_DIR holds images/ and annotations/ (PASCAL VOC) taken at the site. Every annotated face of
at least --min-size px is shown to the kiosk's detector and classifier as a door-camera view, and
the lowest threshold on P(with_mask) that lets at most --max-false-accept of the faces without a
proper mask through is chosen. It is written to the config file as [decision] mask_threshold,
which overrides the model card's threshold; the model card is never changed. The trade-off table
shows what other thresholds would do. Too few labelled faces is an error.
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from kiosk.commands.options import add_pipeline_options, load_command_config
from kiosk.config import DEFAULT_CONFIG_PATH, write_setting
from kiosk.errors import KioskError
from kiosk.evaluation.calibration import (TABLE_THRESHOLDS, choose_threshold, format_tradeoff, score_faces,
                                          tradeoff_row)
from kiosk.evaluation.voc import iter_scenes
from kiosk.vision.pipeline import build_analyzer

log = logging.getLogger(__name__)


def _false_accept(text: str) -> float:
    value = float(text)
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError("must be a number from 0 to below 1, e.g. 0.01")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("site", metavar="SITE_DIR", help="folder with images/ and annotations/ (PASCAL VOC)")
    add_pipeline_options(parser)
    parser.add_argument("--max-false-accept", type=_false_accept, default=0.01, metavar="RATE",
                        help="largest share of faces without a proper mask that may be granted (default 0.01)")
    parser.add_argument("--min-size", type=int, default=80, metavar="PX", help="faces at least this wide (default 80)")
    parser.add_argument("--dry-run", action="store_true", help="print the choice, do not write the config")
    parser.add_argument("--json", action="store_true", help="print one JSON document instead of text")


def run(args: argparse.Namespace) -> int:
    cfg = load_command_config(args)
    scenes = list(iter_scenes(Path(args.site)))
    if not scenes:
        raise KioskError(f"{args.site}: no annotated photos found")
    analyzer = build_analyzer(cfg)
    faces = score_faces(analyzer, scenes, args.min_size, cfg.camera.max_image_pixels)
    incorrect_mask_is = cfg.decision.incorrect_mask_is
    threshold = choose_threshold(faces, args.max_false_accept, incorrect_mask_is)
    rows = [tradeoff_row(faces, t, incorrect_mask_is) for t in sorted({*TABLE_THRESHOLDS, threshold})]
    config_path = Path(args.config) if args.config else (Path(cfg.source_path) if cfg.source_path else DEFAULT_CONFIG_PATH)
    if not args.dry_run:
        write_setting(config_path, "decision", "mask_threshold", threshold)
        log.info("wrote [decision] mask_threshold = %s to %s", threshold, config_path)
    missed = sum(f.mask_probability is None for f in faces)
    if args.json:
        print(json.dumps({"threshold": threshold, "max_false_accept": args.max_false_accept, "faces": len(faces),
                          "not_detected": missed, "card_threshold": analyzer.classifier.spec.mask_threshold,
                          "config": None if args.dry_run else str(config_path), "tradeoff": rows}, indent=1))
        return 0
    print(f"{len(faces)} faces >= {args.min_size} px ({missed} not found by the detector, left out);"
          f" the model card's threshold is {analyzer.classifier.spec.mask_threshold:g}")
    print(format_tradeoff(rows, threshold))
    where = "not written (--dry-run)" if args.dry_run else f"written to {config_path}"
    print(f"chosen: [decision] mask_threshold = {threshold} (false accept <= {args.max_false_accept:g}), {where}")
    return 0
