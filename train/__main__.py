"""Train the mask classifier: python -m train --data DIR [--data DIR ...] [--out models/]

Each DIR holds one folder per class (with_mask/, without_mask/, optional with_incorrect_mask/).
Writes the Keras model, its TFLite export, model_card.json and PNG curves/confusion matrices.
"""

from __future__ import annotations

import argparse
import json
import logging
import shlex
import sys
from pathlib import Path
from typing import Optional, Sequence

from kiosk.errors import KioskError
from kiosk.logging_setup import add_logging_options, setup_logging
from kiosk.vision.model_spec import DEFAULT_MODEL_DIR

log = logging.getLogger("train")


def _dataset_weight(text: str) -> tuple[str, float]:
    from train.training import parse_dataset_weight

    try:
        return parse_dataset_weight(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _number_between(low: float, high: float, what: str):
    """An argparse type: a float in [low, high], else a one-line usage error naming ``what``."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            value = low - 1.0
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"expected {what} between {low:g} and {high:g}, got {text!r}")
        return value
    return parse


def build_parser() -> argparse.ArgumentParser:
    from train.synthetic_masks import INCORRECT_SHARE
    from train.training import DEFAULT_ZOOM

    parser = argparse.ArgumentParser(prog="python -m train", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, action="append", required=True, help="dataset folder (repeatable)")
    parser.add_argument("--out", type=Path, default=DEFAULT_MODEL_DIR, help="model folder (default: models/)")
    parser.add_argument("--input-size", type=int, default=64, help="square model input in pixels (default 64)")
    parser.add_argument("--crop-margin", type=float, default=0.1, help="detector box margin stored in the card")
    parser.add_argument("--epochs", type=int, default=30, help="maximum epochs (early stopping ends sooner)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--width", type=int, default=16, help="filters of the first conv block")
    parser.add_argument("--stem-stride", type=int, choices=[1, 2], default=2,
                        help="stride of the first conv (1: full-resolution detail, slower)")
    parser.add_argument("--learning-rate", type=float, default=2e-3, help="peak Adam learning rate (default 0.002)")
    parser.add_argument("--schedule", choices=["cosine", "plateau"], default="cosine",
                        help="cosine: warm-up then cosine decay over --epochs (default); plateau: halve on stalled val loss")
    parser.add_argument("--head", choices=["gap", "flatten"], default="gap",
                        help="gap: global average pooling (default); flatten: small dense layer over the final feature map")
    parser.add_argument("--label-smoothing", type=float, default=0.0, metavar="S",
                        help="spread this share of each training target over the other classes (default 0: off)")
    parser.add_argument("--colour", action="store_true",
                        help="train on colour crops: a reference twin only, the kiosk's model stays grayscale")
    parser.add_argument("--mine-with", type=Path, metavar="MODEL_DIR",
                        help="hard-example mining: weight up the training faces this earlier model gets wrong "
                             "or nearly wrong (within --mine-margin of its threshold)")
    parser.add_argument("--mine-factor", type=_number_between(1, 20, "a weight factor"), default=3.0, metavar="F",
                        help="how many times a hard face counts (default 3)")
    parser.add_argument("--mine-margin", type=_number_between(0, 0.5, "a margin"), default=0.1, metavar="M",
                        help="P(with_mask) this close to the mining model's threshold is hard too (default 0.1)")
    parser.add_argument("--patience", type=int, default=6, help="early-stopping patience in epochs")
    parser.add_argument("--seed", type=int, default=1234)
    parser.add_argument("--augment-strength", type=float, default=1.0, help="scale of all augmentation ranges")
    parser.add_argument("--zoom", type=float, default=DEFAULT_ZOOM,
                        help=f"random zoom range, not scaled by --augment-strength (default {DEFAULT_ZOOM})")
    parser.add_argument("--synthetic-masks", type=_number_between(0, 2, "a twin rate"), default=0.0, metavar="R",
                        help="painted-mask twins per bare training face, 0..2 on average: up to 1, one twin with "
                             "chance R, worn correctly or below the nose; above 1, also a pair (one worn correctly, "
                             "one wrongly) with chance R-1 (training split only; default 0)")
    parser.add_argument("--twin-incorrect-share", type=_number_between(0, 1, "a share"), default=INCORRECT_SHARE, metavar="S",
                        help=f"share of single painted twins worn wrongly, below the nose or on the chin "
                             f"(0..1, default {INCORRECT_SHARE})")
    parser.add_argument("--mask-patterns", type=_number_between(0, 1, "a share"), default=0.0, metavar="S",
                        help="share of painted masks that are patterned cloth: checks, stripes, dots, prints "
                             "(0..1, default 0)")
    parser.add_argument("--weight", type=_dataset_weight, action="append", default=[], metavar="NAME=W",
                        help="extra sample weight for a dataset folder name, e.g. scenes_crops=2")
    parser.add_argument("--max-false-accept", type=float, default=0.05,
                        help="per-face false-accept rate the validation-chosen threshold must keep on every dataset "
                             "(default 0.05; the kiosk's multi-frame vote lowers the per-decision rate further)")
    parser.add_argument("--threads", type=int, default=2, help="TensorFlow intra-op threads")
    parser.add_argument("--size-measurement", type=Path, help="JSON written by train.measure_size to embed in the card")
    add_logging_options(parser)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    setup_logging(args.log_level)
    from train.hard_examples import Mining
    from train.training import TrainSettings, run_training

    try:
        measurement = json.loads(args.size_measurement.read_text()) if args.size_measurement else None
        settings = TrainSettings(
            data=args.data, out=args.out, input_size=args.input_size, crop_margin=args.crop_margin,
            epochs=args.epochs, batch_size=args.batch_size, seed=args.seed, width=args.width, stem_stride=args.stem_stride, head=args.head,
            label_smoothing=args.label_smoothing, grayscale=not args.colour,
            mining=Mining(args.mine_with, args.mine_factor, args.mine_margin) if args.mine_with else None,
            learning_rate=args.learning_rate, schedule=args.schedule, patience=args.patience, augment_strength=args.augment_strength, zoom=args.zoom,
            synthetic_masks=args.synthetic_masks, twin_incorrect_share=args.twin_incorrect_share, mask_patterns=args.mask_patterns, dataset_weights=dict(args.weight),
            max_false_accept=args.max_false_accept,
            threads=args.threads, command=shlex.join(["python", "-m", "train", *argv]), size_measurement=measurement,
        )
        run_training(settings)
    except KioskError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (OSError, json.JSONDecodeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
