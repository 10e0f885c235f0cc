"""Benchmark of the analysis pipeline, and of "the seeds' way" it replaced, on one CPU core.

    python -m tools.bench [--frames N] [--config FILE] [--model DIR] [--detector NAME]

1. Per-frame latency (p50/p95) and fps at 640x480 with 0, 1 and 3 faces, for detection,
   classification and the whole pipeline separately (OpenCV and the interpreter on 1 thread).
2. The seeds' way on the same frames: stock Haar (scaleFactor 1.1, minNeighbors 5) on the full
   frame, then Keras ``model.predict`` once per face. TensorFlow is imported only for this part.
3. A whole run over a generated video, start-up included: ``main.py analyze VIDEO --json`` against
   a script doing the seeds' way (``import tensorflow``, model load, per-face predict), as
   subprocesses; prints the speed-up factor.

Frames are synthetic (the public-domain portrait, with and without a drawn mask), so the
figures can be reproduced on a fresh clone.
"""

from __future__ import annotations

import argparse
import itertools
import logging
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Callable, Optional

import cv2
import numpy as np

from kiosk.commands.options import add_pipeline_options, load_command_config, model_dir_of
from kiosk.config import PROJECT_ROOT, Config
from kiosk.vision.detection.motion import MotionGatedDetector
from kiosk.logging_setup import setup_logging
from kiosk.vision.model_spec import KERAS_MODEL_NAME
from kiosk.vision.pipeline import FrameAnalyzer, build_analyzer
from kiosk.vision.preprocessing import crop_face
from kiosk.camera.synthetic import camera_noise, load_portrait, masked_portrait, place_on_canvas
from kiosk.camera.video_io import VideoWriter

log = logging.getLogger("tools.bench")

FRAME_SIZE = (640, 480)
WARMUP_CALLS = 3

# The seeds' way as a stand-alone script, run in its own process so its start-up (importing
# TensorFlow, loading the Keras model) is part of the measured time, as it was for the seeds.
SEEDS_SCRIPT = """
import json, sys
import cv2
import tensorflow as tf
from kiosk.vision.model_spec import load_model_spec
from kiosk.vision.preprocessing import to_model_input

video, keras_path, model_dir = sys.argv[1:4]
model = tf.keras.models.load_model(keras_path)
spec = load_model_spec(model_dir)
cascade = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")
capture = cv2.VideoCapture(video)
index = 0
while True:
    ok, frame = capture.read()
    if not ok:
        break
    gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    faces = []
    for (x, y, w, h) in cascade.detectMultiScale(gray, 1.1, 5):
        probs = model.predict(to_model_input(frame[y:y + h, x:x + w], spec)[None], verbose=0)[0]
        faces.append({"box": [int(x), int(y), int(w), int(h)], "probs": [round(float(p), 4) for p in probs]})
    print(json.dumps({"path": video, "frame": index, "faces": faces}))
    index += 1
"""


# --- synthetic scenes ---------------------------------------------------------------------

def textured_background(size: tuple[int, int] = FRAME_SIZE, seed: int = 0) -> np.ndarray:
    """A muted, blotchy wall: a flat frame would make detection unrealistically cheap."""
    width, height = size
    rng = np.random.default_rng(seed)
    coarse = rng.normal(0, 25, (height // 12, width // 12, 1)) + np.array([150, 160, 170]) + rng.normal(0, 6, (height // 12, width // 12, 3))
    wall = cv2.resize(np.clip(coarse, 0, 255).astype(np.uint8), (width, height), interpolation=cv2.INTER_CUBIC)
    return cv2.GaussianBlur(wall, (0, 0), 3)


def compose_scene(people: list[tuple[np.ndarray, float, tuple[int, int]]],
                  size: tuple[int, int] = FRAME_SIZE) -> np.ndarray:
    """A frame with each (image, scale, offset) pasted onto the textured background."""
    frame = textured_background(size)
    for image, scale, offset in people:
        placed, _, (x0, y0) = place_on_canvas(image, size, scale, offset)
        h, w = round(image.shape[0] * scale), round(image.shape[1] * scale)
        x1, y1 = max(0, x0), max(0, y0)
        x2, y2 = min(size[0], x0 + w), min(size[1], y0 + h)
        frame[y1:y2, x1:x2] = placed[y1:y2, x1:x2]
    return frame


def bench_scenes() -> dict[str, np.ndarray]:
    """The three 640x480 scenes: nobody, one person close up, three people further away.

    The three are unmasked (one mirrored) so that every detector, the stock one too, finds and
    classifies all three: the seeds' way is then timed on as many faces as ours.
    """
    plain = load_portrait()
    return {
        "0 faces": compose_scene([]),
        "1 face": compose_scene([(plain, 0.8, (0, 0))]),
        "3 faces": compose_scene([(plain, 0.36, (-205, 0)), (plain[:, ::-1], 0.36, (0, 10)), (plain, 0.36, (205, -10))]),
    }


# --- timing -------------------------------------------------------------------------------

def time_calls(call: Callable[[], object], repeats: int) -> np.ndarray:
    """Milliseconds per call, after a few warm-up calls."""
    for _ in range(min(WARMUP_CALLS, max(1, repeats // 10))):
        call()
    samples = np.empty(repeats)
    for i in range(repeats):
        start = time.perf_counter()
        call()
        samples[i] = (time.perf_counter() - start) * 1000.0
    return samples


def format_row(scene: str, stage: str, samples_ms: Optional[np.ndarray], note: str = "") -> str:
    if samples_ms is None:
        return f"{scene:<8} {stage:<16} {'-':>8} {'-':>8} {'-':>8}  {note}"
    p50, p95 = np.percentile(samples_ms, [50, 95])
    fps = 1000.0 / float(np.mean(samples_ms))
    return f"{scene:<8} {stage:<16} {p50:8.2f} {p95:8.2f} {fps:8.1f}  {note}".rstrip()


TABLE_HEADER = f"{'scene':<8} {'stage':<16} {'p50 ms':>8} {'p95 ms':>8} {'fps':>8}"


def bench_pipeline(analyzer: FrameAnalyzer, scenes: dict[str, np.ndarray], frames: int) -> dict[str, float]:
    """Detection, classification and the whole pipeline, per scene; returns pipeline fps per scene."""
    print(TABLE_HEADER)
    pipeline_fps = {}
    margin = analyzer.classifier.spec.crop_margin
    for name, frame in scenes.items():
        reset = getattr(analyzer.detector, "reset", None)
        if reset is not None:  # a tracker starts each scene afresh, not with the last scene's faces
            reset()
        boxes = analyzer.detector.detect(frame)
        print(format_row(name, "detection", time_calls(lambda: analyzer.detector.detect(frame), frames),
                         f"{len(boxes)} found"))
        if boxes:
            crops = [crop_face(frame, box, margin) for box in boxes]
            print(format_row(name, "classification", time_calls(lambda: analyzer.classifier.predict_faces(crops), frames),
                             f"{len(crops)} crops, 1 call"))
        else:
            print(format_row(name, "classification", None, "no face to classify"))
        samples = time_calls(lambda: analyzer.analyze(frame), frames)
        pipeline_fps[name] = 1000.0 / float(np.mean(samples))
        print(format_row(name, "pipeline", samples))
    return pipeline_fps


def bench_idle(analyzer: FrameAnalyzer, stage: str, frames: int) -> float:
    """Nobody at the door, as a camera sees it: the empty scene with fresh sensor noise in every
    frame (repeating one identical frame would flatter the motion gate). Returns pipeline fps."""
    rng = np.random.default_rng(0)
    wall = textured_background()
    noisy = itertools.cycle([camera_noise(wall, rng) for _ in range(min(frames, 60))])
    detector = analyzer.detector
    tracker = detector.inner if isinstance(detector, MotionGatedDetector) else detector
    detector.reset()
    full_scans_before, calls = tracker.full_scans, []
    samples = time_calls(lambda: calls.append(analyzer.analyze(next(noisy))), frames)
    note = f"camera noise, {tracker.full_scans - full_scans_before} whole-frame scans in {len(calls)} frames"
    print(format_row("idle", stage, samples, note))
    return 1000.0 / float(np.mean(samples))


def keras_model_path(cfg: Config) -> Path:
    return model_dir_of(cfg) / KERAS_MODEL_NAME


def bench_seeds_way(cfg: Config, spec, scenes: dict[str, np.ndarray], frames: int) -> dict[str, float]:
    """Stock Haar (1.1, 5) on the full frame + one Keras ``model.predict`` per face, 1 thread."""
    path = keras_model_path(cfg)
    if not path.is_file():
        print(f"skipped: no Keras model at {path}")
        return {}
    started = time.perf_counter()
    import tensorflow as tf  # only here: the product never imports TensorFlow

    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    model = tf.keras.models.load_model(path)
    print(f"import tensorflow + load {path.name}: {time.perf_counter() - started:.2f} s")
    from kiosk.vision.preprocessing import to_model_input

    cascade = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")

    def seeds_detect(frame: np.ndarray):
        return cascade.detectMultiScale(cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY), 1.1, 5)

    def seeds_frame(frame: np.ndarray) -> None:
        for (x, y, w, h) in seeds_detect(frame):
            model.predict(to_model_input(frame[y:y + h, x:x + w], spec)[None], verbose=0)

    print(TABLE_HEADER)
    seeds_fps = {}
    for name, frame in scenes.items():
        boxes = seeds_detect(frame)
        print(format_row(name, "detection", time_calls(lambda: seeds_detect(frame), frames), f"{len(boxes)} found"))
        if len(boxes):
            crops = [to_model_input(frame[y:y + h, x:x + w], spec)[None] for (x, y, w, h) in boxes]
            print(format_row(name, "classification",
                             time_calls(lambda: [model.predict(c, verbose=0) for c in crops], frames),
                             f"{len(crops)} predict calls"))
        else:
            print(format_row(name, "classification", None, "no face to classify"))
        samples = time_calls(lambda: seeds_frame(frame), frames)
        seeds_fps[name] = 1000.0 / float(np.mean(samples))
        print(format_row(name, "whole frame", samples))
    return seeds_fps


# --- whole run on a video -----------------------------------------------------------------

def write_bench_video(path: Path, frames: int, fps: float = 25.0) -> Path:
    """A person walking across the door, unmasked then masked, as a real video file."""
    plain, masked = load_portrait(), masked_portrait()
    with VideoWriter(path, fps) as writer:
        for i in range(frames):
            person = plain if i < frames // 2 else masked
            shift = int(120 * np.sin(2 * np.pi * i / max(frames, 1)))
            writer.write(compose_scene([(person, 0.8, (shift, 0))]))
    return writer.path


def write_photo_video(path: Path, folder: Path, frames: int, per_photo: int = 5, fps: float = 25.0) -> Path:
    """A video made of real photos (every image under ``folder``, e.g. a VOC set's images/),
    each letterboxed into 640x480 and held for ``per_photo`` frames: the scene changes every
    fifth of a second, so trackers must rescan, as at a busy door."""
    from kiosk.camera.media import IMAGE_EXTENSIONS, MediaError, iter_media_files, read_image

    photos = iter(iter_media_files([folder], IMAGE_EXTENSIONS))
    with VideoWriter(path, fps) as writer:
        written = 0
        while written < frames:
            try:
                image = read_image(next(photos))
            except StopIteration:
                break
            except MediaError:
                continue
            frame, _, _ = place_on_canvas(image, FRAME_SIZE, scale=min(FRAME_SIZE[0] / image.shape[1],
                                                                      FRAME_SIZE[1] / image.shape[0]))
            for _ in range(min(per_photo, frames - written)):
                writer.write(frame)
                written += 1
    if written == 0:
        raise SystemExit(f"--photos {folder}: no readable images")
    return writer.path


def timed_run(command: list[str], env: dict) -> tuple[float, int, int]:
    """(wall seconds, exit code, JSON lines printed) of a subprocess, start-up included."""
    started = time.perf_counter()
    proc = subprocess.run(command, cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        last = proc.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["(no message)"]
        print(f"  run failed with exit {proc.returncode}: {last[0]}")
    return elapsed, proc.returncode, proc.stdout.count(b"\n")


def bench_whole_run(cfg: Config, args: argparse.Namespace, frames: int) -> Optional[float]:
    keras_path = keras_model_path(cfg)
    model_dir = model_dir_of(cfg)
    with tempfile.TemporaryDirectory(prefix="kiosk-bench-") as tmp:
        if args.photos:
            video = write_photo_video(Path(tmp) / "photos.mp4", Path(args.photos), frames)
        else:
            video = write_bench_video(Path(tmp) / "door.mp4", frames)
        env = dict(os.environ, PYTHONPATH=str(PROJECT_ROOT), TF_CPP_MIN_LOG_LEVEL="3")
        ours = [sys.executable, str(PROJECT_ROOT / "main.py"), "analyze", str(video), "--json",
                "--log-level", "WARNING", "--model", str(model_dir)]
        if args.config:
            ours += ["--config", str(Path(args.config).resolve())]
        if args.detector:
            ours += ["--detector", args.detector]
        what = f"real photos from {args.photos}, 5 frames each" if args.photos else "one person"
        print(f"video: {frames} frames 640x480, {what} ({video.name})")
        ours_s, ours_rc, ours_lines = timed_run(ours, env)
        print(f"ours : main.py analyze {video.name} --json           {ours_s:7.2f} s  "
              f"({ours_lines} lines, exit {ours_rc}, {ours_lines / ours_s:.1f} frames/s overall)")
        if not keras_path.is_file():
            print(f"seeds' way skipped: no Keras model at {keras_path}")
            return None
        seeds_s, seeds_rc, seeds_lines = timed_run(
            [sys.executable, "-c", SEEDS_SCRIPT, str(video), str(keras_path), str(model_dir)], env)
        print(f"seeds: import tensorflow + model.predict per face  {seeds_s:7.2f} s  "
              f"({seeds_lines} lines, exit {seeds_rc}, {seeds_lines / seeds_s:.1f} frames/s overall)")
    if ours_rc != 0 or seeds_rc != 0:
        print("speed-up: not computed, a run failed")
        return None
    speedup = seeds_s / ours_s
    print(f"speed-up: {speedup:.1f}x (whole run, start-up included)")
    return speedup


# --- entry point --------------------------------------------------------------------------

def parse_args(argv: Optional[list[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tools.bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--frames", type=int, default=200, help="timed calls per scene and stage (default 200)")
    parser.add_argument("--seeds-frames", type=int, help="timed calls for the seeds' way (default: frames/4, at least 3)")
    parser.add_argument("--video-frames", type=int,
                        help="length of the generated video (default: --frames, from 10 to 150)")
    add_pipeline_options(parser)
    parser.add_argument("--skip-seeds", action="store_true", help="do not measure the seeds' way (no TensorFlow)")
    parser.add_argument("--skip-video", action="store_true", help="do not run the whole-video comparison")
    parser.add_argument("--photos", metavar="DIR",
                        help="make the whole-run video of the real photos under DIR instead of the generated door scene")
    args = parser.parse_args(argv)
    if args.video_frames is None:
        args.video_frames = min(150, max(10, args.frames))
    for name in ("frames", "video_frames", "seeds_frames"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    return args


def main(argv: Optional[list[str]] = None) -> int:
    args = parse_args(argv)
    setup_logging("WARNING")
    from kiosk.errors import KioskError

    try:
        cfg = load_command_config(args)
        cv2.setNumThreads(1)  # one core: the kiosk's budget, and comparable between machines
        analyzer = build_analyzer(cfg)
    except KioskError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    scenes = bench_scenes()
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    print(f"machine: {os.cpu_count()} cores, load average {load} (other work on the machine slows every figure)")
    print(f"== Pipeline, 1 thread, 640x480: detector {cfg.detection.detector!r}, model {analyzer.classifier.name} ==")
    bench_pipeline(analyzer, scenes, args.frames)
    if cfg.detection.tracking:
        print(f"\n== The same as live video: tracking known faces, whole-frame scan every "
              f"{cfg.detection.full_scan_every} frames (what analyze on videos runs; the kiosk adds the motion gate) ==")
        tracking_only = build_analyzer(replace(cfg, detection=replace(cfg.detection, idle_rescan_every=1)), video=True)
        bench_pipeline(tracking_only, scenes, args.frames)
        if cfg.detection.idle_rescan_every > 1:
            print(f"\n== Live video at an empty door, without and with the kiosk's motion gate "
                  f"(idle_rescan_every = {cfg.detection.idle_rescan_every}) ==")
            bench_idle(tracking_only, "no gate", args.frames)  # bench_idle resets its tracker first
            bench_idle(build_analyzer(cfg, video=True), "motion gate", args.frames)
    if not args.skip_seeds:
        seeds_frames = args.seeds_frames or max(3, args.frames // 4)
        print("\n== The seeds' way, 1 thread: stock Haar (1.1, 5) on the full frame + Keras model.predict per face ==")
        bench_seeds_way(cfg, analyzer.classifier.spec, scenes, seeds_frames)
    if not args.skip_video:
        made_of = "real photos" if args.photos else "a generated door scene"
        print(f"\n== Whole analyze run on a video of {made_of}, start-up included ==")
        bench_whole_run(cfg, args, args.video_frames)
    return 0


if __name__ == "__main__":
    sys.exit(main())
