"""Soak run of ``main.py analyze`` over a big folder: memory stays flat, bad files never stop it.

    python -m tools.analyze_soak [--files 1000] [--corrupt 25] [--size 320x240] [--keep DIR]

Generates a folder tree of photos (some of them corrupt), runs the real command as a
subprocess with ``--json``, samples its resident memory (VmRSS in /proc/PID/status) while it
runs, and prints the records, errors, exit code and the RSS at the first, middle and last
record plus its maximum. Flat RSS from the middle to the end means nothing accumulates.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import cv2
import numpy as np

from kiosk.config import PROJECT_ROOT
from kiosk.camera.synthetic import load_portrait, masked_portrait, place_on_canvas

PHOTOS_PER_FOLDER = 100


def photo_variants(size: tuple[int, int]) -> list[bytes]:
    """A few different JPEG photos (masked / unmasked, moved, scaled), encoded once."""
    width, height = size
    fit = height / 600  # the portrait is 600 px tall
    variants = []
    for image in (load_portrait(), masked_portrait()):
        for scale, dx in ((0.95, 0), (0.7, -width // 6), (0.6, width // 6), (0.8, width // 10)):
            frame, _, _ = place_on_canvas(image, size, scale * fit, (dx, 0))
            ok, data = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 90])
            variants.append(data.tobytes())
    return variants


def corrupt_bytes(kind: int, good: bytes) -> bytes:
    """Four ways a photo can be broken: empty, truncated, random bytes, text with a .jpg name."""
    return [b"", good[: len(good) // 3], np.random.default_rng(kind).bytes(2048), b"not a photo\n"][kind % 4]


def make_photo_folder(root: Path, files: int, corrupt: int, size: tuple[int, int]) -> list[Path]:
    """Write ``files`` photos in sub-folders of ``root``, ``corrupt`` of them broken; returns the broken ones."""
    variants = photo_variants(size)
    broken_at = set(np.linspace(0, files - 1, corrupt, dtype=int).tolist()) if corrupt else set()
    broken = []
    for i in range(files):
        path = root / f"batch_{i // PHOTOS_PER_FOLDER:03d}" / f"photo_{i:05d}.jpg"
        path.parent.mkdir(parents=True, exist_ok=True)
        good = variants[i % len(variants)]
        if i in broken_at:
            path.write_bytes(corrupt_bytes(len(broken), good))
            broken.append(path)
        else:
            path.write_bytes(good)
    return broken


def rss_kb(pid: int) -> Optional[int]:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


@dataclass
class SoakResult:
    exit_code: int
    records: int = 0
    errors: int = 0
    error_paths: list[str] = field(default_factory=list)
    rss_at_record: list[int] = field(default_factory=list)  # kB, sampled as records arrive
    rss_max_kb: int = 0
    seconds: float = 0.0


def run_analyze(folder: Path, extra_args: list[str], interval_s: float = 0.1) -> SoakResult:
    """Run ``main.py analyze FOLDER --json`` and watch its memory and output while it works."""
    command = [sys.executable, str(PROJECT_ROOT / "main.py"), "analyze", str(folder), "--json",
               "--log-level", "WARNING", *extra_args]
    started = time.perf_counter()
    proc = subprocess.Popen(command, cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    peak = [0]
    done = threading.Event()

    def watch() -> None:  # a sampler thread, so a slow consumer cannot miss a peak
        while not done.wait(interval_s):
            value = rss_kb(proc.pid)
            if value:
                peak[0] = max(peak[0], value)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    result = SoakResult(exit_code=-1)
    for line in proc.stdout:  # type: ignore[union-attr]
        record = json.loads(line)
        result.records += 1
        if "error" in record:
            result.errors += 1
            result.error_paths.append(record["path"])
        value = rss_kb(proc.pid)
        if value:
            result.rss_at_record.append(value)
            peak[0] = max(peak[0], value)
    result.exit_code = proc.wait()
    done.set()
    watcher.join()
    result.rss_max_kb = peak[0]
    result.seconds = time.perf_counter() - started
    return result


def describe(result: SoakResult, broken: int) -> str:
    samples = result.rss_at_record or [0]
    first, middle, last = samples[0], samples[len(samples) // 2], samples[-1]
    return "\n".join([
        f"records: {result.records} ({result.errors} errors; {broken} files were made corrupt), exit code {result.exit_code}",
        f"time: {result.seconds:.1f} s ({result.records / max(result.seconds, 1e-9):.1f} files/s, start-up included)",
        f"RSS MB at first record {first / 1024:.1f}, middle {middle / 1024:.1f}, last {last / 1024:.1f}, "
        f"max {result.rss_max_kb / 1024:.1f}; growth middle->last {(last - middle) / 1024:+.1f} MB",
    ])


def parse_size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must be WIDTHxHEIGHT, e.g. 320x240, not {text!r}") from None
    return width, height


def main(argv: Optional[list[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.analyze_soak", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=1000, help="photos to generate (default 1000)")
    parser.add_argument("--corrupt", type=int, default=25, help="how many of them are broken (default 25)")
    parser.add_argument("--size", type=parse_size, default=(320, 240), help="photo size (default 320x240)")
    parser.add_argument("--keep", metavar="DIR", help="generate the photos here and keep them")
    parser.add_argument("analyze_args", nargs=argparse.REMAINDER, help="extra options for analyze after --")
    args = parser.parse_args(argv)
    if not 0 <= args.corrupt <= args.files:
        parser.error("--corrupt must be between 0 and --files")
    extra = [a for a in args.analyze_args if a != "--"]
    with tempfile.TemporaryDirectory(prefix="kiosk-soak-") as tmp:
        folder = Path(args.keep) if args.keep else Path(tmp) / "photos"
        broken = make_photo_folder(folder, args.files, args.corrupt, args.size)
        print(f"analyze {folder}: {args.files} photos {args.size[0]}x{args.size[1]}, {len(broken)} corrupt")
        result = run_analyze(folder, extra)
    print(describe(result, len(broken)))
    return 0 if result.exit_code == 0 and result.records == args.files else 1


if __name__ == "__main__":
    sys.exit(main())
