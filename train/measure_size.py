"""Measure candidate input sizes (48..96 px) before choosing ModelSpec.input_size.

python -m train.measure_size --data DIR [--data DIR ...] [--sizes 48 64 96] [--epochs 8] [--out FILE]

For each size: how many training crops would be enlarged (their short side is below the size),
the TFLite cost per face on one thread, the file size, and, with --epochs > 0, the VALIDATION
figures of a short training run at that size (never the test split; costly on a shared CPU). The JSON it writes can be
embedded in the model card with ``python -m train --size-measurement FILE``.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from kiosk.errors import KioskError
from kiosk.logging_setup import setup_logging
from train.__main__ import _dataset_weight
from train.dataset import find_samples

DEFAULT_OUT = Path(__file__).resolve().parent.parent / "artifacts" / "input_size.json"


def short_sides(data: Sequence[Path]) -> dict[str, np.ndarray]:
    """Short side in pixels of every crop, per dataset (unreadable crops are not counted)."""
    import cv2

    from kiosk.camera.media import MediaError, read_image

    sides: dict[str, list[int]] = {}
    for sample in find_samples(data):
        try:
            image = read_image(sample.path, flags=cv2.IMREAD_REDUCED_GRAYSCALE_2)  # half size is enough to count
        except MediaError:
            continue
        sides.setdefault(sample.dataset, []).append(2 * min(image.shape[:2]))
    return {k: np.array(v) for k, v in sides.items()}


def _untrained_classifier(size: int, folder: Path, width: int, stem_stride: int, classes: tuple[str, ...]):
    """The architecture at ``size`` exported to TFLite, for timing only (weights do not change speed)."""
    import json

    from kiosk.vision.classifier import MaskClassifier
    from kiosk.vision.model_spec import MODEL_CARD_NAME, TFLITE_MODEL_NAME, ModelSpec
    from train.export import export_tflite
    from train.model import build_model

    spec = ModelSpec(classes=classes, input_size=size)
    export_tflite(build_model(spec, width=width, stem_stride=stem_stride), spec, folder / TFLITE_MODEL_NAME)
    (folder / MODEL_CARD_NAME).write_text(json.dumps({"spec": spec.to_card_section()}))
    return MaskClassifier(folder)


def measure(data: Sequence[Path], sizes: Sequence[int], epochs: int, weights: dict[str, float],
            width: int = 16, stem_stride: int = 1) -> dict:
    from train.dataset import class_names
    from train.speed import time_classifier
    from train.training import TrainSettings, run_training

    sides = short_sides(data)
    classes = class_names(find_samples(data))
    result: dict = {"command": "python -m train.measure_size " + " ".join(sys.argv[1:]),
                    "architecture": {"width": width, "stem_stride": stem_stride},
                    "short_side_median_px": {k: float(np.median(v)) for k, v in sides.items()}, "sizes": {}}
    for size in sizes:
        entry: dict = {"share_of_crops_enlarged": {k: round(float(np.mean(v < size)), 3) for k, v in sides.items()}}
        with tempfile.TemporaryDirectory() as tmp:
            classifier = _untrained_classifier(size, Path(tmp), width, stem_stride, classes)
            entry["ms_per_face_one_thread"] = time_classifier(classifier, repeats=30, sizes=(1, 16))
            entry["tflite_kb"] = round(classifier.model_path.stat().st_size / 1024)
        if epochs > 0:
            with tempfile.TemporaryDirectory() as tmp:
                card = run_training(TrainSettings(data=list(data), out=Path(tmp), input_size=size, epochs=epochs,
                                                  width=width, stem_stride=stem_stride, dataset_weights=weights))
            entry["validation"] = {name: {"balanced_accuracy": rep["balanced_accuracy"], "access": rep["access"]}
                                   for name, rep in card["validation"]["by_dataset"].items()}
            entry["epochs"] = card["training"]["epochs_run"]
        result["sizes"][str(size)] = entry
    return result


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m train.measure_size", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, action="append", required=True)
    parser.add_argument("--sizes", type=int, nargs="+", default=[48, 64, 96])
    parser.add_argument("--epochs", type=int, default=0, help="short training per size (default 0: speed and sizes only)")
    parser.add_argument("--width", type=int, default=16)
    parser.add_argument("--stem-stride", type=int, choices=[1, 2], default=1)
    parser.add_argument("--weight", type=_dataset_weight, action="append", default=[], metavar="NAME=W")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    setup_logging("WARNING")
    weights = dict(args.weight)
    try:
        result = measure(args.data, args.sizes, args.epochs, weights, args.width, args.stem_stride)
    except KioskError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1), encoding="utf-8")
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
