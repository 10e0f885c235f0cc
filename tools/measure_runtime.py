"""Measure the kiosk runtime (no window) against its targets on this machine; prints the figures.

Usage:
    python -m tools.measure_runtime [--loops 2] [--model DIR] [--detector NAME] [--json]

1. start-up: seconds from process start (interpreter, imports and model load included) to the
   first analysed ``FrameUpdate`` of the demo feed, resident memory, and whether TensorFlow got in.
2. decision latency: the real-time runtime on the demo feed (paced at 25 fps, latest-frame
   semantics, the default decision settings): time from the capture of the first frame in which the
   face is fully visible (or the first frame with the mask on) to the update carrying the decision.
3. headless throughput: a lossless replay of a generated 8 s door video (every frame analysed).

The window's own figures (first frame on screen, display fps) come from ``python -m tools.measure_window``.
The CPU may be shared with other work: the load average is printed with the figures.
"""

from __future__ import annotations

import time

_T0 = time.perf_counter()

import argparse  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Optional  # noqa: E402

import numpy as np  # noqa: E402

from kiosk.config import Config, load_config, with_overrides  # noqa: E402
from kiosk.ui.process_stats import memory_mb, process_age_s  # noqa: E402

log = logging.getLogger("tools.measure_runtime")


def _first_face_indexes(demo) -> dict[str, int]:
    """Per loop of the demo: the first frame with the whole face in view, and the first masked frame."""
    from kiosk.camera.demo_feed import LOOP_SECONDS

    width, height = demo.size
    first: dict[str, int] = {}
    for index in range(round(LOOP_SECONDS * demo.fps)):
        phase, box = demo.layout(index)
        if box is None or "denied" in first and "granted" in first:
            continue
        inside = box[0] >= 0 and box[1] >= 0 and box[0] + box[2] <= width and box[1] + box[3] <= height
        if inside and not phase.masked:
            first.setdefault("denied", index)
        if phase.masked and phase.name == "masked":
            first.setdefault("granted", index)
    return first


def measure_live_demo(cfg: Config, analyzer, loops: int) -> dict:
    from kiosk.camera.demo_feed import LOOP_SECONDS, DemoFeed
    from kiosk.door.runtime import KioskRuntime

    demo = DemoFeed(size=(cfg.camera.width, cfg.camera.height))
    demo.open()
    loop_frames = round(LOOP_SECONDS * demo.fps)
    first_face = _first_face_indexes(demo)
    runtime = KioskRuntime(cfg, analyzer, [], demo)
    runtime.start()
    figures: dict = {"latency_ms": {"denied": [], "granted": []}, "unexpected_decisions": []}
    capture_start: Optional[float] = None
    started = time.monotonic()
    deadline = started + loops * LOOP_SECONDS + 2.0
    try:
        while time.monotonic() < deadline:
            try:
                update = runtime.updates.get(timeout=0.05)
            except Exception:
                continue
            received = time.monotonic()
            if capture_start is None and update.captured_at:
                capture_start = update.captured_at - update.frame_index / demo.fps
                figures["first_update_process_age_s"] = process_age_s()
                figures["first_update_rss_mb"] = memory_mb().get("rss")
            if update.decision is None or capture_start is None:
                continue
            kind = update.decision.decision
            loop_index = update.frame_index // loop_frames
            start_index = first_face.get(kind, 0) + loop_index * loop_frames
            if update.frame_index < start_index:
                figures["unexpected_decisions"].append((kind, update.frame_index))
                continue
            face_seen_at = capture_start + start_index / demo.fps
            figures["latency_ms"][kind].append(round((received - face_seen_at) * 1000))
    finally:
        runtime.stop()
    figures["analysis_fps"] = round(runtime.frames_analyzed / (time.monotonic() - started), 1)
    figures["frames_analysed"] = runtime.frames_analyzed
    figures["frames_dropped_by_capture"] = runtime.frames.dropped
    return figures


def measure_headless_file(cfg: Config, analyzer) -> dict:
    import io

    from kiosk.door.headless import build_headless_runtime, run_headless
    from kiosk.camera.sources import open_source
    from kiosk.camera.synthetic import load_portrait, masked_portrait, place_on_canvas
    from kiosk.camera.video_io import VideoWriter

    size = (cfg.camera.width, cfg.camera.height)
    with tempfile.TemporaryDirectory() as folder:
        blank = np.full((size[1], size[0], 3), 90, np.uint8)
        unmasked, _, _ = place_on_canvas(load_portrait(), size, 0.8)
        masked, _, _ = place_on_canvas(masked_portrait(), size, 0.8)
        with VideoWriter(Path(folder) / "door.mp4", 25.0) as writer:
            for frame, seconds in ((blank, 1), (unmasked, 3), (blank, 1), (masked, 3)):
                for _ in range(seconds * 25):
                    writer.write(frame)
            path = writer.path
        file_cfg = with_overrides(cfg, {"camera.source": str(path)})
        out = io.StringIO()
        runtime = build_headless_runtime(file_cfg, analyzer, open_source(file_cfg), stream=out)
        started, cpu_started = time.perf_counter(), time.process_time()
        run_headless(runtime)
        seconds = time.perf_counter() - started
        cpu_ms = (time.process_time() - cpu_started) * 1000 / max(1, runtime.frames_analyzed)
    decisions = [json.loads(line)["decision"] for line in out.getvalue().splitlines()]
    return {"frames": runtime.frames_analyzed, "seconds": round(seconds, 2),
            "frames_per_s": round(runtime.frames_analyzed / seconds, 1), "cpu_ms_per_frame": round(cpu_ms, 1),
            "decisions": decisions}


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--loops", type=int, default=2, help="demo loops for the latency figure (~11 s each)")
    parser.add_argument("--config", help="config file (default: built-in defaults)")
    parser.add_argument("--model", help="model folder")
    parser.add_argument("--detector", help="face detector")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON object")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    from kiosk.vision.pipeline import build_analyzer

    cfg = load_config(Path(args.config)) if args.config else Config()
    cfg = with_overrides(cfg, {"model.dir": str(Path(args.model).resolve()) if args.model else None,
                               "detection.detector": args.detector})
    analyzer = build_analyzer(cfg, video=True)
    live = measure_live_demo(cfg, analyzer, args.loops)
    figures = {
        "detector": analyzer.detector.name,
        "startup_s_to_first_analysed_frame": round(live.pop("first_update_process_age_s") or 0.0, 2),
        "rss_mb_at_first_frame": round(live.pop("first_update_rss_mb") or 0.0, 1),
        **live,
        "headless_file": measure_headless_file(cfg, analyzer),
        "rss_mb_end": round(memory_mb().get("rss", 0.0), 1),
        "peak_rss_mb": round(memory_mb().get("peak", 0.0), 1),
        "tensorflow_imported": "tensorflow" in sys.modules,
        "load_average": os.getloadavg(),
        "cpus": os.cpu_count(),
    }
    if args.json:
        print(json.dumps(figures))
        return 0
    latency = figures["latency_ms"]
    print(f"detector                         {figures['detector']}")
    print(f"start -> first analysed frame    {figures['startup_s_to_first_analysed_frame']:.2f} s  (target <= 2 s)")
    print(f"RSS at first frame / end / peak  {figures['rss_mb_at_first_frame']:.0f} / {figures['rss_mb_end']:.0f} / "
          f"{figures['peak_rss_mb']:.0f} MB  (target <= 300 MB)")
    print(f"TensorFlow imported              {figures['tensorflow_imported']}")
    print(f"analysis fps (live demo, 25 fps) {figures['analysis_fps']:.1f}  "
          f"({figures['frames_analysed']} analysed, {figures['frames_dropped_by_capture']} dropped as stale)")
    for kind in ("denied", "granted"):
        values = latency[kind]
        shown = ", ".join(map(str, values)) if values else "none decided"
        print(f"face -> {kind:<8} latency         {shown} ms  (target <= 500 ms)")
    if figures["unexpected_decisions"]:
        print(f"decisions before their face      {figures['unexpected_decisions']}")
    h = figures["headless_file"]
    print(f"headless replay (8 s video)      {h['frames']} frames in {h['seconds']} s = {h['frames_per_s']} frames/s, "
          f"{h['cpu_ms_per_frame']} ms CPU/frame, decisions {h['decisions']}")
    print(f"load average                     {', '.join(f'{v:.1f}' for v in figures['load_average'])} "
          f"on {figures['cpus']} CPUs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
