"""Pictures no camera makes (5000x1, 1x1, 100000 px wide) find no face and raise nothing."""

from __future__ import annotations

import numpy as np
import pytest

from kiosk.config import Config, with_overrides
from kiosk.vision.pipeline import build_analyzer
from kiosk.vision.preprocessing import resize_by

SHAPES = [(1, 5000), (5000, 1), (1, 1), (2, 3), (3, 700), (1, 40), (1, 100000), (400, 16000)]


def test_resize_by_keeps_at_least_one_pixel_and_matches_opencv_otherwise():
    import cv2

    assert resize_by(np.zeros((1, 5000), np.uint8), 0.064).shape == (1, 320)
    assert resize_by(np.zeros((5000, 1, 3), np.uint8), 0.01).shape == (50, 1, 3)
    frame = np.random.default_rng(1).integers(0, 256, (333, 517, 3), np.uint8)
    expected = cv2.resize(frame, None, fx=0.37, fy=0.37, interpolation=cv2.INTER_AREA)
    assert np.array_equal(resize_by(frame, 0.37), expected)


@pytest.mark.parametrize("detector", ["blazeface", "haar", "haar-stock"])
@pytest.mark.parametrize("video", [False, True], ids=["photo", "video"])
def test_degenerate_pictures_have_no_faces(detector, video, model_dir):
    cfg = with_overrides(Config(), {"model.dir": str(model_dir), "detection.detector": detector})
    analyzer = build_analyzer(cfg, video=video)
    for height, width in SHAPES:
        for _ in range(3):  # video: tracking and the motion gate see it more than once
            assert analyzer.analyze(np.full((height, width, 3), 128, np.uint8)) == []
