"""Re-choose a trained model's mask threshold on its VALIDATION split and refresh its card.

python -m train.threshold [--model DIR] [--max-false-accept 0.05]

The threshold trades false accepts (no / incorrect mask let in) against false rejects (masked
people refused). An operator may need another trade-off than the one used at training time;
this recomputes the split from the card, picks the threshold on validation faces only (TFLite
path), and rewrites the card's spec threshold, validation and test figures. Test figures are
reported, never used for the choice.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from dataclasses import replace
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from kiosk.vision.classifier import MaskClassifier
from kiosk.errors import KioskError
from kiosk.logging_setup import setup_logging
from kiosk.vision.model_spec import DEFAULT_MODEL_DIR, MODEL_CARD_NAME
from train.dataset import DatasetError, find_samples, label_indices, load_inputs
from train.evaluate import predict_all, select_split
from train.metrics import choose_threshold, format_report
from train.plots import plot_confusions
from train.training import CONFUSION_PNG, portrait_check, split_report


def retune(model_dir: Path, max_false_accept: float, command: str) -> dict:
    classifier = MaskClassifier(model_dir)
    card, classes = classifier.card, list(classifier.spec.classes)
    try:
        samples = find_samples([Path(p) for p in card["data"]["folders"]])
    except DatasetError as exc:
        if card["data"].get("preparation"):  # made before training (door crops): say how
            raise DatasetError(f"{exc}; the model card's data.preparation says how it was made") from None
        raise
    scored = {}
    for split in ("val", "test"):
        loaded = load_inputs(select_split(samples, card, split), classifier.spec)
        scored[split] = (loaded.samples, predict_all(classifier, loaded.inputs))
    val_samples, val_probs = scored["val"]
    datasets = np.array([s.dataset for s in val_samples])
    y_val = label_indices(val_samples, classes)
    parts = [(val_probs[datasets == d], y_val[datasets == d]) for d in sorted(set(datasets))]
    threshold, info = choose_threshold(parts, classes, max_false_accept)
    spec = replace(classifier.spec, mask_threshold=threshold)
    card["spec"] = spec.to_card_section()
    card["training"]["threshold_selection"] = {"max_false_accept": max_false_accept, **info, "chosen_by": command,
                                               "engine": "tflite"}
    card["validation"] = split_report(val_samples, val_probs, classes, threshold)
    card["test"] = split_report(*scored["test"], classes, threshold)
    card_path = Path(model_dir) / MODEL_CARD_NAME
    card_path.write_text(json.dumps(card, indent=1), encoding="utf-8")
    card.setdefault("checks", {})["portrait"] = portrait_check(MaskClassifier(model_dir))  # at the new threshold
    card_path.write_text(json.dumps(card, indent=1), encoding="utf-8")
    panels = [("test: all", card["test"]["all"]["confusion"])]
    panels += [(f"test: {k}", v["confusion"]) for k, v in card["test"]["by_dataset"].items()]
    plot_confusions(panels, classes, Path(model_dir) / CONFUSION_PNG)
    return card


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="python -m train.threshold", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL_DIR, help="model folder (default: models/)")
    parser.add_argument("--max-false-accept", type=float, default=0.05,
                        help="per-face false-accept rate allowed on every validation dataset (default 0.05)")
    args = parser.parse_args(argv)
    setup_logging("WARNING")
    try:
        card = retune(args.model, args.max_false_accept, shlex.join(["python", "-m", "train.threshold", *argv]))
    except KioskError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    classes = card["classes"]
    print(f"mask threshold {card['spec']['mask_threshold']:.2f} (validation: {card['training']['threshold_selection']})")
    print(f"demo portrait check: {card['checks']['portrait']}")
    for name, report in [("test all", card["test"]["all"]), *(("test " + k, v) for k, v in card["test"]["by_dataset"].items())]:
        print(format_report(name, report, classes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
