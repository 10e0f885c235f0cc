"""Measure the kiosk window against its targets on this machine; prints the figures.

Usage:
    python -m tools.measure_window [--seconds 15] [--latency-loops 3] [--json]

Runs under the current DISPLAY, or re-runs itself under ``xvfb-run``. Each part is a fresh
process, so start-up and memory figures include the interpreter, the imports and the model load:

1. start-up: ``python main.py run --source demo`` (the real command): seconds from process start
   to the first frame on screen (the window logs it), resident memory, TensorFlow not loaded.
2. window: the real window on the demo feed (played at a camera's 30 fps) for ``--seconds``:
   display fps, analysis fps, the Tk event-loop lag (an ``after(10)`` tick's lateness), and the
   window's own drawing cost (how many fps it could show if analysis delivered them).
3. latency: a clean generated video (nobody, a face without a mask, nobody, a face with a mask,
   2 s each) played ``--latency-loops`` times: time from the capture of the first frame with
   the face to the decision on the banner.

Targets: first frame <= 2 s, RSS <= 300 MB, display >= 25 fps, lag p99 <= 50 ms, decision <= 500 ms.
The CPU is shared with whatever else runs; the load average is printed with the figures.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Optional, Sequence

import cv2
import numpy as np

from kiosk.config import PROJECT_ROOT, Config, with_overrides
from kiosk.ui.process_stats import loaded_libraries, memory_mb
from tools.stats import percentile

log = logging.getLogger("tools.measure_window")

LAG_TICK_MS = 10
XVFB_SCREEN = "-screen 0 1280x1024x24"
CLEAN_SEGMENT_S = 2.0  # longer than leave_after_s (a new episode) and hold_s ends before the next face
CLEAN_FPS = 25.0
RENDER_FRAMES = 60
CAMERA_FPS = 30.0  # what a USB camera delivers at 640x480
FIRST_FRAME_LOG = "first frame on screen"
TENSORFLOW_LIBRARY_HINT = "tensorflow"


# --- inputs ---------------------------------------------------------------------------------

def door_frame(kind: str, size: tuple[int, int] = (640, 480), scale: float = 0.75) -> np.ndarray:
    """One frame of a clean door scene: ``"empty"``, ``"unmasked"`` or ``"masked"`` (the portrait),
    or ``"faceless"``: a person carrying a parcel before the face, whose face no detector can find."""
    from kiosk.camera.synthetic import load_portrait, masked_portrait, person_behind_a_parcel, place_on_canvas

    if kind == "empty":
        return np.full((size[1], size[0], 3), 90, np.uint8)
    person = {"masked": masked_portrait, "faceless": person_behind_a_parcel}.get(kind, load_portrait)()
    frame, _, _ = place_on_canvas(person, size, scale=scale)
    return frame


def sway(frame: np.ndarray, i: int) -> np.ndarray:
    """Frame ``i`` of a person standing at a door, who is never pixel-still: a deterministic shift
    of a few pixels. A frozen image makes every frame the same crop, so the multi-frame vote would
    rest on one draw of the classifier instead of on many slightly different views."""
    dx, dy = round(4 * np.sin(i / 3)), round(3 * np.cos(i / 4))
    return cv2.warpAffine(frame, np.float32([[1, 0, dx], [0, 1, dy]]), (frame.shape[1], frame.shape[0]),
                          borderMode=cv2.BORDER_REPLICATE)


def write_door_video(path: Path, segments: Sequence[tuple[str, float]], fps: float = CLEAN_FPS,
                     size: tuple[int, int] = (640, 480), scale: float = 0.75, swaying: bool = False) -> Path:
    """A video of ``(kind, seconds)`` segments (see ``door_frame``), people optionally swaying;
    returns the path really written."""
    from kiosk.camera.video_io import VideoWriter

    with VideoWriter(path, fps=fps) as writer:
        for kind, seconds in segments:
            frame = door_frame(kind, size, scale)
            for i in range(max(1, round(seconds * fps))):
                writer.write(sway(frame, i) if swaying and kind != "empty" else frame)
    return writer.path


def person_visible(frame: np.ndarray) -> bool:
    """The clean video's empty frames are one flat grey; anything else has a person in it."""
    return float(frame[::8, ::8].std()) > 8.0


# --- the kiosk, built like ``main.py run`` builds it ------------------------------------------

def measurement_config(source: Any, storage_dir: Path, base: Optional[Config] = None) -> Config:
    """Defaults (or ``base``) with the given source and a throw-away event log."""
    return with_overrides(base or Config(), {
        "camera.source": source,
        "storage.database": str(storage_dir / "events.sqlite3"),
        "storage.snapshots": str(storage_dir / "snapshots"),
        "email.enabled": False,
    })


def build_window(cfg: Config, explicit_source: bool = True, source: Any = None, with_services: bool = True):
    """A ``KioskWindow`` on a real Tk root with the real analyzer, source, services and runtime.

    ``explicit_source=False`` is ``main.py run`` without ``--source``: a missing default camera
    falls back to the demo feed. ``source``: an opened ``FrameSource`` instead of the configured one.
    ``with_services=False``: no event log or email, the window counts decisions itself.
    """
    from kiosk.events.services import EventServices
    from kiosk.vision.pipeline import build_analyzer
    from kiosk.door.runtime import KioskRuntime
    from kiosk.camera.sources import open_source
    from kiosk.ui.app import KioskWindow, open_display

    analyzer = build_analyzer(cfg, video=True)
    source = source or open_source(cfg, explicit=explicit_source)
    services = EventServices(cfg, source.kind) if with_services else None
    if services is not None:
        services.start()
    runtime = KioskRuntime(cfg, analyzer, [services] if services is not None else [], source,
                           on_health=services.on_health if services is not None else None)
    root = open_display()
    window = KioskWindow(root, cfg, runtime, services)
    return root, window


class LagProbe:
    """Schedules ``after(tick)`` again and again and records how late each tick fires."""

    def __init__(self, root, tick_ms: int = LAG_TICK_MS) -> None:
        self.root = root
        self.tick_ms = tick_ms
        self.lateness_ms: list[float] = []
        self._due = 0.0

    def start(self) -> None:
        self._due = time.perf_counter() + self.tick_ms / 1000
        self.root.after(self.tick_ms, self._tick)

    def _tick(self) -> None:
        now = time.perf_counter()
        self.lateness_ms.append(max(0.0, (now - self._due) * 1000))
        self._due = now + self.tick_ms / 1000
        self.root.after(self.tick_ms, self._tick)


def render_capacity(window, frames: int = RENDER_FRAMES) -> dict:
    """Draw the last update's frame ``frames`` times back to back, as fast as Tk allows.

    This is the window's own ceiling (scale, boxes, PhotoImage, canvas redraw), apart from how
    fast the analysis delivers frames.
    """
    latest = window.latest_update
    if latest is None:
        return {}
    started, cpu_started = time.perf_counter(), time.thread_time()
    for _ in range(frames):
        window.video.show(latest.frame, latest.results)
        window.root.update_idletasks()  # the canvas redraw happens here
    wall = (time.perf_counter() - started) / frames
    cpu = (time.thread_time() - cpu_started) / frames
    return {"render_ms_per_frame": round(wall * 1000, 1), "render_cpu_ms_per_frame": round(cpu * 1000, 1),
            "render_capacity_fps": round(1 / wall, 1), "view_size": "x".join(map(str, window.video.photo_size))}


def run_window_child(seconds: float) -> dict:
    """Part 2, in this (fresh) process: the window on the demo feed, played at a camera's 30 fps.

    At the demo's own 25 fps the display could never show more than 25; at 30 fps the figure
    says whether the window keeps up with a real camera, and how much headroom is left.
    """
    from kiosk.camera.demo_feed import DemoFeed

    with tempfile.TemporaryDirectory(prefix="kiosk-measure-") as tmp:
        cfg = measurement_config("demo", Path(tmp))
        feed = DemoFeed(size=(cfg.camera.width, cfg.camera.height), fps=CAMERA_FPS)
        feed.open()
        root, window = build_window(cfg, source=feed)
        probe = LagProbe(root)
        shown: list[tuple[float, int]] = []  # (time on screen, frames analysed so far)
        behind_ms: list[float] = []  # capture -> on screen, per frame

        def on_shown(update) -> None:
            now = time.monotonic()
            shown.append((now, window.runtime.frames_analyzed))
            if update.captured_at:
                behind_ms.append((now - update.captured_at) * 1000)

        window.on_frame_shown = on_shown
        capacity: dict = {}

        def finish() -> None:  # still classifying: how fast could the window draw if frames came?
            capacity.update(render_capacity(window))
            window.close()

        window.start()
        probe.start()
        cpu_at_start = time.thread_time()
        root.after(int(seconds * 1000), finish)
        root.mainloop()
        window.close()
        ui_cpu_s = time.thread_time() - cpu_at_start
        if len(shown) < 3:
            return {"error": f"only {len(shown)} frames were shown in {seconds:g} s"}
        steady = [s for s in shown if s[0] >= shown[0][0] + 1.0] or shown  # skip the warm-up second
        span = steady[-1][0] - steady[0][0]
        per_second = np.bincount([int(t - steady[0][0]) for t, _ in steady])
        return {
            "seconds": round(span, 1),
            "frames_shown": len(shown),
            "display_fps": round((len(steady) - 1) / span, 1),
            "display_fps_worst_second": int(per_second[:-1].min()) if len(per_second) > 2 else None,
            "analysis_fps": round((steady[-1][1] - steady[0][1]) / span, 1),
            "frames_dropped_by_capture": window.runtime.frames.dropped,
            "capture_to_screen_ms_p50": round(percentile(behind_ms, 50), 1),
            "capture_to_screen_ms_p99": round(percentile(behind_ms, 99), 1),
            "ui_thread_cpu_ms_per_frame": round(ui_cpu_s * 1000 / len(shown), 1),
            **capacity,
            "lag_ms_p50": round(percentile(probe.lateness_ms, 50), 1),
            "lag_ms_p99": round(percentile(probe.lateness_ms, 99), 1),
            "lag_ms_max": round(max(probe.lateness_ms, default=float("nan")), 1),
            "decisions": window.decisions_seen,
        }


def run_latency_child(loops: int) -> dict:
    """Part 3, in this (fresh) process: face appears -> decision on the banner, on a clean video."""
    with tempfile.TemporaryDirectory(prefix="kiosk-measure-") as tmp:
        segments = [("empty", CLEAN_SEGMENT_S), ("unmasked", CLEAN_SEGMENT_S),
                    ("empty", CLEAN_SEGMENT_S), ("masked", CLEAN_SEGMENT_S)] * loops
        video = write_door_video(Path(tmp) / "door.mp4", segments + [("empty", 0.5)])
        base = with_overrides(Config(), {"camera.loop": False})
        cfg = measurement_config(str(video), Path(tmp), base)
        root, window = build_window(cfg)
        samples: list[dict] = []
        visit: dict[str, Any] = {"appeared": None, "decisions": None}  # the current person's visit

        def on_shown(update) -> None:
            now = time.monotonic()  # the runtime stamps captured_at with the same clock
            if update.source_state == "ended":
                root.after(0, window.close)
            if not person_visible(update.frame):
                visit.update(appeared=None, decisions=None)
                return
            if visit["appeared"] is None:  # from the moment the camera caught the face
                visit.update(appeared=update.captured_at or now, decisions=window.decisions_seen)
            elif visit["decisions"] is not None and window.decisions_seen > visit["decisions"]:
                # a decision made during this visit (not the previous person's, still held on screen)
                samples.append({"decision": window.banner.state, "ms": round((now - visit["appeared"]) * 1000, 1)})
                visit["decisions"] = None

        window.on_frame_shown = on_shown
        window.start()
        root.after(int((len(segments) * CLEAN_SEGMENT_S + 10) * 1000), window.close)
        root.mainloop()
        window.close()
        values = [s["ms"] for s in samples]
        return {
            "appearances": 2 * loops,
            "decided": len(samples),
            "samples": samples,
            "latency_ms_median": round(float(np.median(values)), 1) if values else None,
            "latency_ms_max": max(values) if values else None,
        }


# --- part 1 and the parent --------------------------------------------------------------------

def run_startup(seconds: float, env: dict) -> dict:
    """Part 1: the real ``main.py run --source demo``; first-frame time from its log, memory from /proc."""
    with tempfile.TemporaryDirectory(prefix="kiosk-measure-") as tmp:
        config = Path(tmp) / "kiosk.toml"
        config.write_text(
            f'[storage]\ndatabase = "{Path(tmp) / "events.sqlite3"}"\nsnapshots = "{Path(tmp) / "snapshots"}"\n'
        )
        command = [sys.executable, str(PROJECT_ROOT / "main.py"), "run", "--source", "demo", "--config", str(config)]
        proc = subprocess.Popen(command, cwd=tmp, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                text=True)
        first_frame_s: Optional[float] = None
        lines: list[str] = []
        assert proc.stderr is not None
        os.set_blocking(proc.stderr.fileno(), False)
        deadline = time.monotonic() + seconds
        peak_rss = 0.0
        tensorflow_loaded = False
        while time.monotonic() < deadline and proc.poll() is None:
            for line in iter(proc.stderr.readline, ""):
                lines.append(line.rstrip())
                if FIRST_FRAME_LOG in line and first_frame_s is None:
                    words = line.split(FIRST_FRAME_LOG, 1)[1].split()
                    first_frame_s = float(words[0]) if words and words[1:2] == ["s"] else None
            peak_rss = max(peak_rss, memory_mb(proc.pid).get("rss", 0.0))
            tensorflow_loaded = tensorflow_loaded or any(TENSORFLOW_LIBRARY_HINT in lib for lib in loaded_libraries(proc.pid))
            time.sleep(0.2)
        exit_code = proc.poll()
        if exit_code is None:
            peak_rss = max(peak_rss, memory_mb(proc.pid).get("peak", 0.0))
            proc.send_signal(signal.SIGINT)  # the window closes as on Ctrl+Q: runtime, then services
            try:
                exit_code = proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                exit_code = proc.wait()
        return {
            "command": " ".join(["python", "main.py", "run", "--source", "demo"]),
            "first_frame_s": first_frame_s,
            "rss_peak_mb": round(peak_rss, 1),
            "tensorflow_loaded": tensorflow_loaded,
            "exit_code": exit_code,
            "log_tail": lines[-3:] if first_frame_s is None else [],
        }


def run_child(part: str, argument: float, env: dict) -> dict:
    command = [sys.executable, "-m", "tools.measure_window", "--child", part, "--child-arg", str(argument)]
    done = subprocess.run(command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300)
    if done.returncode != 0 or not done.stdout.strip():
        return {"error": (done.stderr.strip().splitlines() or ["no output"])[-1]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def report(figures: dict) -> str:
    s, w, l = figures["startup"], figures["window"], figures["latency"]

    def verdict(ok: Optional[bool]) -> str:
        return "" if ok is None else ("  ok" if ok else "  MISSED")

    def get(d: dict, key: str) -> Any:
        return d.get(key) if isinstance(d, dict) else None

    first = get(s, "first_frame_s")
    rss = get(s, "rss_peak_mb")
    fps = get(w, "display_fps")
    lag = get(w, "lag_ms_p99")
    lat = get(l, "latency_ms_max")
    lines = [
        f"kiosk window on {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f} at the end",
        f"start-up ({get(s, 'command')}):",
        f"  first frame on screen   {first} s after process start (target <= 2 s){verdict(first is not None and first <= 2)}",
        f"  resident memory (peak)  {rss} MB (target <= 300 MB){verdict(rss is not None and rss <= 300)}",
        f"  TensorFlow loaded       {get(s, 'tensorflow_loaded')}",
        f"window on the demo feed at {CAMERA_FPS:g} fps ({get(w, 'seconds')} s, 640x480):",
        f"  display fps             {fps} (worst second {get(w, 'display_fps_worst_second')}) (target >= 25){verdict(fps is not None and fps >= 25)}",
        f"  analysis fps            {get(w, 'analysis_fps')}",
        f"  Tk event-loop lag       p50 {get(w, 'lag_ms_p50')} ms, p99 {lag} ms, max {get(w, 'lag_ms_max')} ms "
        f"(target p99 <= 50 ms){verdict(lag is not None and lag <= 50)}",
        f"  window drawing alone    {get(w, 'render_ms_per_frame')} ms/frame at {get(w, 'view_size')} "
        f"({get(w, 'render_cpu_ms_per_frame')} ms CPU) = up to {get(w, 'render_capacity_fps')} fps",
        f"  UI thread CPU           {get(w, 'ui_thread_cpu_ms_per_frame')} ms per frame shown",
        f"  capture -> screen       p50 {get(w, 'capture_to_screen_ms_p50')} ms, p99 {get(w, 'capture_to_screen_ms_p99')} ms",
        f"  decisions               {get(w, 'decisions')}",
        "decision latency on a clean video (face captured -> decision on the banner):",
        f"  decided                 {get(l, 'decided')} of {get(l, 'appearances')} appearances",
        f"  latency                 median {get(l, 'latency_ms_median')} ms, max {lat} ms "
        f"(target <= 500 ms){verdict(lat is not None and lat <= 500)}",
        "  samples                 " + ", ".join(f"{x['decision']} {x['ms']:.0f} ms" for x in (get(l, "samples") or [])),
    ]
    for name, part in figures.items():
        if isinstance(part, dict) and part.get("error"):
            lines.append(f"{name} failed: {part['error']}")
        if isinstance(part, dict) and part.get("log_tail"):
            lines.append(f"{name} log: " + " | ".join(part["log_tail"]))
    return "\n".join(lines)


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.measure_window", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=15.0, help="how long each window runs (default 15)")
    parser.add_argument("--latency-loops", type=int, default=3, help="clean-video loops, two faces each (default 3)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON instead of a table")
    parser.add_argument("--child", choices=["window", "latency"], help=argparse.SUPPRESS)
    parser.add_argument("--child-arg", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")

    if args.child == "window":
        print(json.dumps(run_window_child(args.child_arg)))
        return 0
    if args.child == "latency":
        print(json.dumps(run_latency_child(int(args.child_arg))))
        return 0

    if not os.environ.get("DISPLAY"):  # no X server here: run again inside a virtual one
        if shutil.which("xvfb-run") is None:
            raise SystemExit("error: no DISPLAY and no xvfb-run (apt-get install xvfb)")
        command = [sys.executable, "-m", "tools.measure_window", *(sys.argv[1:] if argv is None else argv)]
        return subprocess.call(["xvfb-run", "-a", "-s", XVFB_SCREEN, *command], cwd=PROJECT_ROOT)

    env = dict(os.environ, PYTHONPATH=str(PROJECT_ROOT))
    figures = {
        "startup": run_startup(max(4.0, args.seconds / 2), env),
        "window": run_child("window", args.seconds, env),
        "latency": run_child("latency", args.latency_loops, env),
    }
    print(json.dumps(figures, indent=2) if args.json else report(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
