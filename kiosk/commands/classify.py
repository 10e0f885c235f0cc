"""Classify face-crop images as with_mask / without_mask / with_incorrect_mask.

Each image is taken as ONE face crop (the whole image; no face detection). Folders are searched
recursively for images. Prints one line per file: a readable summary, or with --json one object
  {"path": ..., "label": "with_mask" | "without_mask" | "with_incorrect_mask", "score": 0..1}
where score is the confidence of that label. A file that cannot be read gives
{"path": ..., "error": ...} and the run carries on; the exit code is 0 whenever the run could be
done, non-zero (with one line on stderr) for bad usage or an unusable model.

examples:
  python main.py classify crops/ --json > labels.jsonl
  python main.py classify face.jpg --model models/
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Iterable, Iterator, TextIO

import numpy as np

from kiosk.commands.options import add_model_options, load_command_config, model_dir_of
from kiosk.vision.classifier import MaskClassifier
from kiosk.errors import KioskError
from kiosk.camera.media import DEFAULT_MAX_IMAGE_PIXELS, IMAGE_EXTENSIONS, MediaError, iter_media_files, read_image

log = logging.getLogger("kiosk.classify")

BATCH_SIZE = 64  # crops per interpreter call: amortises the call overhead, bounds memory


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", metavar="PATH", help="face-crop image or folder (searched recursively)")
    parser.add_argument("--json", action="store_true", help="print one JSON object per file")
    add_model_options(parser)


def _batches(paths: Iterable[Path], size: int) -> Iterator[list[Path]]:
    batch: list[Path] = []
    for path in paths:
        batch.append(path)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _line(record: dict, as_json: bool) -> str:
    if as_json:
        return json.dumps(record)
    if "error" in record:
        return f"{record['path']}: ERROR {record['error']}"
    return f"{record['path']}: {record['label']} ({record['score'] * 100:.1f}%)"


def classify_paths(classifier: MaskClassifier, paths: Iterable[Path], out: TextIO, as_json: bool,
                   max_pixels: int = DEFAULT_MAX_IMAGE_PIXELS) -> tuple[int, int]:
    """Classify and print every file; returns (files classified, files with errors)."""
    done = errors = 0
    for batch in _batches(paths, BATCH_SIZE):
        records: list[dict] = []
        crops, slots = [], []
        for path in batch:
            try:
                crops.append(read_image(path, max_pixels))
                slots.append(len(records))
                records.append({"path": str(path)})
            except MediaError as exc:
                records.append({"path": str(path), "error": str(exc)})
        probabilities = classifier.predict_faces(crops) if crops else np.zeros((0, 0))
        for slot, row in zip(slots, probabilities):
            label, score, _ = classifier.label_of(row)
            records[slot].update(label=label, score=round(score, 4))
        for record in records:
            print(_line(record, as_json), file=out, flush=False)
            if "error" in record:
                errors += 1
                log.warning("%s", record["error"])
            else:
                done += 1
        out.flush()
    return done, errors


def run(args: argparse.Namespace) -> int:
    cfg = load_command_config(args)
    classifier = MaskClassifier(model_dir_of(cfg))  # ModelLoadError (a KioskError) -> one line, exit 2
    paths = iter_media_files([Path(p) for p in args.paths], IMAGE_EXTENSIONS)
    done, errors = classify_paths(classifier, paths, sys.stdout, args.json, cfg.camera.max_image_pixels)
    log.info("classified %d file(s), %d error(s)", done, errors)
    if done + errors == 0:
        raise KioskError("no image files found in " + " ".join(args.paths))
    return 0
