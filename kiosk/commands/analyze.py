"""Find and classify faces in photos, folders (searched recursively) and video files.

Prints one line per image or video frame: a readable summary, or with --json one JSON object
  {"path": ..., "frame": <videos only>, "faces": [{"box": [x, y, w, h], "label": ..., "score": ...}]}
Boxes are pixels of the input as read. A file that cannot be read gives {"path": ..., "error": ...}
and the run carries on; the exit code is 0 whenever the run itself could be done.
With --out DIR, annotated copies (videos too) are written under DIR with the same relative names.

examples:
  python main.py analyze photos/ --json > results.jsonl
  python main.py analyze entrance.mp4 --out annotated/
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional

import cv2
import numpy as np

from kiosk.vision.annotate import draw_results, label_text
from kiosk.commands.options import add_pipeline_options, load_command_config
from kiosk.errors import KioskError
from kiosk.camera.media import (DEFAULT_MAX_IMAGE_PIXELS, IMAGE_EXTENSIONS, VIDEO_EXTENSIONS, error_line, is_video,
                                iter_media_files, read_image)
from kiosk.vision.model_spec import WITH_MASK
from kiosk.vision.pipeline import FrameAnalyzer, build_analyzer
from kiosk.records import FaceResult
from kiosk.camera.video_io import VideoReader, VideoWriter

log = logging.getLogger("kiosk.analyze")

MEDIA_EXTENSIONS = IMAGE_EXTENSIONS | VIDEO_EXTENSIONS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("paths", nargs="+", metavar="PATH", help="image, video or folder (searched recursively)")
    parser.add_argument("--json", action="store_true", help="print one JSON object per image / video frame")
    parser.add_argument("--out", metavar="DIR", help="write annotated copies under DIR (same relative names)")
    add_pipeline_options(parser)
    parser.add_argument("--progress-every", type=int, default=200, metavar="N",
                        help="log progress on stderr every N images/frames (default 200, 0 = never)")


@dataclass
class RunStats:
    """Counters only: a run over thousands of files must not keep per-file results."""

    images: int = 0
    frames: int = 0
    faces: int = 0
    masked: int = 0
    errors: int = 0
    started: float = 0.0

    @property
    def units(self) -> int:
        return self.images + self.frames

    def rate(self) -> float:
        elapsed = time.perf_counter() - self.started
        return self.units / elapsed if elapsed > 0 else 0.0


class Reporter:
    """Writes each result line to stdout and counts it; logs progress every N images/frames."""

    def __init__(self, as_json: bool, progress_every: int, stream=None) -> None:
        self.as_json = as_json
        self.progress_every = progress_every
        self.stream = stream or sys.stdout
        self.stats = RunStats(started=time.perf_counter())

    def _emit(self, record: dict, text: str) -> None:
        self.stream.write((json.dumps(record) if self.as_json else text) + "\n")
        self.stream.flush()  # results reach a pipe as they happen, not at exit

    def faces(self, path: Path, frame_index: Optional[int], results: list[FaceResult]) -> None:
        record: dict = {"path": str(path)}
        if frame_index is not None:
            record["frame"] = frame_index
            self.stats.frames += 1
        else:
            self.stats.images += 1
        record["faces"] = [r.to_json() for r in results]
        self.stats.faces += len(results)
        self.stats.masked += sum(r.label == WITH_MASK for r in results)
        self._emit(record, f"{_where(path, frame_index)}: {_summary(results)}")
        if self.progress_every and self.stats.units % self.progress_every == 0:
            log.info("progress: %d images, %d video frames, %d faces, %d errors (%.1f per s)",
                     self.stats.images, self.stats.frames, self.stats.faces, self.stats.errors, self.stats.rate())

    def error(self, path: Path, message: str, frame_index: Optional[int] = None) -> None:
        self.stats.errors += 1
        record: dict = {"path": str(path)}
        if frame_index is not None:
            record["frame"] = frame_index
        record["error"] = message
        log.warning("%s", message)
        self._emit(record, f"{_where(path, frame_index)}: error: {message}")


def _where(path: Path, frame_index: Optional[int]) -> str:
    return str(path) if frame_index is None else f"{path} frame {frame_index}"


def _summary(results: list[FaceResult]) -> str:
    if not results:
        return "no face"
    faces = "; ".join(f"{label_text(r)} at {list(r.box)}" for r in results)
    return f"{len(results)} face{'s' if len(results) > 1 else ''}: {faces}"


def iter_inputs(paths: list[str]) -> Iterator[tuple[Path, Path]]:
    """(file, name relative to what the user gave) for every image or video, lazily."""
    for given in map(Path, paths):
        for path in iter_media_files([given], MEDIA_EXTENSIONS):
            yield path, (path.relative_to(given) if given.is_dir() else Path(path.name))


def _write_image(path: Path, image: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        written = cv2.imwrite(str(path), image)
    except cv2.error:
        written = False
    if not written:
        fallback = path.with_suffix(".png")  # an extension OpenCV reads but cannot write, e.g. .pgm colour
        if not cv2.imwrite(str(fallback), image):
            raise OSError(f"cannot write annotated image {path}")
        log.warning("%s: cannot write this format; wrote %s instead", path, fallback.name)


class Analysis:
    """One analyze run: every input streamed through the pipeline, nothing accumulated."""

    def __init__(self, analyzer: FrameAnalyzer, reporter: Reporter, out_dir: Optional[Path],
                 video_tracking_every: int = 0, max_pixels: int = DEFAULT_MAX_IMAGE_PIXELS) -> None:
        self.analyzer = analyzer
        self.max_pixels = max_pixels
        self.reporter = reporter
        self.out_dir = out_dir
        self.video_tracking_every = video_tracking_every  # 0: every video frame is scanned whole

    def _video_analyzer(self) -> FrameAnalyzer:
        """A fresh analyzer per video: consecutive frames may re-find known faces in their region."""
        if not self.video_tracking_every:
            return self.analyzer
        from kiosk.vision.detection.tracking import RegionTrackingDetector

        tracker = RegionTrackingDetector(self.analyzer.detector, full_scan_every=self.video_tracking_every)
        return FrameAnalyzer(tracker, self.analyzer.classifier)

    def _out_path(self, source: Path, relative: Path) -> Optional[Path]:
        if self.out_dir is None:
            return None
        target = self.out_dir / relative
        if target.resolve() == source.resolve():
            log.warning("%s: not overwriting the input with its annotated copy; choose another --out", source)
            return None
        return target

    def image(self, source: Path, relative: Path) -> None:
        try:
            frame = read_image(source, self.max_pixels)
            results = self.analyzer.analyze(frame)
        except Exception as exc:  # one bad file never stops the run
            self.reporter.error(source, error_line(source, exc))
            return
        self.reporter.faces(source, None, results)
        target = self._out_path(source, relative)
        if target is not None:
            try:
                _write_image(target, draw_results(frame, results))
            except OSError as exc:
                log.error("%s", exc)

    @staticmethod
    def _write_frame(writer: VideoWriter, frame: np.ndarray) -> Optional[VideoWriter]:
        """Write one annotated frame; on a disk problem stop writing but keep analysing."""
        try:
            writer.write(frame)
            return writer
        except (OSError, KioskError) as exc:
            log.error("%s: annotated video not written: %s", writer.path, exc)
            writer.close()
            return None

    def video(self, source: Path, relative: Path) -> None:
        try:
            reader = VideoReader(source)
        except Exception as exc:
            self.reporter.error(source, error_line(source, exc))
            return
        target = self._out_path(source, relative)
        writer = VideoWriter(target, reader.fps) if target is not None else None
        log.info("%s: video, %s frames at %.1f fps", source, reader.frame_count or "unknown", reader.fps)
        analyzer = self._video_analyzer()
        try:
            with reader:
                for index, frame in enumerate(reader.frames()):
                    try:
                        results = analyzer.analyze(frame)
                    except Exception as exc:
                        self.reporter.error(source, error_line(source, exc), index)
                        continue
                    self.reporter.faces(source, index, results)
                    if writer is not None:
                        writer = self._write_frame(writer, draw_results(frame, results))
        except BrokenPipeError:
            raise
        except Exception as exc:
            self.reporter.error(source, error_line(source, exc))
        finally:
            if writer is not None:
                writer.close()
                if writer.frames_written:
                    log.info("wrote %s (%d frames)", writer.path, writer.frames_written)

    def run(self, paths: list[str]) -> RunStats:
        for source, relative in iter_inputs(paths):
            if is_video(source):
                self.video(source, relative)
            else:
                self.image(source, relative)
        return self.reporter.stats


def run(args: argparse.Namespace) -> int:
    if args.progress_every < 0:
        raise KioskError(f"--progress-every {args.progress_every}: must be 0 or more")
    out_dir = Path(args.out) if args.out else None
    if out_dir is not None and out_dir.exists() and not out_dir.is_dir():
        raise KioskError(f"--out {out_dir}: exists and is not a folder")
    cfg = load_command_config(args)
    analyzer = build_analyzer(cfg)
    reporter = Reporter(args.json, args.progress_every)
    tracking_every = cfg.detection.full_scan_every if cfg.detection.tracking else 0
    # a reader that closes stdout (| head) ends the run quietly: see kiosk.module_cli.run_command
    stats = Analysis(analyzer, reporter, out_dir, tracking_every, cfg.camera.max_image_pixels).run(args.paths)
    elapsed = time.perf_counter() - stats.started
    log.info("done: %d images, %d video frames, %d faces (%d with mask), %d errors in %.1f s (%.1f per s)",
             stats.images, stats.frames, stats.faces, stats.masked, stats.errors, elapsed, stats.rate())
    if stats.units == 0 and stats.errors == 0:
        log.warning("no images or videos found in %s", " ".join(args.paths))
    return 0
