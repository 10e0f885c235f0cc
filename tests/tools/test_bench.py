"""Smoke test of ``python -m tools.bench``: it runs end to end and prints every section.
(The figures themselves are shown by running it, never asserted.)"""

from __future__ import annotations

import subprocess
import sys

from kiosk.vision.model_spec import KERAS_MODEL_NAME

from tests.helpers import PROJECT_ROOT


def test_bench_runs_and_prints_every_section(model_dir):
    proc = subprocess.run([sys.executable, "-m", "tools.bench", "--frames", "3", "--video-frames", "6",
                           "--model", str(model_dir)],
                          cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=280)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = proc.stdout
    assert "== Pipeline, 1 thread, 640x480" in out
    for scene in ("0 faces", "1 face", "3 faces"):
        for stage in ("detection", "classification", "pipeline"):
            assert any(line.startswith(scene) and stage in line for line in out.splitlines()), (scene, stage)
    assert "== The seeds' way" in out
    assert "== Whole analyze run on a video of a generated door scene" in out
    assert "ours : main.py analyze" in out and "(6 lines, exit 0" in out
    if (model_dir / KERAS_MODEL_NAME).is_file():
        assert "whole frame" in out and "import tensorflow + load" in out
        assert "speed-up: " in out and "x (whole run, start-up included)" in out
    else:
        assert "skipped: no Keras model" in out


def test_the_whole_run_video_can_be_made_of_photos(tmp_path, model_dir, portrait, masked_portrait):
    import cv2

    for i, image in enumerate((portrait, masked_portrait, portrait[::2, ::2])):
        cv2.imwrite(str(tmp_path / f"photo{i}.jpg"), image)
    proc = subprocess.run([sys.executable, "-m", "tools.bench", "--frames", "2", "--video-frames", "12",
                           "--skip-seeds", "--photos", str(tmp_path), "--model", str(model_dir)],
                          cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=280)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "== Whole analyze run on a video of real photos" in proc.stdout
    assert f"real photos from {tmp_path}, 5 frames each" in proc.stdout
    assert "(12 lines, exit 0" in proc.stdout  # 3 photos x 5 frames, cut at 12
