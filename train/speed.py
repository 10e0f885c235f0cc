"""Classification speed of a model through the kiosk's TFLite path, on one thread.

python -m train.speed [--model DIR] [--repeats N]

Prints milliseconds per face for calls with 1, 4, 16 and 64 faces (a frame's faces go to the
model in one call). Figures only: the machine may be shared, so nothing here asserts a limit.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from kiosk.vision.classifier import MaskClassifier
from kiosk.errors import KioskError
from kiosk.vision.model_spec import DEFAULT_MODEL_DIR

BATCH_SIZES = (1, 4, 16, 64)


def time_classifier(classifier: MaskClassifier, inputs: np.ndarray | None = None, repeats: int = 50,
                    sizes: Sequence[int] = BATCH_SIZES) -> dict[str, float]:
    """Best-of-3 mean milliseconds per face for each batch size (best-of resists CPU contention)."""
    spec = classifier.spec
    if inputs is None:
        inputs = np.random.default_rng(0).random((max(sizes), spec.input_size, spec.input_size, spec.channels),
                                                 dtype=np.float32)
    out = {}
    for n in sizes:
        if len(inputs) < n:
            continue
        batch = inputs[:n]
        classifier.predict_batch(batch)  # resize_tensor_input + warm-up
        rounds = []
        for _ in range(3):
            start = time.perf_counter()
            for _ in range(repeats):
                classifier.predict_batch(batch)
            rounds.append((time.perf_counter() - start) / repeats / n * 1000)
        out[f"batch_{n}_ms_per_face"] = round(min(rounds), 4)
    return out


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m train.speed", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=DEFAULT_MODEL_DIR, help="model folder (default: models/)")
    parser.add_argument("--repeats", type=int, default=50)
    args = parser.parse_args(argv)
    try:
        classifier = MaskClassifier(args.model)
    except KioskError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    size_kb = classifier.model_path.stat().st_size / 1024
    load = os.getloadavg()[0]
    print(f"model {classifier.name}: {size_kb:.0f} KB, input {classifier.spec.input_size}px, 1 interpreter thread, "
          f"load average {load:.1f} on {os.cpu_count()} cores")
    for key, value in time_classifier(classifier, repeats=args.repeats).items():
        print(f"  {key.replace('_ms_per_face', '').replace('_', ' ')} faces per call: {value:.3f} ms per face")
    return 0


if __name__ == "__main__":
    sys.exit(main())
