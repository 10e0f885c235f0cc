"""Measure face-detector variants step by step on PASCAL VOC-annotated photos.

    python -m tools.detection_study SCENES_DIR [--every N] [--min-size 60] [--steps a,b,...] [--json]
                                    [--end-to-end [--model DIR] [--config FILE]]

For each variant: detection recall per class (faces at least ``--min-size`` px wide, IoU >= 0.3
one-to-one), false detections per photo and precision (detections matching no annotated face of
any size), mean CPU ms per photo, and CPU ms per 640x480 frame with one face on one core (the kiosk's
budget: about 12 ms of detection keeps the whole pipeline at 60 fps). The steps run from the stock
cascade up to the tuned default, then the optional BlazeFace.

``--end-to-end`` also classifies what each step finds with the kiosk's model and prints, per class,
the share of faces decided right (masked granted, bare and badly masked not granted) on all photos
and on the photos the model card holds out of training: how far each detection step takes the
kiosk's real target. The extra step ``annotated`` hands the classifier the annotated boxes, a
perfect detector: the most any detector could reach with this classifier.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path
from typing import Callable, Optional, Sequence

import cv2
import numpy as np

from kiosk.vision.classifier import MaskClassifier
from kiosk.commands.options import load_command_config, model_dir_of
from kiosk.vision.detection import FaceDetector
from kiosk.vision.detection.haar import FRONTAL_ALT2, FRONTAL_DEFAULT, HaarDetector, HaarSettings, StockHaarDetector
from kiosk.errors import KioskError
from kiosk.evaluation.photos import PHOTO_SETS, run_scenes, score_photo, score_results, summarize, summarize_sets, timed
from kiosk.module_cli import module_main
from kiosk.camera.media import read_image
from kiosk.vision.pipeline import FrameAnalyzer
from kiosk.camera.synthetic import masked_portrait, place_on_canvas
from kiosk.evaluation.voc import Scene, iter_scenes

log = logging.getLogger("tools.detection_study")

ONLY_DEFAULT = (FRONTAL_DEFAULT,)
BOTH = (FRONTAL_DEFAULT, FRONTAL_ALT2)


def _haar(**settings) -> Callable[[], FaceDetector]:
    settings.setdefault("max_width", 640)  # full resolution unless a step says otherwise
    settings.setdefault("eye_neighbors", 0)  # no eye rescue unless a step says so
    return lambda: HaarDetector(40, HaarSettings(**settings))


def _blazeface(variant: str, **options) -> Callable[[], FaceDetector]:
    def make() -> FaceDetector:
        from kiosk.vision.detection.blazeface import BlazeFaceDetector

        return BlazeFaceDetector(variant, **options)

    return make


# name -> (what changed, factory); in the order of the step table
STEPS: dict[str, tuple[str, Callable[[], FaceDetector]]] = {
    "stock": ("haar-stock: default cascade, (1.1, 5)", lambda: StockHaarDetector(40)),
    "equalise": ("  + histogram equalisation", _haar(cascades=ONLY_DEFAULT, equalize="hist", nms=False)),
    "clahe": ("  + CLAHE instead", _haar(cascades=ONLY_DEFAULT, equalize="clahe", nms=False)),
    "alt2": ("+ alt2 cascade, union + NMS", _haar(cascades=BOTH, equalize="none")),
    "neighbours3": ("+ min_neighbors 3", _haar(cascades=BOTH, equalize="none", min_neighbors=3)),
    "eyes": ("+ mn 5, weak (2-4) kept if an eye shows", _haar(cascades=BOTH, equalize="none", eye_neighbors=2)),
    "eyes-320": ("+ on a 320 px wide copy = default haar", _haar(cascades=BOTH, equalize="none", eye_neighbors=2,
                                                             max_width=320)),
    "clahe-320": ("  + CLAHE (off: flickering false detections)", _haar(cascades=BOTH, equalize="clahe",
                                                                         eye_neighbors=2, max_width=320)),
    "profile": ("  + profile cascade, frame and mirror (mn 5)", _haar(cascades=BOTH, equalize="none", eye_neighbors=2,
                                                              max_width=320, profile_neighbors=5)),
    "blazeface-notiles": ("blazeface short range, whole frame, 0.5", _blazeface("short", min_score=0.5, tiles=False)),
    "blazeface": ("+ square tiles (default blazeface)", _blazeface("short", min_score=0.5)),
    "blazeface-0.4": ("  score threshold 0.4", _blazeface("short", min_score=0.4)),
    "blazeface-zoom": ("  + zoom tiles (zoom_tiles = true)", _blazeface("short", min_score=0.5, zoom_tiles=True)),
    "blazeface-zoom-0.4": ("  + zoom tiles, score threshold 0.4", _blazeface("short", min_score=0.4, zoom_tiles=True)),
    "blazeface-full": ("blazeface-full (full range), 0.5", _blazeface("full", min_score=0.5)),
}
# not a detector: the annotated boxes themselves, the ceiling set by the classifier (end to end only)
ANNOTATED = "annotated"
ANNOTATED_WHAT = "annotated boxes (a perfect detector)"


def kiosk_frame_ms(detector: FaceDetector, repeats: int = 20) -> float:
    """Median CPU ms per call on a 640x480 frame with one masked face, as the kiosk would see.

    CPU time (not wall time) so that other jobs sharing the machine do not inflate the figure.
    """
    frame, _, _ = place_on_canvas(masked_portrait(), (640, 480), 0.6)
    detector.detect(frame)
    times = []
    for _ in range(repeats):
        start = time.process_time()
        detector.detect(frame)
        times.append(time.process_time() - start)
    return 1000 * float(np.median(times))


def measure(detector: FaceDetector, scenes: list[Scene], frames: dict[str, np.ndarray], min_size: int,
            repeats: int = 20) -> dict:
    def one(scene: Scene):
        boxes, seconds, cpu_seconds = timed(lambda: detector.detect(frames[scene.photo_id]))
        return score_photo(scene, boxes, [], seconds, cpu_seconds)

    summary = summarize(run_scenes(scenes, one), min_size)
    summary["kiosk_frame_ms"] = round(kiosk_frame_ms(detector, repeats), 2)
    return summary


def measure_end_to_end(detector: Optional[FaceDetector], classifier: MaskClassifier, scenes: list[Scene],
                       frames: dict[str, np.ndarray], min_size: int, incorrect_mask_is: str) -> dict:
    """Detection + classification of every photo; ``detector=None`` classifies the annotated boxes.

    Returns ``summarize`` figures for all photos and for the card's held-out photos.
    """
    analyzer = FrameAnalyzer(detector, classifier)  # type: ignore[arg-type]

    def one(scene: Scene):
        frame = frames[scene.photo_id]
        if detector is None:
            return score_results(scene, *timed(lambda: analyzer.classify_boxes(frame, [f.box for f in scene.faces])))
        return score_results(scene, *timed(lambda: analyzer.analyze(frame)))

    return summarize_sets(run_scenes(scenes, one), classifier.card, PHOTO_SETS, min_size, incorrect_mask_is,
                          classifier.spec.classes)


def format_row(name: str, what: str, summary: dict, min_size: int) -> str:
    figures = summary["by_size"][f"min_{min_size}px"]
    recalls = " ".join(f"{figures.get(c, {}).get('recall') or 0:>7.3f}"
                       for c in ("with_mask", "without_mask", "with_incorrect_mask"))
    return (f"{name:<18} {what:<40} {recalls} {summary['false_detections_per_photo']:>7.3f}"
            f" {summary['precision'] or 0:>6.3f} {summary['cpu_ms_per_photo_mean']:>8.1f} {summary['kiosk_frame_ms']:>8.1f}")


END_TO_END_CLASSES = (("with_mask", "masked granted"), ("without_mask", "bare denied"),
                      ("with_incorrect_mask", "badmask denied"))


def _share(value: Optional[float]) -> str:
    return "-" if value is None else f"{value:.3f}"


def format_end_to_end_row(name: str, what: str, sets: dict, min_size: int) -> str:
    """Recall and correct-decision rate per class: all photos / held-out photos."""
    size = f"min_{min_size}px"
    cells = []
    for label, _ in END_TO_END_CLASSES:
        recall = sets["all"]["by_size"][size].get(label, {}).get("recall")
        decided = [sets[name]["by_size"][size].get(label, {}).get("correct_decision") for name in ("all", "held-out")]
        cells.append(f"{_share(recall):>6} " + " / ".join(_share(v) for v in decided))
    return f"{name:<18} {what:<40} " + "  ".join(f"{c:>20}" for c in cells)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("scenes", metavar="SCENES_DIR", help="folder with images/ and annotations/ (PASCAL VOC)")
    parser.add_argument("--every", type=int, default=1, metavar="N", help="use every N-th photo (quicker)")
    parser.add_argument("--min-size", type=int, default=60, metavar="PX", help="recall over faces at least this wide")
    parser.add_argument("--steps", default=",".join(STEPS), help=f"comma-separated steps (default all: {','.join(STEPS)})")
    parser.add_argument("--repeats", type=int, default=20, metavar="N", help="timed calls on the 640x480 frame")
    parser.add_argument("--json", action="store_true", help="one JSON line per step instead of the table")
    parser.add_argument("--end-to-end", action="store_true",
                        help=f"also classify with the kiosk's model: correct decisions per step, plus step '{ANNOTATED}'")
    parser.add_argument("--config", metavar="FILE", help="config file for --end-to-end (model, incorrect_mask_is)")
    parser.add_argument("--model", metavar="DIR", help="model folder for --end-to-end (overrides [model] dir)")


def run(args: argparse.Namespace) -> int:
    cv2.setNumThreads(1)  # one core, as budgeted for the kiosk
    names = [n.strip() for n in args.steps.split(",") if n.strip()]
    known = list(STEPS) + ([ANNOTATED] if args.end_to_end else [])
    unknown = [n for n in names if n not in known]
    if unknown:
        raise KioskError(f"unknown step(s) {', '.join(unknown)}; known: {', '.join(known)}")
    classifier, incorrect_mask_is = None, "no_mask"
    if args.end_to_end:
        cfg = load_command_config(args)
        classifier, incorrect_mask_is = MaskClassifier(model_dir_of(cfg)), cfg.decision.incorrect_mask_is
    scenes = list(iter_scenes(Path(args.scenes)))[:: max(1, args.every)]
    if not scenes:
        raise KioskError(f"{args.scenes}: no annotated photos found")
    frames = {scene.photo_id: read_image(scene.image_path) for scene in scenes}
    log.info("%d photos, %d faces", len(scenes), sum(len(s.faces) for s in scenes))
    if not args.json:
        print_header(len(scenes), args.min_size, classifier)
    for name in names:
        what = ANNOTATED_WHAT if name == ANNOTATED else STEPS[name][0]
        log.info("step %s: %s", name, what.strip())
        try:
            detector = None if name == ANNOTATED else STEPS[name][1]()
        except KioskError as exc:
            log.warning("step %s skipped: %s", name, exc)
            continue
        if classifier is not None:
            sets = measure_end_to_end(detector, classifier, scenes, frames, args.min_size, incorrect_mask_is)
            row = {"step": name, "what": what.strip(), "model": classifier.name, "sets": sets}
            text = format_end_to_end_row(name, what, sets, args.min_size)
        else:
            summary = measure(detector, scenes, frames, args.min_size, max(1, args.repeats))
            row = {"step": name, "what": what.strip(), **summary}
            text = format_row(name, what, summary, args.min_size)
        print(json.dumps(row) if args.json else text, flush=True)
    return 0


def print_header(photos: int, min_size: int, classifier: Optional[MaskClassifier]) -> None:
    if classifier is None:
        print(f"{photos} photos; recall of faces >= {min_size} px; FP = false detections per photo;"
              f" ms/photo on these photos; kiosk ms = 640x480 frame, one face, one core")
        print(f"{'step':<18} {'what':<40} {'masked':>7} {'bare':>7} {'badmask':>7} {'FP':>7} {'prec':>6}"
              f" {'ms/photo':>8} {'kiosk ms':>8}")
        return
    print(f"{photos} photos; model {classifier.name}; faces >= {min_size} px; per class: detection recall, then"
          f" the share decided right end to end, all photos / photos held out of training")
    print(f"{'step':<18} {'what':<40} " + "  ".join(f"{title:>20}" for _, title in END_TO_END_CLASSES))


def main(argv: Optional[Sequence[str]] = None) -> int:
    return module_main("python -m tools.detection_study", __doc__, add_arguments, run, argv)


if __name__ == "__main__":
    sys.exit(main())
