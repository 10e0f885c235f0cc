"""Evaluate a trained mask classifier on labelled face-crop folders.

python -m train.evaluate --data DIR [--data DIR ...] [--model DIR] [--split test|val|train|all] [--keras] [--out DIR]

Uses the kiosk's own TFLite path (``kiosk.vision.classifier.MaskClassifier``) unless --keras is given.
Prints per-class precision/recall/F1, the confusion matrix, balanced accuracy and the false-accept
rate (a face without a correctly worn mask classified as with_mask), overall, per dataset and per
file-name source; writes the same as report.txt, report.json and confusion.png under --out.
With --split test only the held-out test split of a training dataset is scored: the split is
recomputed from file names with the seed stored in the model card, exactly as training made it.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from kiosk.vision.classifier import MaskClassifier
from kiosk.errors import KioskError
from kiosk.logging_setup import add_logging_options, setup_logging
from kiosk.vision.model_spec import DEFAULT_MODEL_DIR, KERAS_MODEL_NAME
from train.dataset import DatasetError, Sample, count_by, find_samples, load_inputs
from train.speed import time_classifier
from train.splits import SPLITS, split_samples

log = logging.getLogger("train.evaluate")

DEFAULT_OUT = Path(__file__).resolve().parent.parent / "artifacts" / "evaluation"


def select_split(samples: list[Sample], card: dict, split: str) -> list[Sample]:
    """The samples of ``split`` as training made it (same seed, fractions and folder names)."""
    if split == "all":
        return samples
    info = card.get("data", {}).get("split")
    if not info:
        raise DatasetError("the model card records no split; use --split all")
    trained_on = {Path(p).name for p in card["data"].get("folders", [])}
    # crops of photos a training dataset holds (train.door_crops) follow those photos' split, so a
    # model trained without them is still scored only on photos it never saw; the training
    # datasets go first, as they did in training, so they keep their own split
    samples = sorted(samples, key=lambda s: s.dataset not in trained_on)
    trained_photos = {s.photo_id for s in samples if s.dataset in trained_on and s.photo_id}
    unknown = sorted({s.dataset for s in samples if s.dataset not in trained_on and s.photo_id not in trained_photos})
    if unknown:
        raise DatasetError(f"dataset {unknown[0]!r} was not used to train this model, nor are its crops of photos "
                           f"that were: use --split all for it")
    assignment = split_samples(samples, int(info["seed"]), tuple(info["fractions"]))
    chosen = [s for s, a in zip(samples, assignment) if a == split]
    expected = card["data"].get("counts", {}).get(split, {})
    found = count_by(chosen, "dataset", "label")
    for dataset, counts in found.items():
        if dataset in expected and expected[dataset] != counts:
            log.warning("%s %s split differs from training (%s now, %s then): files changed since training",
                        dataset, split, counts, expected[dataset])
    return chosen


class KerasModel:
    """The Keras model behind the same predict_batch interface (for comparison with TFLite)."""

    def __init__(self, model_dir: Path, spec) -> None:
        import keras

        path = Path(model_dir) / KERAS_MODEL_NAME
        try:
            self.model = keras.models.load_model(path)
        except (OSError, ValueError) as exc:
            raise KioskError(f"cannot load Keras model {path}: {str(exc).splitlines()[0]}") from None
        self.spec = spec

    def predict_batch(self, batch: np.ndarray) -> np.ndarray:
        return self.model.predict(batch, batch_size=256, verbose=0)


def predict_all(model, inputs: np.ndarray, batch: int = 64) -> np.ndarray:
    parts = [model.predict_batch(inputs[i:i + batch]) for i in range(0, len(inputs), batch)]
    return np.concatenate(parts) if parts else np.zeros((0, len(model.spec.classes)), np.float32)


def evaluate(data: Sequence[Path], model_dir: Path, split: str, use_keras: bool, out: Path) -> dict:
    from train.metrics import format_report
    from train.plots import plot_confusions
    from train.training import split_report

    classifier = MaskClassifier(model_dir)
    spec, card = classifier.spec, classifier.card
    samples = select_split(find_samples(data), card, split)
    unknown = sorted({s.label for s in samples} - set(spec.classes))
    if unknown:
        raise DatasetError(f"the data has class {unknown[0]!r} that the model does not know ({list(spec.classes)})")
    loaded = load_inputs(samples, spec)
    if not loaded.samples:
        raise DatasetError("no readable images to evaluate")
    model = KerasModel(model_dir, spec) if use_keras else classifier
    probabilities = predict_all(model, loaded.inputs)
    classes = list(spec.classes)
    result = {
        "model": str(model_dir), "engine": "keras" if use_keras else "tflite", "split": split,
        "threshold": spec.mask_threshold, "skipped_unreadable": len(loaded.skipped),
        **split_report(loaded.samples, probabilities, classes, spec.mask_threshold),
        "speed_one_core": time_classifier(classifier, loaded.inputs, repeats=20),
    }
    blocks = [f"model {classifier.name} via {result['engine']}, split {split}, "
              f"mask threshold {spec.mask_threshold:.2f}, {len(loaded.skipped)} unreadable file(s) skipped"]
    blocks.append(format_report("all", result["all"], classes))
    blocks += [format_report(f"dataset {k}", v, classes) for k, v in result["by_dataset"].items()]
    if len(result["by_source"]) > len(result["by_dataset"]):
        blocks += [format_report(f"source {k}", v, classes) for k, v in result["by_source"].items()]
    blocks.append("TFLite speed on one thread: " + ", ".join(
        f"{v:.3f} ms per face in calls of {k.split('_')[1]}" for k, v in result["speed_one_core"].items()))
    text = "\n".join(blocks)
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.txt").write_text(text + "\n", encoding="utf-8")
    (out / "report.json").write_text(json.dumps(result, indent=1), encoding="utf-8")
    panels = [("all", result["all"]["confusion"])] + [(k, v["confusion"]) for k, v in result["by_dataset"].items()]
    plot_confusions(panels, classes, out / "confusion.png")
    result["text"] = text
    return result


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m train.evaluate", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, action="append", required=True, help="dataset folder (repeatable)")
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL_DIR, help="model folder (default: models/)")
    parser.add_argument("--split", choices=[*SPLITS, "all"], default="all",
                        help="score only this split of the training data (default: all files)")
    parser.add_argument("--keras", action="store_true", help="use the Keras model instead of the TFLite export")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"report folder (default {DEFAULT_OUT})")
    add_logging_options(parser, default="WARNING")
    args = parser.parse_args(argv)
    setup_logging(args.log_level)
    try:
        result = evaluate(args.data, args.model, args.split, args.keras, args.out)
    except KioskError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(result["text"])
    print(f"report written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
